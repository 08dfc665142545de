//! ROUGE-1/2/L exactly as `rouge-score` 0.1.2 (`RougeScorer(...).score(target, prediction)`).

use serde_json::Value;

use super::compared::{Compared, Comparison};
use super::porter::porter_stem;
use crate::EvalResult;

/// Which ROUGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RougeKind {
    /// Unigram overlap (`rouge1`).
    Rouge1,
    /// Bigram overlap (`rouge2`).
    Rouge2,
    /// Longest common subsequence (`rougeL`).
    RougeL,
}

impl RougeKind {
    /// The metric name (`rouge1`, `rouge2`, `rougeL`).
    pub fn name(self) -> &'static str {
        match self {
            RougeKind::Rouge1 => "rouge1",
            RougeKind::Rouge2 => "rouge2",
            RougeKind::RougeL => "rougeL",
        }
    }
}

/// Precision, recall and F-measure of one ROUGE comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RougeScore {
    /// Matches over prediction size.
    pub precision: f64,
    /// Matches over reference size.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub fmeasure: f64,
}

/// `rouge-score`'s default tokenizer: Python-lower-case, every run of characters
/// outside `[a-z0-9]` becomes a separator (so non-ASCII letters are dropped), then
/// tokens longer than 3 characters are Porter-stemmed when `stem` is on.
///
/// ```
/// use honeyhive_evals::metrics::rouge_tokenize;
/// assert_eq!(rouge_tokenize("The CAT's café!", false), ["the", "cat", "s", "caf"]);
/// assert_eq!(rouge_tokenize("running dogs", true), ["run", "dog"]);
/// ```
pub fn rouge_tokenize(text: &str, stem: bool) -> Vec<String> {
    let lowered = text.to_lowercase();
    let replaced: String = lowered
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                ' '
            }
        })
        .collect();
    replaced
        .split(' ')
        .map(|token| {
            if stem && token.len() > 3 {
                porter_stem(token)
            } else {
                token.to_string()
            }
        })
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        .collect()
}

fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn ngram_counts(tokens: &[String], n: usize) -> std::collections::HashMap<&[String], usize> {
    let mut counts = std::collections::HashMap::new();
    if tokens.len() >= n {
        for gram in tokens.windows(n) {
            *counts.entry(gram).or_insert(0) += 1;
        }
    }
    counts
}

fn score_ngrams(target: &[String], prediction: &[String], n: usize) -> RougeScore {
    let target_counts = ngram_counts(target, n);
    let prediction_counts = ngram_counts(prediction, n);
    let overlap: usize = target_counts
        .iter()
        .map(|(gram, count)| (*count).min(prediction_counts.get(gram).copied().unwrap_or(0)))
        .sum();
    let target_total: usize = target_counts.values().sum();
    let prediction_total: usize = prediction_counts.values().sum();
    let precision = overlap as f64 / prediction_total.max(1) as f64;
    let recall = overlap as f64 / target_total.max(1) as f64;
    RougeScore {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

fn lcs_length(a: &[String], b: &[String]) -> usize {
    // Two rolling rows of the DP table: memory stays O(len(b)) for long texts.
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn score_lcs(target: &[String], prediction: &[String]) -> RougeScore {
    if target.is_empty() || prediction.is_empty() {
        return RougeScore {
            precision: 0.0,
            recall: 0.0,
            fmeasure: 0.0,
        };
    }
    let lcs = lcs_length(target, prediction) as f64;
    let precision = lcs / prediction.len() as f64;
    let recall = lcs / target.len() as f64;
    RougeScore {
        precision,
        recall,
        fmeasure: fmeasure(precision, recall),
    }
}

/// One ROUGE score of `prediction` against `reference`.
///
/// ```
/// use honeyhive_evals::metrics::{rouge, RougeKind};
/// let s = rouge(RougeKind::Rouge1, "the cat sat", "the cat sat down", false);
/// assert!((s.fmeasure - 6.0 / 7.0).abs() < 1e-12);
/// ```
pub fn rouge(kind: RougeKind, prediction: &str, reference: &str, stem: bool) -> RougeScore {
    let target = rouge_tokenize(reference, stem);
    let predicted = rouge_tokenize(prediction, stem);
    match kind {
        RougeKind::Rouge1 => score_ngrams(&target, &predicted, 1),
        RougeKind::Rouge2 => score_ngrams(&target, &predicted, 2),
        RougeKind::RougeL => score_lcs(&target, &predicted),
    }
}

/// ROUGE evaluator: the F-measure as score, precision and recall as extra fields.
///
/// With several references (ground truth is an array of strings) the best F-measure
/// wins, as `rouge-score`'s `score_multi`.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::{Rouge, RougeKind}};
/// use serde_json::json;
/// let eval = Rouge::new(RougeKind::RougeL).stemmer(true);
/// let (out, inp, truth) = (json!("cats running"), json!({}), json!("the cat runs"));
/// let r = eval.score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert!((r.value.as_f64().unwrap() - 0.8).abs() < 1e-12);
/// ```
pub type Rouge = Compared<RougeComparison>;

/// The comparison of [`Rouge`].
#[derive(Debug, Clone)]
pub struct RougeComparison {
    kind: RougeKind,
    stem: bool,
}

impl Compared<RougeComparison> {
    /// The given ROUGE, stemming off.
    pub fn new(kind: RougeKind) -> Self {
        Compared::with(RougeComparison { kind, stem: false })
    }

    /// Turns Porter stemming on or off.
    pub fn stemmer(mut self, on: bool) -> Self {
        self.comparison.stem = on;
        self
    }
}

/// The reference texts of a ground truth: one string, or each string of an array.
pub(crate) fn reference_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            items.iter().map(crate::text::value_text).collect()
        }
        other => vec![crate::text::value_text(other)],
    }
}

impl Comparison for RougeComparison {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult {
        let prediction = crate::text::value_text(prediction);
        let mut best: Option<RougeScore> = None;
        for reference in reference_texts(reference) {
            let score = rouge(self.kind, &prediction, &reference, self.stem);
            // Strictly greater keeps the first maximum, as numpy.argmax does.
            if best.is_none_or(|b| score.fmeasure > b.fmeasure) {
                best = Some(score);
            }
        }
        let best = best.unwrap_or(RougeScore {
            precision: 0.0,
            recall: 0.0,
            fmeasure: 0.0,
        });
        EvalResult::number(best.fmeasure)
            .with_extra("precision", best.precision)
            .with_extra("recall", best.recall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_keeps_ascii_alnum_only() {
        assert_eq!(
            rouge_tokenize("İstanbul 3.5km", false),
            ["i", "stanbul", "3", "5km"]
        );
        assert!(rouge_tokenize("日本語 — ¿?", false).is_empty());
        assert!(rouge_tokenize("", true).is_empty());
    }

    #[test]
    fn rouge2_and_lcs_on_known_pair() {
        // rouge-score: score("the cat was found under the bed", "the cat was under the bed")
        let r2 = rouge(
            RougeKind::Rouge2,
            "the cat was under the bed",
            "the cat was found under the bed",
            false,
        );
        assert!((r2.precision - 4.0 / 5.0).abs() < 1e-12);
        assert!((r2.recall - 4.0 / 6.0).abs() < 1e-12);
        let rl = rouge(
            RougeKind::RougeL,
            "the cat was under the bed",
            "the cat was found under the bed",
            false,
        );
        assert!((rl.precision - 1.0).abs() < 1e-12);
        assert!((rl.recall - 6.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn empty_sides_score_zero() {
        for kind in [RougeKind::Rouge1, RougeKind::Rouge2, RougeKind::RougeL] {
            assert_eq!(rouge(kind, "", "something", false).fmeasure, 0.0);
            assert_eq!(rouge(kind, "", "", false).fmeasure, 0.0);
        }
    }
}
