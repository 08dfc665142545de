//! Rebuilding nested JSON from flattened, dotted attribute keys.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::limits::MAX_KEY_SEGMENTS;

/// Above this many children a branch keeps a key index, so that a span with
/// thousands of flattened list items is still mapped in linear time.
const INDEX_THRESHOLD: usize = 16;

/// A JSON object being rebuilt from dotted keys (`result.completion` → `{result: {completion}}`).
///
/// Objects created *by the flattening* whose keys are exactly `0..n` become arrays
/// again (the Python SDK flattens lists as `key.0`, `key.1`, ...); objects that
/// arrived as JSON values are left exactly as they are.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    children: Vec<(String, Node)>,
    index: Option<HashMap<String, usize>>,
}

#[derive(Debug)]
enum Node {
    Leaf(Value),
    Branch(Tree),
}

impl Tree {
    pub(crate) fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// Inserts `value` at the dotted `path`. On a conflict the later write wins.
    ///
    /// The path is split into at most [`MAX_KEY_SEGMENTS`] segments: past the
    /// cap, the rest of the path (dots included) is one literal key, so the tree
    /// is never deeper than the cap and nothing of the key is lost.
    pub(crate) fn insert_dotted(&mut self, path: &str, value: Value) {
        let mut segments = path.splitn(MAX_KEY_SEGMENTS, '.');
        let first = segments.next().unwrap_or_default();
        self.insert_path(first, segments, value);
    }

    /// Inserts `value` under one literal key (no dot splitting).
    pub(crate) fn insert_key(&mut self, key: &str, value: Value) {
        self.insert_path(key, std::iter::empty(), value);
    }

    /// Walks down (creating branches) one level per segment of `rest`, then
    /// sets the leaf. A loop, not recursion: the callers bound the segments.
    fn insert_path<'a>(
        &mut self,
        mut key: &'a str,
        rest: impl Iterator<Item = &'a str>,
        value: Value,
    ) {
        let mut tree = self;
        for next in rest {
            let position = tree.position_or_push(key, || Node::Branch(Tree::default()));
            let node = &mut tree.children[position].1;
            if let Node::Leaf(_) = node {
                *node = Node::Branch(Tree::default());
            }
            let Node::Branch(child) = node else {
                return;
            };
            tree = child;
            key = next;
        }
        let position = tree.position_or_push(key, || Node::Leaf(Value::Null));
        tree.children[position].1 = Node::Leaf(value);
    }

    fn position_or_push(&mut self, key: &str, make: impl FnOnce() -> Node) -> usize {
        let found = match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.children.iter().position(|(k, _)| k == key),
        };
        if let Some(position) = found {
            return position;
        }
        self.children.push((key.to_owned(), make()));
        let position = self.children.len() - 1;
        if let Some(index) = &mut self.index {
            index.insert(key.to_owned(), position);
        } else if self.children.len() > INDEX_THRESHOLD {
            self.index = Some(
                self.children
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect(),
            );
        }
        position
    }

    /// Consumes the tree into a JSON object.
    pub(crate) fn into_map(self) -> Map<String, Value> {
        self.children
            .into_iter()
            .map(|(key, node)| (key, node.into_value()))
            .collect()
    }

    /// Consumes the tree into a JSON value: an array if its keys are exactly `0..n`.
    ///
    /// Recurses once per level of branches, which [`Tree::insert_dotted`] keeps
    /// within [`MAX_KEY_SEGMENTS`].
    pub(crate) fn into_value(self) -> Value {
        let n = self.children.len();
        let mut slots: Vec<Option<Value>> = Vec::new();
        let is_list = n > 0
            && self
                .children
                .iter()
                .all(|(key, _)| canonical_index(key).is_some_and(|i| i < n));
        if !is_list {
            return Value::Object(self.into_map());
        }
        slots.resize_with(n, || None);
        for (key, node) in self.children {
            if let Some(i) = canonical_index(&key) {
                slots[i] = Some(node.into_value());
            }
        }
        // Keys are unique and all below n, so every slot is filled.
        Value::Array(
            slots
                .into_iter()
                .map(|v| v.unwrap_or(Value::Null))
                .collect(),
        )
    }
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(value) => value,
            Node::Branch(tree) => tree.into_value(),
        }
    }
}

/// `Some(i)` for a list index written canonically (`"0"`, `"12"`, not `"01"` or `"+1"`).
fn canonical_index(key: &str) -> Option<usize> {
    if key.is_empty() || key.len() > 9 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if key.len() > 1 && key.starts_with('0') {
        return None;
    }
    key.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_keys_nest_and_indexes_become_arrays() {
        let mut tree = Tree::default();
        tree.insert_dotted("result.completion", json!("HI"));
        tree.insert_dotted("list.1", json!("b"));
        tree.insert_dotted("list.0", json!("a"));
        tree.insert_dotted("gappy.0", json!(1));
        tree.insert_dotted("gappy.2", json!(3));
        tree.insert_key("a.b", json!({"0": "kept"}));
        assert_eq!(
            Value::Object(tree.into_map()),
            json!({
                "result": {"completion": "HI"},
                "list": ["a", "b"],
                "gappy": {"0": 1, "2": 3},
                "a.b": {"0": "kept"}
            })
        );
    }

    #[test]
    fn later_writes_win_on_conflicts() {
        let mut tree = Tree::default();
        tree.insert_dotted("x", json!(1));
        tree.insert_dotted("x.y", json!(2));
        tree.insert_dotted("z.w", json!(3));
        tree.insert_dotted("z", json!(4));
        assert_eq!(
            Value::Object(tree.into_map()),
            json!({"x": {"y": 2}, "z": 4})
        );
    }

    #[test]
    fn segments_past_the_cap_stay_one_literal_key() {
        let segments: Vec<String> = (0..5000).map(|i| format!("s{i}")).collect();
        let mut tree = Tree::default();
        tree.insert_dotted(&segments.join("."), json!("deep"));
        tree.insert_dotted(&segments[..MAX_KEY_SEGMENTS].join("."), json!("at the cap"));
        let mut value = Value::Object(tree.into_map());
        for segment in &segments[..MAX_KEY_SEGMENTS - 1] {
            value = value
                .get_mut(segment.as_str())
                .unwrap_or_else(|| panic!("{segment} nested"))
                .take();
        }
        let last = MAX_KEY_SEGMENTS - 1;
        assert_eq!(
            value,
            json!({
                segments[last..].join("."): "deep",
                segments[last].clone(): "at the cap",
            })
        );
    }

    #[test]
    fn many_children_use_the_index_and_keep_order() {
        let mut tree = Tree::default();
        for i in 0..100 {
            tree.insert_dotted(&format!("items.{i}.name"), json!(format!("n{i}")));
            tree.insert_dotted(&format!("items.{i}.rank"), json!(i));
        }
        let value = Value::Object(tree.into_map());
        let items = value["items"]
            .as_array()
            .expect("items rebuilt as an array");
        assert_eq!(items.len(), 100);
        assert_eq!(items[42], json!({"name": "n42", "rank": 42}));
    }
}
