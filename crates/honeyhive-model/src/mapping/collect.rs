//! Sorting a span's attributes into buckets in one pass.

use serde_json::{Map, Value};

use super::keys::{self as k, KNOWN};
use super::tree::Tree;
use super::values::{as_text, is_present, lenient_json};
use crate::attributes::Namespace;

/// The attributes of a span, sorted into buckets in one pass.
#[derive(Default)]
pub(super) struct Collected {
    pub(super) known: Vec<(&'static str, Value)>,
    /// One per [`Namespace`], indexed by its discriminant.
    pub(super) namespaces: [Tree; 7],
    pub(super) prompts: Tree,
    pub(super) completions: Tree,
    pub(super) oi_input: Tree,
    pub(super) oi_output: Tree,
    pub(super) oi_tools: Tree,
    pub(super) llm_functions: Tree,
    pub(super) config_extra: Tree,
    pub(super) metadata_extra: Tree,
    pub(super) unknown: Vec<(String, Value)>,
}

impl Collected {
    pub(super) fn add(&mut self, key: &str, value: Value) {
        if let Some(known) = KNOWN.get(key) {
            // The first occurrence wins: span attributes are read before event attributes.
            if !self.known.iter().any(|(seen, _)| seen == known) {
                self.known.push((known, value));
            }
            return;
        }
        if let Some((namespace, path)) = Namespace::parse_key(key) {
            let tree = &mut self.namespaces[namespace as usize];
            if let Some(path) = path {
                tree.insert_dotted(path, lenient_json(value));
                return;
            }
            match lenient_json(value) {
                Value::Object(entries) => {
                    for (entry_key, entry_value) in entries {
                        tree.insert_key(&entry_key, entry_value);
                    }
                }
                other => self.unknown.push((key.to_owned(), other)),
            }
            return;
        }
        let flat: [(&str, &mut Tree); 6] = [
            (k::FLAT_PROMPTS, &mut self.prompts),
            (k::FLAT_COMPLETIONS, &mut self.completions),
            (k::FLAT_OI_INPUT, &mut self.oi_input),
            (k::FLAT_OI_OUTPUT, &mut self.oi_output),
            (k::FLAT_OI_TOOLS, &mut self.oi_tools),
            (k::FLAT_LLM_FUNCTIONS, &mut self.llm_functions),
        ];
        for (prefix, tree) in flat {
            if let Some(path) = key.strip_prefix(prefix) {
                // Raw: message contents and tool arguments are strings in every
                // other convention too, so they stay strings here.
                tree.insert_dotted(path, value);
                return;
            }
        }
        for prefix in k::CONFIG_PREFIXES {
            if let Some(rest) = key.strip_prefix(prefix) {
                self.config_extra.insert_key(rest, lenient_json(value));
                return;
            }
        }
        for prefix in k::METADATA_PREFIXES {
            if let Some(rest) = key.strip_prefix(prefix) {
                self.metadata_extra.insert_key(rest, lenient_json(value));
                return;
            }
        }
        self.unknown.push((key.to_owned(), lenient_json(value)));
    }

    /// The first present value among `keys`.
    pub(super) fn get(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().find_map(|key| {
            self.known
                .iter()
                .find(|(seen, value)| seen == key && is_present(value))
                .map(|(_, value)| value)
        })
    }

    pub(super) fn one(&self, key: &str) -> Option<&Value> {
        self.get(&[key])
    }

    pub(super) fn text(&self, keys: &[&str]) -> Option<String> {
        self.get(keys).and_then(as_text)
    }

    pub(super) fn take_namespace(&mut self, namespace: Namespace) -> Map<String, Value> {
        std::mem::take(&mut self.namespaces[namespace as usize]).into_map()
    }
}
