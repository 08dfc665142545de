//! Python's `json.dumps(value, sort_keys=True)` byte for byte.
//!
//! The Python SDK derives the `EXT-` ids of inline datasets from a SHA-256 of this
//! exact text, so runs from Rust and Python only land on the same datapoint ids when
//! the serialisation matches: `", "` and `": "` separators, keys sorted by code point,
//! `ensure_ascii` escapes (lower-case `\uXXXX`, surrogate pairs, DEL escaped) and
//! floats in `repr` form (`1.0`, `1e-05`, `1e+16`).

use std::fmt::Write as _;

use serde_json::Value;

/// Appends `json.dumps(value, sort_keys=True)` to `out`.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                out.push_str(&float_repr(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(
            out,
            map.iter()
                .map(|(key, item)| (key.as_str(), Item::Json(item)))
                .collect(),
        ),
    }
}

/// A value of a dict being written: JSON, or a bare string.
pub(crate) enum Item<'a> {
    /// Any JSON value.
    Json(&'a Value),
    /// A string, without building a `Value` for it.
    Text(&'a str),
}

/// Appends a dict with these entries, keys sorted, to `out`.
pub(crate) fn write_object(out: &mut String, mut entries: Vec<(&str, Item<'_>)>) {
    // Python sorts str keys by code point; Rust's `str` ordering is byte-wise
    // UTF-8, which orders code points identically.
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(out, key);
        out.push_str(": ");
        match item {
            Item::Json(value) => write_value(out, value),
            Item::Text(text) => write_string(out, text),
        }
    }
    out.push('}');
}

/// Appends a Python `json.dumps` string literal (`ensure_ascii`) to `out`.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `float.__repr__` (what `json.dumps` writes for floats).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, as Python's repr does:
    // "1.2345e-7" → digits "12345", decimal exponent -7.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    // Python's decpt: value = 0.d1d2... × 10^decpt.
    let decpt = exponent + 1;
    let body = if !(-3..=16).contains(&decpt) {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{m}e{exp_sign}{:02}", exponent.abs())
    } else if decpt <= 0 {
        format!("0.{}{digits}", "0".repeat(decpt.unsigned_abs() as usize))
    } else {
        let decpt = decpt as usize;
        if digits.len() <= decpt {
            format!("{digits}{}.0", "0".repeat(decpt - digits.len()))
        } else {
            format!("{}.{}", &digits[..decpt], &digits[decpt..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dumps_sorted(value: &Value) -> String {
        let mut out = String::new();
        write_value(&mut out, value);
        out
    }

    #[test]
    fn matches_python_for_floats_strings_and_key_order() {
        // Expected text produced by CPython 3.11 `json.dumps(..., sort_keys=True)`.
        let v = json!({
            "b": [1.0, 1e16, 1e15, 0.0001, 0.00001, 1.5e-7, 2.5e300, -0.0, 0.1 + 0.2, 7, -3],
            "a": "é😀\"\\\n\u{1}\u{7f}",
        });
        assert_eq!(
            dumps_sorted(&v),
            r#"{"a": "\u00e9\ud83d\ude00\"\\\n\u0001\u007f", "b": [1.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 1.5e-07, 2.5e+300, -0.0, 0.30000000000000004, 7, -3]}"#
        );
    }

    #[test]
    fn float_repr_edges() {
        assert_eq!(float_repr(123.456), "123.456");
        assert_eq!(float_repr(-2.0), "-2.0");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(float_repr(1234567890123456.7), "1234567890123456.8");
        assert_eq!(float_repr(f64::INFINITY), "Infinity");
    }
}
