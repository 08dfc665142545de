//! Composite evaluators: combine children's results into one score.

use serde_json::{Map, Value};

use crate::{EvalError, EvalFuture, EvalInput, EvalResult, EvalValue, Evaluator, PassCriteria};

/// How children's results are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Σ wᵢ·xᵢ / Σ wᵢ over the children's numeric values (booleans count 1/0).
    WeightedMean,
    /// The smallest numeric value.
    Min,
    /// The largest numeric value.
    Max,
    /// `true` when every child passed.
    AllPass,
    /// `true` when at least one child passed.
    AnyPass,
}

struct Child {
    evaluator: Box<dyn Evaluator>,
    weight: f64,
}

/// A composite of evaluators; composites nest (a composite is an [`Evaluator`]).
///
/// Each child is scored with [`Evaluator::score`], so its own pass criteria apply;
/// for `AllPass` / `AnyPass` a child without a resolved `passed` counts by its
/// value (`true`, or a number equal to 1). The children's results are in the extra
/// field `children` (`{name: {score, passed}}`). A failing child fails the composite.
///
/// ```
/// use honeyhive_evals::{Composite, Combine, EvalInput, Evaluator, PassCriteria};
/// use honeyhive_evals::metrics::{Rouge, RougeKind, JsonValid, TokenF1};
/// use serde_json::json;
/// let quality = Composite::new("quality", Combine::WeightedMean)
///     .child(Rouge::new(RougeKind::RougeL), 2.0)
///     .child(TokenF1::new(), 1.0)
///     .passing(PassCriteria::AtLeast(0.5));
/// let gate = Composite::new("gate", Combine::AllPass).child(quality, 1.0).child(JsonValid::new(), 1.0);
/// let (out, inp, truth) = (json!("the cat sat"), json!({}), json!("the cat sat"));
/// let r = gate.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert_eq!(r.passed, Some(false)); // "the cat sat" is not valid JSON
/// ```
pub struct Composite {
    name: String,
    combine: Combine,
    children: Vec<Child>,
    criteria: Option<PassCriteria>,
}

impl std::fmt::Debug for Composite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composite")
            .field("name", &self.name)
            .field("combine", &self.combine)
            .field(
                "children",
                &self
                    .children
                    .iter()
                    .map(|c| c.evaluator.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Composite {
    /// An empty composite; all-pass / any-pass composites pass on their own verdict.
    pub fn new(name: impl Into<String>, combine: Combine) -> Self {
        let criteria = match combine {
            Combine::AllPass | Combine::AnyPass => Some(PassCriteria::IsTrue),
            _ => None,
        };
        Composite {
            name: name.into(),
            combine,
            children: Vec::new(),
            criteria,
        }
    }

    /// Adds a child with a weight (only `WeightedMean` uses weights).
    pub fn child(mut self, evaluator: impl Evaluator + 'static, weight: f64) -> Self {
        self.children.push(Child {
            evaluator: Box::new(evaluator),
            weight,
        });
        self
    }

    /// Adds an already boxed child.
    pub fn boxed_child(mut self, evaluator: Box<dyn Evaluator>, weight: f64) -> Self {
        self.children.push(Child { evaluator, weight });
        self
    }

    /// Sets the composite's own pass criteria (for numeric combinations).
    pub fn passing(mut self, criteria: PassCriteria) -> Self {
        self.criteria = Some(criteria);
        self
    }

    fn combine(&self, results: Vec<(String, f64, EvalResult)>) -> Result<EvalResult, EvalError> {
        if results.is_empty() {
            return Err(EvalError::invalid_input(
                &self.name,
                "composite has no children",
            ));
        }
        let mut details = Map::new();
        for (name, _, r) in &results {
            let mut entry = Map::new();
            entry.insert("score".into(), r.value.to_json());
            if let Some(p) = r.passed {
                entry.insert("passed".into(), p.into());
            }
            details.insert(name.clone(), Value::Object(entry));
        }
        let numeric =
            |(name, weight, r): &(String, f64, EvalResult)| -> Result<(f64, f64), EvalError> {
                r.value.as_f64().map(|x| (x, *weight)).ok_or_else(|| {
                    EvalError::invalid_input(
                        &self.name,
                        format!("child {name} has a non-numeric score"),
                    )
                })
            };
        let passed = |(_, _, r): &(String, f64, EvalResult)| {
            r.passed.unwrap_or(
                matches!(r.value, EvalValue::Bool(true)) || r.value == EvalValue::Number(1.0),
            )
        };
        let value = match self.combine {
            Combine::WeightedMean => {
                let pairs = results.iter().map(numeric).collect::<Result<Vec<_>, _>>()?;
                let total_weight: f64 = pairs.iter().map(|(_, w)| w).sum();
                if total_weight <= 0.0 {
                    return Err(EvalError::invalid_input(
                        &self.name,
                        "weights must sum to a positive number",
                    ));
                }
                EvalValue::Number(pairs.iter().map(|(x, w)| x * w).sum::<f64>() / total_weight)
            }
            Combine::Min | Combine::Max => {
                let values = results.iter().map(numeric).collect::<Result<Vec<_>, _>>()?;
                let fold = if self.combine == Combine::Min {
                    f64::min
                } else {
                    f64::max
                };
                let init = if self.combine == Combine::Min {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                };
                EvalValue::Number(values.iter().map(|(x, _)| *x).fold(init, fold))
            }
            Combine::AllPass => EvalValue::Bool(results.iter().all(passed)),
            Combine::AnyPass => EvalValue::Bool(results.iter().any(passed)),
        };
        let mut result = EvalResult::new(value);
        result
            .extra
            .insert("children".into(), Value::Object(details));
        Ok(result)
    }

    fn child_error(&self, child: &str, source: EvalError) -> EvalError {
        EvalError::Child {
            composite: self.name.clone(),
            child: child.to_string(),
            source: Box::new(source),
        }
    }
}

impl Evaluator for Composite {
    fn name(&self) -> &str {
        &self.name
    }
    fn needs_ground_truth(&self) -> bool {
        self.children
            .iter()
            .any(|c| c.evaluator.needs_ground_truth())
    }
    fn pass_criteria(&self) -> Option<&PassCriteria> {
        self.criteria.as_ref()
    }
    fn evaluate(&self, input: &EvalInput<'_>) -> Result<EvalResult, EvalError> {
        let mut results = Vec::with_capacity(self.children.len());
        for child in &self.children {
            let name = child.evaluator.name().to_string();
            let result = child
                .evaluator
                .score(input)
                .map_err(|e| self.child_error(&name, e))?;
            results.push((name, child.weight, result));
        }
        self.combine(results)
    }
    fn evaluate_async<'a>(&'a self, input: EvalInput<'a>) -> EvalFuture<'a> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(self.children.len());
            for child in &self.children {
                let name = child.evaluator.name().to_string();
                let result = child
                    .evaluator
                    .score_async(input)
                    .await
                    .map_err(|e| self.child_error(&name, e))?;
                results.push((name, child.weight, result));
            }
            self.combine(results)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FnEvaluator;
    use serde_json::json;

    fn constant(name: &str, value: f64) -> FnEvaluator {
        FnEvaluator::new(name, move |_| Ok(EvalResult::number(value)))
    }

    fn run(eval: &Composite) -> Result<EvalResult, EvalError> {
        let (out, inp) = (json!("x"), json!({}));
        eval.score(&EvalInput::new(&out, &inp))
    }

    #[test]
    fn weighted_mean_min_max() {
        let mean = Composite::new("m", Combine::WeightedMean)
            .child(constant("a", 1.0), 3.0)
            .child(constant("b", 0.0), 1.0)
            .passing(PassCriteria::AtLeast(0.7));
        let r = run(&mean).unwrap();
        assert_eq!(r.value, EvalValue::Number(0.75));
        assert_eq!(r.passed, Some(true));
        assert_eq!(r.extra["children"]["b"]["score"], json!(0.0));
        let min = Composite::new("lo", Combine::Min)
            .child(constant("a", 0.2), 1.0)
            .child(constant("b", 0.9), 1.0);
        assert_eq!(run(&min).unwrap().value, EvalValue::Number(0.2));
        let max = Composite::new("hi", Combine::Max)
            .child(constant("a", 0.2), 1.0)
            .child(constant("b", 0.9), 1.0);
        assert_eq!(run(&max).unwrap().value, EvalValue::Number(0.9));
    }

    #[test]
    fn all_and_any_pass_use_child_criteria_and_nest() {
        let strict = constant("a", 0.6).passing(PassCriteria::AtLeast(0.8));
        let lenient = constant("b", 0.6).passing(PassCriteria::AtLeast(0.5));
        let any = Composite::new("any", Combine::AnyPass)
            .child(strict, 1.0)
            .child(lenient, 1.0);
        let all = Composite::new("all", Combine::AllPass)
            .child(any, 1.0)
            .child(constant("c", 0.1).passing(PassCriteria::AtLeast(0.5)), 1.0);
        let r = run(&all).unwrap();
        assert_eq!(r.value, EvalValue::Bool(false));
        assert_eq!(r.passed, Some(false));
        assert_eq!(r.extra["children"]["any"]["passed"], json!(true));
    }

    #[test]
    fn child_failures_and_bad_configs_are_errors() {
        let failing = FnEvaluator::new("boom", |_| {
            Err(EvalError::Failed {
                evaluator: "boom".into(),
                message: "no".into(),
            })
        });
        let c = Composite::new("c", Combine::Max).child(failing, 1.0);
        assert!(matches!(run(&c), Err(EvalError::Child { child, .. }) if child == "boom"));
        let text = FnEvaluator::new("t", |_| Ok(EvalResult::category("good")));
        assert!(run(&Composite::new("c", Combine::Min).child(text, 1.0)).is_err());
        assert!(run(&Composite::new("empty", Combine::Max)).is_err());
        let zero = Composite::new("z", Combine::WeightedMean).child(constant("a", 1.0), 0.0);
        assert!(run(&zero).is_err());
    }

    #[test]
    fn async_path_matches_sync_path() {
        let c = Composite::new("m", Combine::WeightedMean)
            .child(constant("a", 1.0), 1.0)
            .child(constant("b", 0.5), 1.0);
        let (out, inp) = (json!("x"), json!({}));
        let sync = c.score(&EvalInput::new(&out, &inp)).unwrap();
        let asynchronous =
            crate::evaluator::block_on(c.score_async(EvalInput::new(&out, &inp))).unwrap();
        assert_eq!(sync, asynchronous);
    }
}
