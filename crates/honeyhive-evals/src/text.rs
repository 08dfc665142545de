//! Picking the compared text out of outputs / ground truth, and normalising it.

use serde_json::Value;

use crate::EvalInput;

/// Which part of the outputs and of the ground truth an evaluator compares.
///
/// Each is a dotted path (`"answer"`, `"choices.0.text"`); `None` means the whole
/// value. Strings are compared as they are, `null` as the empty string, anything
/// else as its compact JSON.
///
/// ```
/// use honeyhive_evals::{EvalInput, Fields};
/// use serde_json::json;
/// let fields = Fields::default().prediction("answer.text");
/// let (out, inp) = (json!({"answer": {"text": "42"}}), json!({}));
/// assert_eq!(fields.prediction_text(&EvalInput::new(&out, &inp)).as_deref(), Some("42"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields {
    /// Path into the outputs.
    pub prediction: Option<String>,
    /// Path into the ground truth.
    pub reference: Option<String>,
}

impl Fields {
    /// Sets the path into the outputs.
    pub fn prediction(mut self, path: impl Into<String>) -> Self {
        self.prediction = Some(path.into());
        self
    }

    /// Sets the path into the ground truth.
    pub fn reference(mut self, path: impl Into<String>) -> Self {
        self.reference = Some(path.into());
        self
    }

    /// The selected part of the outputs, if the path exists.
    pub fn prediction_value<'a>(&self, input: &EvalInput<'a>) -> Option<&'a Value> {
        select(input.outputs, self.prediction.as_deref())
    }

    /// The selected part of the ground truth, if there is ground truth and the path exists.
    pub fn reference_value<'a>(&self, input: &EvalInput<'a>) -> Option<&'a Value> {
        input
            .ground_truth
            .and_then(|gt| select(gt, self.reference.as_deref()))
    }

    /// The selected part of the outputs as text.
    pub fn prediction_text(&self, input: &EvalInput<'_>) -> Option<String> {
        self.prediction_value(input).map(value_text)
    }

    /// The selected part of the ground truth as text.
    pub fn reference_text(&self, input: &EvalInput<'_>) -> Option<String> {
        self.reference_value(input).map(value_text)
    }
}

/// Follows a dotted path (object keys, array indices) into a JSON value.
pub(crate) fn select<'a>(value: &'a Value, path: Option<&str>) -> Option<&'a Value> {
    let Some(path) = path.filter(|p| !p.is_empty()) else {
        return Some(value);
    };
    path.split('.')
        .try_fold(value, |current, key| match current {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// A JSON value as comparable text: strings as is, `null` as "", others as JSON.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text normalisation applied before comparing.
///
/// ```
/// use honeyhive_evals::Normalize;
/// let n = Normalize { ignore_case: true, collapse_whitespace: true, strip_punctuation: true };
/// assert_eq!(n.apply("  Hello,   World! "), "hello world");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalize {
    /// Compare case-insensitively (Unicode lower case).
    pub ignore_case: bool,
    /// Trim, and turn every run of whitespace into one space.
    pub collapse_whitespace: bool,
    /// Remove punctuation: ASCII punctuation plus common Unicode punctuation
    /// (general punctuation block, CJK punctuation, `¡ ¿ « » · § ¶`).
    pub strip_punctuation: bool,
}

impl Normalize {
    /// Everything on: case, whitespace and punctuation are ignored.
    pub fn lenient() -> Self {
        Normalize {
            ignore_case: true,
            collapse_whitespace: true,
            strip_punctuation: true,
        }
    }

    /// Applies the options, punctuation first so removed marks leave no double spaces.
    pub fn apply(&self, text: &str) -> String {
        let mut out: String = if self.strip_punctuation {
            text.chars().filter(|c| !is_punctuation(*c)).collect()
        } else {
            text.to_string()
        };
        if self.ignore_case {
            out = out.to_lowercase();
        }
        if self.collapse_whitespace {
            out = out.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        out
    }
}

pub(crate) fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c,
            '\u{2010}'..='\u{2027}' | '\u{2030}'..='\u{205E}' | '\u{3001}'..='\u{3003}'
            | '\u{3008}'..='\u{3011}' | '¡' | '¿' | '«' | '»' | '·' | '§' | '¶')
}

/// `str.isspace()` of Python: the reference metrics split on exactly these.
pub(crate) fn is_python_space(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}') || c.is_whitespace()
}

/// Python's `str.split()` with no arguments.
pub(crate) fn python_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_python_space).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_follows_keys_and_indices() {
        let v = json!({"choices": [{"text": "a"}, {"text": "b"}]});
        assert_eq!(select(&v, Some("choices.1.text")), Some(&json!("b")));
        assert_eq!(select(&v, Some("choices.9.text")), None);
        assert_eq!(select(&v, None), Some(&v));
        assert_eq!(value_text(&json!({"a": 1})), "{\"a\":1}");
        assert_eq!(value_text(&Value::Null), "");
    }

    #[test]
    fn python_whitespace_includes_separators() {
        let parts: Vec<_> = python_split("a\u{1f}b\u{a0}c  d\u{3000}").collect();
        assert_eq!(parts, ["a", "b", "c", "d"]);
    }

    #[test]
    fn normalize_options_are_independent() {
        let case_only = Normalize {
            ignore_case: true,
            ..Normalize::default()
        };
        assert_eq!(case_only.apply(" A,B "), " a,b ");
        assert_eq!(Normalize::lenient().apply("«Ça va?»  Oui…"), "ça va oui");
    }
}
