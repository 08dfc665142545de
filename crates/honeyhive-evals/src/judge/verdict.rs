//! Reading a verdict out of whatever text a judge model answered.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::EvalValue;

/// What the judge is asked to give.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// A number in `min..=max` (for example 1–5).
    Numeric {
        /// Lowest allowed score.
        min: f64,
        /// Highest allowed score.
        max: f64,
    },
    /// One of these labels.
    Categories(Vec<String>),
}

/// A parsed verdict: the value and the judge's explanation, when it gave one.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// A number within the scale, or a category label spelled as configured.
    pub value: EvalValue,
    /// The judge's reasoning.
    pub explanation: Option<String>,
}

const VALUE_KEYS: &[&str] = &[
    "score", "rating", "grade", "value", "verdict", "category", "label", "result",
];
const EXPLANATION_KEYS: &[&str] = &[
    "explanation",
    "reasoning",
    "reason",
    "rationale",
    "justification",
    "comment",
];

static FENCED: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?s)```(?:json|JSON)?\s*(.*?)```").ok());
static LABELLED_NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:score|rating|grade)\b["']?\s*(?:is|of)?\s*[:=]?\s*\**\s*(-?\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+(?:\.\d+)?))?"#).ok()
});
static FRACTION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+(?:\.\d+)?)").ok());
static LABELLED_WORD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:verdict|category|label|answer|classification)\b\s*[:=]\s*\**\s*["']?([\p{L} _-]+?)["']?\s*(?:\*|$|[.,;\n])"#).ok()
});

/// Parses a judge's answer: a JSON object (bare, fenced, or embedded in prose)
/// with a `score` / `rating` / `category` / ... key, else text such as
/// `Score: 4/5`, `rating = 3`, `8 out of 10`, `Verdict: correct`, or a lone
/// category word. Numbers outside the scale and ambiguous category mentions are
/// rejected (`None`) so the caller can retry.
///
/// A fraction whose denominator is not the scale's maximum is rescaled to the scale
/// (`8/10` on 1–5 is 4).
///
/// ```
/// use honeyhive_evals::{EvalValue, judge::{parse_verdict, Scale}};
/// let scale = Scale::Numeric { min: 1.0, max: 5.0 };
/// assert_eq!(parse_verdict("Score: 4/5 — mostly right", &scale).unwrap().value, EvalValue::Number(4.0));
/// assert_eq!(parse_verdict("```json\n{\"score\": 2, \"explanation\": \"off topic\"}\n```", &scale).unwrap().explanation.as_deref(), Some("off topic"));
/// assert!(parse_verdict("I cannot decide.", &scale).is_none());
/// ```
pub fn parse_verdict(text: &str, scale: &Scale) -> Option<Verdict> {
    for candidate in json_candidates(text) {
        if let Some(verdict) = from_json(&candidate, scale) {
            return Some(verdict);
        }
    }
    from_text(text, scale)
}

fn json_candidates(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        out.push(v);
    }
    if let Some(re) = FENCED.as_ref() {
        for cap in re.captures_iter(text) {
            if let Some(v) = cap
                .get(1)
                .and_then(|m| serde_json::from_str::<Value>(m.as_str().trim()).ok())
            {
                out.push(v);
            }
        }
    }
    if let (Some(start), Some(end)) = (text.find('{'), text.rfind('}'))
        && start < end
        && let Ok(v) = serde_json::from_str::<Value>(&text[start..=end])
    {
        out.push(v);
    }
    out
}

fn from_json(value: &Value, scale: &Scale) -> Option<Verdict> {
    let Value::Object(map) = value else {
        // A bare JSON number or string is a verdict too ("4", "\"correct\"").
        return value_to_verdict(value, scale).map(|value| Verdict {
            value,
            explanation: None,
        });
    };
    let lookup = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            map.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        })
    };
    let raw = lookup(VALUE_KEYS)?;
    let value = value_to_verdict(raw, scale)?;
    let explanation = lookup(EXPLANATION_KEYS).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    Some(Verdict { value, explanation })
}

fn value_to_verdict(raw: &Value, scale: &Scale) -> Option<EvalValue> {
    match (scale, raw) {
        (Scale::Numeric { .. }, Value::Number(n)) => in_scale(n.as_f64()?, None, scale),
        (Scale::Numeric { .. }, Value::String(s)) => number_from_text(s, scale),
        (Scale::Categories(names), Value::String(s)) => match_category(s, names),
        (Scale::Categories(names), Value::Bool(b)) => {
            match_category(if *b { "true" } else { "false" }, names)
        }
        _ => None,
    }
}

fn in_scale(x: f64, denominator: Option<f64>, scale: &Scale) -> Option<EvalValue> {
    let Scale::Numeric { min, max } = scale else {
        return None;
    };
    let x = match denominator {
        Some(d) if d > 0.0 && d != *max => x / d * max,
        _ => x,
    };
    (x.is_finite() && x >= *min && x <= *max).then_some(EvalValue::Number(x))
}

fn number_from_text(text: &str, scale: &Scale) -> Option<EvalValue> {
    let parse = |m: Option<regex::Match<'_>>| m.and_then(|m| m.as_str().parse::<f64>().ok());
    if let Ok(x) = text.trim().trim_end_matches('.').parse::<f64>() {
        return in_scale(x, None, scale);
    }
    if let Some(cap) = LABELLED_NUMBER.as_ref().and_then(|re| re.captures(text)) {
        return in_scale(parse(cap.get(1))?, parse(cap.get(2)), scale);
    }
    if let Some(cap) = FRACTION.as_ref().and_then(|re| re.captures(text)) {
        return in_scale(parse(cap.get(1))?, parse(cap.get(2)), scale);
    }
    None
}

fn match_category(text: &str, names: &[String]) -> Option<EvalValue> {
    let wanted = text
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '.' || c == '*');
    names
        .iter()
        .find(|n| n.trim().eq_ignore_ascii_case(wanted))
        .map(|n| EvalValue::Category(n.clone()))
}

fn contains_word(haystack: &str, word: &str) -> bool {
    let pattern = format!(
        r"(?i)(^|[^\p{{L}}\p{{N}}_]){}($|[^\p{{L}}\p{{N}}_])",
        regex::escape(word.trim())
    );
    Regex::new(&pattern).is_ok_and(|re| re.is_match(haystack))
}

fn from_text(text: &str, scale: &Scale) -> Option<Verdict> {
    let value = match scale {
        Scale::Numeric { .. } => number_from_text(text, scale)?,
        Scale::Categories(names) => {
            let labelled = LABELLED_WORD
                .as_ref()
                .and_then(|re| re.captures(text))
                .and_then(|cap| cap.get(1))
                .and_then(|m| match_category(m.as_str(), names));
            match labelled {
                Some(v) => v,
                None => {
                    let found: Vec<&String> =
                        names.iter().filter(|n| contains_word(text, n)).collect();
                    // "partially correct" also mentions "correct": keep only the
                    // mentions not contained in a longer one, and demand exactly one.
                    let maximal: Vec<&&String> = found
                        .iter()
                        .filter(|n| {
                            !found
                                .iter()
                                .any(|other| other.len() > n.len() && contains_word(other, n))
                        })
                        .collect();
                    match maximal.as_slice() {
                        [only] => EvalValue::Category((**only).clone()),
                        _ => return None,
                    }
                }
            }
        }
    };
    Some(Verdict {
        value,
        explanation: Some(text.trim().to_string()).filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five() -> Scale {
        Scale::Numeric { min: 1.0, max: 5.0 }
    }

    fn cats() -> Scale {
        Scale::Categories(vec![
            "correct".into(),
            "partially correct".into(),
            "incorrect".into(),
        ])
    }

    fn number(text: &str) -> Option<f64> {
        parse_verdict(text, &five()).and_then(|v| v.value.as_f64())
    }

    fn category(text: &str) -> Option<String> {
        match parse_verdict(text, &cats())?.value {
            EvalValue::Category(c) => Some(c),
            _ => None,
        }
    }

    #[test]
    fn numeric_verdicts_in_many_shapes() {
        assert_eq!(number(r#"{"score": 4, "explanation": "good"}"#), Some(4.0));
        assert_eq!(number(r#"{"Rating": "3"}"#), Some(3.0));
        assert_eq!(
            number("Sure! Here you go:\n```json\n{\"score\": 5}\n```"),
            Some(5.0)
        );
        assert_eq!(
            number("Reasoning first. {\"score\": 2, \"reasoning\": \"meh\"} Done."),
            Some(2.0)
        );
        assert_eq!(number("Score: 4/5"), Some(4.0));
        assert_eq!(number("**Rating:** 3"), Some(3.0));
        assert_eq!(number("I'd give it 8 out of 10."), Some(4.0));
        assert_eq!(number("4"), Some(4.0));
        assert_eq!(number("Score: 7"), None, "outside the scale");
        assert_eq!(number("{\"score\": \"high\"}"), None);
        assert_eq!(number(""), None);
        assert_eq!(
            number("{\"score\": 4"),
            Some(4.0),
            "truncated json still has a labelled number"
        );
    }

    #[test]
    fn category_verdicts_and_ambiguity() {
        assert_eq!(
            category(r#"{"verdict": "Correct"}"#).as_deref(),
            Some("correct")
        );
        assert_eq!(
            category("Verdict: partially correct.").as_deref(),
            Some("partially correct")
        );
        assert_eq!(
            category("The answer is incorrect because ...").as_deref(),
            Some("incorrect")
        );
        assert_eq!(
            category("It is partially correct.").as_deref(),
            Some("partially correct")
        );
        assert_eq!(category("Either correct or incorrect, hard to say"), None);
        assert_eq!(category("No idea"), None);
        assert_eq!(category(r#"{"category": "wrong"}"#), None);
    }
}
