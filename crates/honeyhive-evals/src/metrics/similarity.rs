//! Levenshtein similarity and SQuAD-style token F1.

use std::collections::HashMap;

use serde_json::Value;

use super::compared::{Compared, Comparison};
use crate::text::value_text;
use crate::{EvalResult, Normalize};

/// Edit distance in Unicode scalar values (insert, delete, substitute cost 1).
///
/// ```
/// use honeyhive_evals::metrics::levenshtein_distance;
/// assert_eq!(levenshtein_distance("kitten", "sitting"), 3);
/// assert_eq!(levenshtein_distance("", "日本"), 2);
/// ```
pub fn levenshtein_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// `1 - distance / max(len)`: 1.0 for equal texts (including two empty ones).
///
/// ```
/// use honeyhive_evals::metrics::levenshtein_similarity;
/// assert!((levenshtein_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)).abs() < 1e-12);
/// ```
pub fn levenshtein_similarity(a: &str, b: &str) -> f64 {
    let longest = a.chars().count().max(b.chars().count());
    if longest == 0 {
        return 1.0;
    }
    1.0 - levenshtein_distance(a, b) as f64 / longest as f64
}

/// Levenshtein similarity evaluator (0–1), distance in the extra fields.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::Levenshtein};
/// use serde_json::json;
/// let (out, inp, truth) = (json!("colour"), json!({}), json!("color"));
/// let r = Levenshtein::new().score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert_eq!(r.extra["distance"], 1);
/// ```
pub type Levenshtein = Compared<LevenshteinComparison>;

/// The comparison of [`Levenshtein`].
#[derive(Debug, Clone, Default)]
pub struct LevenshteinComparison {
    normalize: Normalize,
}

impl Compared<LevenshteinComparison> {
    /// Raw texts, no threshold.
    pub fn new() -> Self {
        Compared::with(LevenshteinComparison::default())
    }

    /// Normalisation applied to both sides.
    pub fn normalize(mut self, normalize: Normalize) -> Self {
        self.comparison.normalize = normalize;
        self
    }
}

impl Comparison for LevenshteinComparison {
    fn name(&self) -> &str {
        "levenshtein"
    }
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult {
        let p = self.normalize.apply(&value_text(prediction));
        let r = self.normalize.apply(&value_text(reference));
        EvalResult::number(levenshtein_similarity(&p, &r))
            .with_extra("distance", levenshtein_distance(&p, &r))
    }
}

/// SQuAD answer normalisation: lower case, ASCII punctuation removed, articles
/// (`a`, `an`, `the`) dropped, split on whitespace.
fn squad_tokens(text: &str) -> Vec<String> {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    cleaned
        .split_whitespace()
        .filter(|t| !matches!(*t, "a" | "an" | "the"))
        .map(str::to_string)
        .collect()
}

/// SQuAD token F1 of a prediction against a reference (0–1). When either side has
/// no tokens the score is 1.0 if both are empty, else 0.0 (as the SQuAD script).
///
/// ```
/// use honeyhive_evals::metrics::token_f1;
/// assert!((token_f1("the Eiffel tower", "Eiffel Tower in Paris") - 2.0 * (1.0 * 0.5) / 1.5).abs() < 1e-12);
/// ```
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    token_f1_parts(prediction, reference).2
}

fn token_f1_parts(prediction: &str, reference: &str) -> (f64, f64, f64) {
    let p = squad_tokens(prediction);
    let r = squad_tokens(reference);
    if p.is_empty() || r.is_empty() {
        let same = if p == r { 1.0 } else { 0.0 };
        return (same, same, same);
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &r {
        *counts.entry(t.as_str()).or_insert(0) += 1;
    }
    let mut common = 0usize;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str())
            && *c > 0
        {
            *c -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return (0.0, 0.0, 0.0);
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / r.len() as f64;
    (
        precision,
        recall,
        2.0 * precision * recall / (precision + recall),
    )
}

/// Token F1 evaluator (0–1), precision and recall in the extra fields.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::TokenF1};
/// use serde_json::json;
/// let (out, inp, truth) = (json!("Paris, France"), json!({}), json!("paris"));
/// let r = TokenF1::new().score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert_eq!(r.extra["recall"], 1.0);
/// ```
pub type TokenF1 = Compared<TokenF1Comparison>;

/// The comparison of [`TokenF1`].
#[derive(Debug, Clone, Default)]
pub struct TokenF1Comparison;

impl Compared<TokenF1Comparison> {
    /// Whole outputs against whole ground truth, no threshold.
    pub fn new() -> Self {
        Compared::with(TokenF1Comparison)
    }
}

impl Comparison for TokenF1Comparison {
    fn name(&self) -> &str {
        "token_f1"
    }
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult {
        let (precision, recall, f1) =
            token_f1_parts(&value_text(prediction), &value_text(reference));
        EvalResult::number(f1)
            .with_extra("precision", precision)
            .with_extra("recall", recall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_edge_cases() {
        assert_eq!(levenshtein_distance("", ""), 0);
        assert_eq!(levenshtein_distance("abc", "abc"), 0);
        assert_eq!(levenshtein_distance("abc", ""), 3);
        assert_eq!(levenshtein_distance("flaw", "lawn"), 2);
        assert_eq!(levenshtein_similarity("", ""), 1.0);
        assert_eq!(levenshtein_similarity("abc", "xyz"), 0.0);
        assert!((levenshtein_similarity("héllo", "hello") - 0.8).abs() < 1e-12);
    }

    #[test]
    fn token_f1_counts_duplicates_once_each_and_drops_articles() {
        assert_eq!(token_f1("a", "the"), 1.0);
        assert_eq!(token_f1("", "x"), 0.0);
        assert_eq!(token_f1("cat cat cat", "cat"), 0.5);
        assert_eq!(token_f1("dog", "cat"), 0.0);
        assert_eq!(token_f1("The cat!", "cat"), 1.0);
    }
}
