//! Sentence BLEU exactly as sacrebleu 2.x `sentence_bleu(hyp, refs)` with its
//! defaults: `13a` tokenizer, case-sensitive, `exp` smoothing, effective order,
//! max n-gram order 4, scores on a 0–100 scale.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::compared::{Compared, Comparison};
use crate::EvalResult;
use crate::text::{is_python_space, python_split};

const MAX_ORDER: usize = 4;

/// The regexes of sacrebleu's `TokenizerRegexp`, in order. They are literals, so
/// compiling them cannot fail at run time for any input.
static TOKENIZER_RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"([\{-~\[-` -&\(-\+:-@/])", " ${1} "),
        (r"([^0-9])([\.,])", "${1} ${2} "),
        (r"([\.,])([^0-9])", " ${1} ${2}"),
        (r"([0-9])(-)", "${1} ${2} "),
    ]
    .into_iter()
    .filter_map(|(pattern, replacement)| Regex::new(pattern).ok().map(|re| (re, replacement)))
    .collect()
});

/// sacrebleu's `13a` tokenizer (mteval-v13a), returning the space-joined tokens.
///
/// ```
/// use honeyhive_evals::metrics::tokenize_13a;
/// assert_eq!(tokenize_13a("Hello, world! It costs $3.50 &amp; more."), "Hello , world ! It costs $ 3.50 & more .");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (re, replacement) in TOKENIZER_RULES.iter() {
        line = re.replace_all(&line, *replacement).into_owned();
    }
    python_split(&line).collect::<Vec<_>>().join(" ")
}

/// Preprocessing of every segment: Python's `rstrip()` then the 13a tokenizer.
fn preprocess(segment: &str) -> String {
    tokenize_13a(segment.trim_end_matches(is_python_space))
}

fn ngrams(line: &str) -> (HashMap<Vec<&str>, usize>, usize) {
    let tokens: Vec<&str> = python_split(line).collect();
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER {
        if tokens.len() >= n {
            for gram in tokens.windows(n) {
                *counts.entry(gram.to_vec()).or_insert(0) += 1;
            }
        }
    }
    (counts, tokens.len())
}

/// BLEU with its statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BleuScore {
    /// The score, 0–100.
    pub score: f64,
    /// Matching n-grams per order (1..=4).
    pub counts: [usize; MAX_ORDER],
    /// Hypothesis n-grams per order.
    pub totals: [usize; MAX_ORDER],
    /// Smoothed precisions per order, 0–100.
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens.
    pub sys_len: usize,
    /// Closest reference length in tokens.
    pub ref_len: usize,
}

/// sacrebleu's `sentence_bleu(hypothesis, references).score` and its statistics.
///
/// ```
/// use honeyhive_evals::metrics::sentence_bleu;
/// let s = sentence_bleu("the cat sat on the mat", &["the cat sat on the mat"]);
/// assert!((s.score - 100.0).abs() < 1e-9);
/// assert_eq!(sentence_bleu("", &["anything"]).score, 0.0);
/// ```
pub fn sentence_bleu<S: AsRef<str>>(hypothesis: &str, references: &[S]) -> BleuScore {
    let hypothesis = preprocess(hypothesis);
    let mut ref_ngrams: HashMap<Vec<&str>, usize> = HashMap::new();
    let mut ref_lens = Vec::with_capacity(references.len());
    let processed: Vec<String> = references.iter().map(|r| preprocess(r.as_ref())).collect();
    for reference in &processed {
        let (counts, len) = ngrams(reference);
        ref_lens.push(len);
        for (gram, count) in counts {
            let slot = ref_ngrams.entry(gram).or_insert(0);
            *slot = (*slot).max(count);
        }
    }
    let (hyp_ngrams, sys_len) = ngrams(&hypothesis);
    let ref_len = closest_ref_len(sys_len, &ref_lens);
    let mut counts = [0usize; MAX_ORDER];
    let mut totals = [0usize; MAX_ORDER];
    for (gram, count) in &hyp_ngrams {
        let n = gram.len() - 1;
        totals[n] += count;
        if let Some(r) = ref_ngrams.get(gram) {
            counts[n] += (*count).min(*r);
        }
    }
    compute_bleu(counts, totals, sys_len, ref_len)
}

/// sacrebleu's `_get_closest_ref_len`: nearest length, ties to the shorter.
fn closest_ref_len(hyp_len: usize, ref_lens: &[usize]) -> usize {
    let mut closest: Option<(usize, usize)> = None;
    for &len in ref_lens {
        let diff = hyp_len.abs_diff(len);
        closest = match closest {
            None => Some((diff, len)),
            Some((d, _)) if diff < d => Some((diff, len)),
            Some((d, l)) if diff == d && len < l => Some((diff, len)),
            keep => keep,
        };
    }
    closest.map_or(0, |(_, len)| len)
}

/// sacrebleu's `BLEU.compute_bleu` with `smooth_method='exp'`, `effective_order=True`.
fn compute_bleu(
    counts: [usize; MAX_ORDER],
    totals: [usize; MAX_ORDER],
    sys_len: usize,
    ref_len: usize,
) -> BleuScore {
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0f64; MAX_ORDER];
    let mut result = BleuScore {
        score: 0.0,
        counts,
        totals,
        precisions,
        bp,
        sys_len,
        ref_len,
    };
    if counts.iter().all(|c| *c == 0) {
        return result;
    }
    let mut smooth_mteval = 1.0f64;
    let mut effective_order = MAX_ORDER;
    for n in 1..=MAX_ORDER {
        if totals[n - 1] == 0 {
            break;
        }
        effective_order = n;
        if counts[n - 1] == 0 {
            smooth_mteval *= 2.0;
            precisions[n - 1] = 100.0 / (smooth_mteval * totals[n - 1] as f64);
        } else {
            precisions[n - 1] = 100.0 * counts[n - 1] as f64 / totals[n - 1] as f64;
        }
    }
    let log_sum: f64 = precisions[..effective_order]
        .iter()
        .map(|p| if *p == 0.0 { -9_999_999_999.0 } else { p.ln() })
        .sum();
    result.precisions = precisions;
    result.score = bp * (log_sum / effective_order as f64).exp();
    result
}

/// BLEU evaluator (sacrebleu `sentence_bleu` defaults, 0–100). Ground truth may be
/// one string or an array of reference strings.
///
/// ```
/// use honeyhive_evals::{EvalInput, Evaluator, metrics::Bleu};
/// use serde_json::json;
/// let (out, inp, truth) = (json!("the cat sat on the mat"), json!({}), json!(["a cat sat on a mat", "the cat sat on the mat"]));
/// let r = Bleu::new().score(&EvalInput::new(&out, &inp).with_ground_truth(Some(&truth))).unwrap();
/// assert!((r.value.as_f64().unwrap() - 100.0).abs() < 1e-9);
/// ```
pub type Bleu = Compared<BleuComparison>;

/// The comparison of [`Bleu`].
#[derive(Debug, Clone, Default)]
pub struct BleuComparison;

impl Compared<BleuComparison> {
    /// sacrebleu defaults.
    pub fn new() -> Self {
        Compared::with(BleuComparison)
    }
}

impl Comparison for BleuComparison {
    fn name(&self) -> &str {
        "bleu"
    }
    fn compare(&self, prediction: &Value, reference: &Value) -> EvalResult {
        let references = super::rouge::reference_texts(reference);
        let s = sentence_bleu(&crate::text::value_text(prediction), &references);
        EvalResult::number(s.score)
            .with_extra("precisions", s.precisions.to_vec())
            .with_extra("bp", s.bp)
            .with_extra("sys_len", s.sys_len)
            .with_extra("ref_len", s.ref_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_splits_periods_and_commas_next_to_non_digits_only() {
        assert_eq!(TOKENIZER_RULES.len(), 4, "every sacrebleu rule compiles");
        assert_eq!(tokenize_13a("1,000.5 apples, ok."), "1,000.5 apples , ok .");
        assert_eq!(
            tokenize_13a("state-of-the-art 2-3"),
            "state-of-the-art 2 - 3"
        );
        assert_eq!(tokenize_13a("don't <skipped>stop"), "don't stop");
    }

    #[test]
    fn smoothing_and_brevity_match_sacrebleu() {
        // sacrebleu 2.6.0: sentence_bleu("the cat", ["the cat sat on the mat"]).score
        let s = sentence_bleu("the cat", &["the cat sat on the mat"]);
        assert_eq!(s.counts, [2, 1, 0, 0]);
        assert_eq!((s.sys_len, s.ref_len), (2, 6));
        assert!((s.score - 13.533528323661276).abs() < 1e-9, "{}", s.score);
    }

    #[test]
    fn closest_reference_length_prefers_shorter_on_tie() {
        assert_eq!(closest_ref_len(5, &[7, 3]), 3);
        assert_eq!(closest_ref_len(5, &[6, 9]), 6);
        assert_eq!(closest_ref_len(5, &[]), 0);
    }
}
