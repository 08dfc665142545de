//! Bounds on the shape of the JSON the platform builds and stores.
//!
//! Two bounds keep every stored JSON document readable by every reader:
//!
//! - [`MAX_KEY_SEGMENTS`]: a dotted attribute key (`honeyhive_metadata.a.b.c`) is
//!   split into at most this many segments; the rest of the key stays one literal
//!   key, so nothing is lost and rebuilding the nested object is depth-bounded.
//! - [`MAX_JSON_DEPTH`]: the deepest nesting a stored field may hold. A subtree
//!   that would sit deeper is kept as its compact JSON text (a string):
//!   [`bound_depth`] and [`bound_object_depth`] do that without recursion, so
//!   they are safe on values of any depth.
//!
//! Depth counts containers: a scalar has depth 0, `{}` and `[]` depth 1,
//! `{"a": [1]}` depth 2.
//!
//! ```
//! use honeyhive_model::limits::{bound_depth, json_depth};
//! use serde_json::json;
//! let mut value = json!({"a": {"b": {"c": 1}}});
//! assert_eq!(json_depth(&value), 3);
//! assert_eq!(bound_depth(&mut value, 2), 1);
//! assert_eq!(value, json!({"a": {"b": "{\"c\":1}"}}));
//! assert_eq!(json_depth(&value), 2);
//! ```

use serde_json::{Map, Value};

/// The deepest nesting a stored JSON field or document may hold.
///
/// Every reader must accept a stored field, counted from the column's or
/// document's root, and the answer documents that wrap it:
///
/// - serde_json stops at 128 nested containers by default (the server reading a
///   column or a run document back, the Rust SDK reading an answer);
/// - SQLite's JSON functions (filters on `metadata.x`) stop at 1000;
/// - answers nest stored fields a few levels deeper (`{"events": [{"metadata":
///   ..}]}` puts `metadata` at level 4; run results and comparisons a few more),
///   and a run or datapoint document holds its fields one level below its root.
///
/// 64 leaves half of serde_json's default for those wrappers, and is far deeper
/// than any real trace payload (messages, tool calls and metadata nest a handful
/// of levels).
pub const MAX_JSON_DEPTH: usize = 64;

/// The most segments a dotted attribute key is split into.
///
/// `honeyhive_metadata.` followed by more segments nests the first
/// `MAX_KEY_SEGMENTS - 1` and keeps the rest of the key, dots included, as one
/// literal key. Below [`MAX_JSON_DEPTH`], so a capped key alone never needs
/// flattening.
pub const MAX_KEY_SEGMENTS: usize = 32;

/// The nesting depth of `value` (0 for a scalar), computed without recursion.
///
/// ```
/// use honeyhive_model::limits::json_depth;
/// use serde_json::json;
/// assert_eq!(json_depth(&json!("text")), 0);
/// assert_eq!(json_depth(&json!([])), 1);
/// assert_eq!(json_depth(&json!({"a": [1, {"b": 2}], "c": 3})), 3);
/// ```
pub fn json_depth(value: &Value) -> usize {
    if !is_container(value) {
        return 0;
    }
    deepest_below(vec![(value, 1)])
}

/// The deepest level among `stack`'s containers (each at its level) and
/// everything below them.
fn deepest_below(mut stack: Vec<(&Value, usize)>) -> usize {
    let mut deepest = 0;
    while let Some((node, level)) = stack.pop() {
        deepest = deepest.max(level);
        let children: &mut dyn Iterator<Item = &Value> = match node {
            Value::Array(items) => &mut items.iter(),
            Value::Object(map) => &mut map.values(),
            _ => continue,
        };
        stack.extend(children.filter(|c| is_container(c)).map(|c| (c, level + 1)));
    }
    deepest
}

/// The nesting depth of an object (at least 1: the object itself).
///
/// ```
/// use honeyhive_model::limits::object_depth;
/// let mut map = serde_json::Map::new();
/// assert_eq!(object_depth(&map), 1);
/// map.insert("a".into(), serde_json::json!({"b": 1}));
/// assert_eq!(object_depth(&map), 2);
/// ```
pub fn object_depth(map: &Map<String, Value>) -> usize {
    let containers: Vec<(&Value, usize)> = map
        .values()
        .filter(|v| is_container(v))
        .map(|v| (v, 2))
        .collect();
    deepest_below(containers).max(1)
}

/// Keeps `value` within `max_depth`: every container that would sit deeper is
/// replaced by its compact JSON text. Returns how many subtrees were flattened.
///
/// Neither the walk nor the flattening recurses, so a value of any depth is
/// safe. With `max_depth` 0 a container becomes its text.
///
/// ```
/// use honeyhive_model::limits::bound_depth;
/// use serde_json::json;
/// let mut value = json!([[1, [2]], [3]]);
/// assert_eq!(bound_depth(&mut value, 2), 1);
/// assert_eq!(value, json!([[1, "[2]"], [3]]));
/// let mut shallow = json!({"a": 1});
/// assert_eq!(bound_depth(&mut shallow, 2), 0);
/// ```
pub fn bound_depth(value: &mut Value, max_depth: usize) -> usize {
    if !is_container(value) {
        return 0;
    }
    if max_depth == 0 {
        flatten(value);
        return 1;
    }
    let mut flattened = 0;
    let mut stack: Vec<(&mut Value, usize)> = vec![(value, 1)];
    while let Some((node, level)) = stack.pop() {
        flattened += match node {
            Value::Array(items) => bound_children(items.iter_mut(), level, max_depth, &mut stack),
            Value::Object(map) => bound_children(map.values_mut(), level, max_depth, &mut stack),
            _ => 0,
        };
    }
    flattened
}

/// Keeps an object within `max_depth`, the object itself counting as level 1
/// (a `max_depth` of 0 is treated as 1). Returns how many subtrees were flattened.
///
/// ```
/// use honeyhive_model::limits::bound_object_depth;
/// use serde_json::json;
/// let mut map = json!({"a": {"b": [1]}, "c": 2}).as_object().cloned().unwrap();
/// assert_eq!(bound_object_depth(&mut map, 2), 1);
/// assert_eq!(map["a"], json!({"b": "[1]"}));
/// ```
pub fn bound_object_depth(map: &mut Map<String, Value>, max_depth: usize) -> usize {
    let max_depth = max_depth.max(1);
    let mut flattened = 0;
    let mut stack: Vec<(&mut Value, usize)> = Vec::new();
    flattened += bound_children(map.values_mut(), 1, max_depth, &mut stack);
    while let Some((node, level)) = stack.pop() {
        flattened += match node {
            Value::Array(items) => bound_children(items.iter_mut(), level, max_depth, &mut stack),
            Value::Object(map) => bound_children(map.values_mut(), level, max_depth, &mut stack),
            _ => 0,
        };
    }
    flattened
}

/// The children of a container at `level`: flattened if they are containers
/// and `level` is the deepest allowed, else queued one level down.
fn bound_children<'a>(
    children: impl Iterator<Item = &'a mut Value>,
    level: usize,
    max_depth: usize,
    stack: &mut Vec<(&'a mut Value, usize)>,
) -> usize {
    let mut flattened = 0;
    for child in children.filter(|c| is_container(c)) {
        if level >= max_depth {
            flatten(child);
            flattened += 1;
        } else {
            stack.push((child, level + 1));
        }
    }
    flattened
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Array(_) | Value::Object(_))
}

/// Replaces a container by its compact JSON text. The subtree is taken apart
/// iteratively, so dropping it does not recurse either.
fn flatten(value: &mut Value) {
    let text = compact_json(value);
    dismantle(std::mem::replace(value, Value::String(text)));
}

/// Drops a value of any depth without recursion.
fn dismantle(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// The compact JSON text of `value` (what `serde_json::to_string` writes),
/// produced without recursion.
///
/// ```
/// use honeyhive_model::limits::compact_json;
/// use serde_json::json;
/// let value = json!({"a": [1, "x\"y", null, {"b": 2.5}], "c": {}});
/// assert_eq!(compact_json(&value), serde_json::to_string(&value).unwrap());
/// ```
pub fn compact_json(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, Start::Value(value), usize::MAX);
    out
}

/// The compact JSON text of an object kept within `max_depth` (the object
/// itself counting as level 1): what [`bound_object_depth`] and then
/// [`compact_json`] give, without copying the object and without recursion.
///
/// ```
/// use honeyhive_model::limits::bounded_object_text;
/// use serde_json::json;
/// let map = json!({"a": {"b": [1]}, "c": 2}).as_object().cloned().unwrap();
/// assert_eq!(bounded_object_text(&map, 2), r#"{"a":{"b":"[1]"},"c":2}"#);
/// ```
pub fn bounded_object_text(map: &Map<String, Value>, max_depth: usize) -> String {
    let mut out = String::new();
    write_json(&mut out, Start::Object(map), max_depth.max(1));
    out
}

/// What [`write_json`] writes.
enum Start<'a> {
    Value(&'a Value),
    Object(&'a Map<String, Value>),
}

/// An array or object being written out by [`write_json`], and whether its
/// first item is still to come.
enum Open<'a> {
    Array(std::slice::Iter<'a, Value>, bool),
    Object(serde_json::map::Iter<'a>, bool),
}

/// Writes compact JSON with an explicit stack instead of recursion; a
/// container that would open deeper than `max_depth` is written as a string
/// holding its own compact text.
fn write_json(out: &mut String, start: Start<'_>, max_depth: usize) {
    let mut open: Vec<Open<'_>> = Vec::new();
    let mut next = match start {
        Start::Value(value) => Some(value),
        Start::Object(map) => {
            out.push('{');
            open.push(Open::Object(map.iter(), true));
            None
        }
    };
    loop {
        match next.take() {
            Some(container @ (Value::Array(_) | Value::Object(_))) if open.len() >= max_depth => {
                write_string(out, &compact_json(container));
            }
            Some(Value::Array(items)) => {
                out.push('[');
                open.push(Open::Array(items.iter(), true));
            }
            Some(Value::Object(map)) => {
                out.push('{');
                open.push(Open::Object(map.iter(), true));
            }
            Some(Value::String(text)) => write_string(out, text),
            // A number, bool or null: its Display is its JSON.
            Some(scalar) => out.push_str(&scalar.to_string()),
            None => {}
        }
        let Some(container) = open.last_mut() else {
            return;
        };
        let (item, first) = match container {
            Open::Array(items, first) => (items.next().map(|item| (None, item)), first),
            Open::Object(entries, first) => (entries.next().map(|(k, v)| (Some(k), v)), first),
        };
        match item {
            Some((key, item)) => {
                if !std::mem::take(first) {
                    out.push(',');
                }
                if let Some(key) = key {
                    write_string(out, key);
                    out.push(':');
                }
                next = Some(item);
            }
            None => {
                out.push(match container {
                    Open::Array(..) => ']',
                    Open::Object(..) => '}',
                });
                open.pop();
            }
        }
    }
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it.
fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let byte = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[byte >> 4]));
                out.push(char::from(HEX[byte & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `{"k": {"k": ... "leaf" ...}}`, `depth` objects deep, built without recursion.
    fn nested(depth: usize) -> Value {
        let mut value = json!("leaf");
        for _ in 0..depth {
            value = Value::Object(Map::from_iter([("k".to_owned(), value)]));
        }
        value
    }

    #[test]
    fn very_deep_values_are_measured_and_flattened_without_recursion() {
        let mut value = nested(200_000);
        assert_eq!(json_depth(&value), 200_000);
        assert_eq!(bound_depth(&mut value, MAX_JSON_DEPTH), 1);
        assert_eq!(json_depth(&value), MAX_JSON_DEPTH);
        let mut inner = &value;
        for _ in 0..MAX_JSON_DEPTH {
            inner = &inner["k"];
        }
        let text = inner.as_str().expect("the deep rest is text");
        assert!(text.starts_with("{\"k\":{\"k\":"));
        assert!(text.trim_end_matches('}').ends_with(":\"leaf\""));
        assert_eq!(text.matches('{').count(), 200_000 - MAX_JSON_DEPTH);
        assert_eq!(text.matches('}').count(), 200_000 - MAX_JSON_DEPTH);
    }

    #[test]
    fn flattening_keeps_shallow_parts_and_counts_subtrees() {
        let mut map = json!({"a": [[[1]], {"b": {}}], "s": "x", "n": {"m": 1}})
            .as_object()
            .cloned()
            .expect("object");
        assert_eq!(object_depth(&map), 4);
        assert_eq!(bound_object_depth(&mut map, 2), 2);
        assert_eq!(
            Value::Object(map),
            json!({"a": ["[[1]]", "{\"b\":{}}"], "s": "x", "n": {"m": 1}})
        );
        let mut scalar = json!(3);
        assert_eq!(bound_depth(&mut scalar, 0), 0);
        let mut list = json!([1]);
        assert_eq!(bound_depth(&mut list, 0), 1);
        assert_eq!(list, json!("[1]"));
    }

    #[test]
    fn compact_text_matches_serde_json() {
        let value = json!({
            "text": "quote \" backslash \\ newline \n unicode é \u{1}",
            "numbers": [0, -1, 1.5, 1e300, u64::MAX],
            "empty": {"a": [], "o": {}},
            "key \"escaped\"": [true, false, null]
        });
        assert_eq!(
            compact_json(&value),
            serde_json::to_string(&value).expect("serializes")
        );
        assert_eq!(compact_json(&json!([])), "[]");
        assert_eq!(compact_json(&json!("s")), "\"s\"");
    }
}
