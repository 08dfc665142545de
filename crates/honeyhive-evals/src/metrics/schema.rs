//! A documented subset of JSON Schema (draft 2020-12 keywords), enough for
//! structured-output checks without a heavy validator dependency.
//!
//! Supported: `type` (string or array; `integer` accepts whole floats), `enum`,
//! `const`, `properties`, `required`, `additionalProperties` (bool or schema),
//! `patternProperties`, `minProperties`, `maxProperties`, `items` (schema),
//! `prefixItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`, `minLength`,
//! `maxLength` (in Unicode scalars), `pattern` (Rust regex syntax, unanchored),
//! `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
//! `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, and local `$ref`
//! (`#`, `#/$defs/...`, `#/definitions/...`, any JSON pointer into the root).
//! Boolean schemas work. Unknown keywords (`format`, `title`, ...) are ignored, as
//! the specification allows for annotations. Remote `$ref`s are reported as errors.

use regex::Regex;
use serde_json::Value;

/// Depth limit for `$ref` chains, so a self-referencing schema cannot loop forever.
const MAX_DEPTH: usize = 64;

/// Validates `instance` against `schema`; returns every violation as
/// `"<json pointer>: <message>"` (empty when valid).
///
/// ```
/// use honeyhive_evals::metrics::validate_schema;
/// use serde_json::json;
/// let schema = json!({"type": "object", "required": ["name"], "properties": {"age": {"type": "integer", "minimum": 0}}});
/// assert!(validate_schema(&schema, &json!({"name": "x", "age": 3})).is_empty());
/// assert_eq!(validate_schema(&schema, &json!({"age": -1})).len(), 2);
/// ```
pub fn validate_schema(schema: &Value, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    Validator { root: schema }.check(schema, instance, "", 0, &mut errors);
    errors
}

struct Validator<'s> {
    root: &'s Value,
}

fn type_matches(name: &str, v: &Value) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| numbers_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| numbers_equal(v, w)))
        }
        _ => a == b,
    }
}

impl<'s> Validator<'s> {
    fn valid(&self, schema: &'s Value, instance: &Value, depth: usize) -> bool {
        let mut errors = Vec::new();
        self.check(schema, instance, "", depth, &mut errors);
        errors.is_empty()
    }

    fn resolve(&self, reference: &str) -> Option<&'s Value> {
        let pointer = reference.strip_prefix('#')?;
        if pointer.is_empty() {
            return Some(self.root);
        }
        self.root.pointer(pointer)
    }

    fn check(
        &self,
        schema: &'s Value,
        instance: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let mut fail = |message: String| {
            errors.push(format!(
                "{}: {message}",
                if path.is_empty() { "/" } else { path }
            ))
        };
        let obj = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return fail("no value is allowed here".into()),
            Value::Object(obj) => obj,
            _ => return fail("schema must be an object or a boolean".into()),
        };
        if depth > MAX_DEPTH {
            return fail("schema nesting or $ref chain too deep".into());
        }
        if let Some(Value::String(reference)) = obj.get("$ref") {
            match self.resolve(reference) {
                Some(target) => self.check(target, instance, path, depth + 1, errors),
                None => errors.push(format!("{path}: unresolvable $ref {reference}")),
            }
        }
        let mut fail = |message: String| {
            errors.push(format!(
                "{}: {message}",
                if path.is_empty() { "/" } else { path }
            ))
        };
        match obj.get("type") {
            Some(Value::String(t)) if !type_matches(t, instance) => {
                fail(format!("expected type {t}"))
            }
            Some(Value::Array(types))
                if !types
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| type_matches(t, instance))) =>
            {
                fail(format!(
                    "expected one of types {}",
                    Value::Array(types.clone())
                ))
            }
            _ => {}
        }
        if let Some(Value::Array(options)) = obj.get("enum")
            && !options.iter().any(|o| numbers_equal(o, instance))
        {
            fail("value is not one of the enum values".into());
        }
        if let Some(expected) = obj.get("const")
            && !numbers_equal(expected, instance)
        {
            fail(format!("expected const {expected}"));
        }
        self.check_number(obj, instance, &mut fail);
        self.check_string(obj, instance, &mut fail);
        self.check_array(obj, instance, path, depth, errors);
        self.check_object(obj, instance, path, depth, errors);
        self.check_combinators(obj, instance, path, depth, errors);
    }

    fn check_number(
        &self,
        obj: &serde_json::Map<String, Value>,
        instance: &Value,
        fail: &mut impl FnMut(String),
    ) {
        let Some(x) = instance.as_f64().filter(|_| instance.is_number()) else {
            return;
        };
        let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
        if let Some(m) = bound("minimum").filter(|m| x < *m) {
            fail(format!("{x} is less than minimum {m}"));
        }
        if let Some(m) = bound("maximum").filter(|m| x > *m) {
            fail(format!("{x} is greater than maximum {m}"));
        }
        if let Some(m) = bound("exclusiveMinimum").filter(|m| x <= *m) {
            fail(format!("{x} is not greater than exclusiveMinimum {m}"));
        }
        if let Some(m) = bound("exclusiveMaximum").filter(|m| x >= *m) {
            fail(format!("{x} is not less than exclusiveMaximum {m}"));
        }
        if let Some(m) = bound("multipleOf").filter(|m| *m > 0.0) {
            let q = x / m;
            if (q - q.round()).abs() > 1e-9 {
                fail(format!("{x} is not a multiple of {m}"));
            }
        }
    }

    fn check_string(
        &self,
        obj: &serde_json::Map<String, Value>,
        instance: &Value,
        fail: &mut impl FnMut(String),
    ) {
        let Some(s) = instance.as_str() else {
            return;
        };
        let len = s.chars().count() as u64;
        if let Some(m) = obj
            .get("minLength")
            .and_then(Value::as_u64)
            .filter(|m| len < *m)
        {
            fail(format!("string shorter than minLength {m}"));
        }
        if let Some(m) = obj
            .get("maxLength")
            .and_then(Value::as_u64)
            .filter(|m| len > *m)
        {
            fail(format!("string longer than maxLength {m}"));
        }
        if let Some(pattern) = obj.get("pattern").and_then(Value::as_str) {
            match Regex::new(pattern) {
                Ok(re) if !re.is_match(s) => {
                    fail(format!("string does not match pattern {pattern}"))
                }
                Ok(_) => {}
                Err(e) => fail(format!("invalid pattern {pattern}: {e}")),
            }
        }
    }

    fn check_array(
        &self,
        obj: &'s serde_json::Map<String, Value>,
        instance: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let Some(items) = instance.as_array() else {
            return;
        };
        let here = if path.is_empty() { "/" } else { path };
        let n = items.len() as u64;
        if let Some(m) = obj
            .get("minItems")
            .and_then(Value::as_u64)
            .filter(|m| n < *m)
        {
            errors.push(format!("{here}: fewer than minItems {m}"));
        }
        if let Some(m) = obj
            .get("maxItems")
            .and_then(Value::as_u64)
            .filter(|m| n > *m)
        {
            errors.push(format!("{here}: more than maxItems {m}"));
        }
        if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
            let duplicate = items
                .iter()
                .enumerate()
                .any(|(i, a)| items[i + 1..].iter().any(|b| numbers_equal(a, b)));
            if duplicate {
                errors.push(format!("{here}: items are not unique"));
            }
        }
        let prefix = obj.get("prefixItems").and_then(Value::as_array);
        let prefix_len = prefix.map_or(0, Vec::len);
        if let Some(prefix) = prefix {
            for (i, (schema, item)) in prefix.iter().zip(items).enumerate() {
                self.check(schema, item, &format!("{path}/{i}"), depth + 1, errors);
            }
        }
        if let Some(schema) = obj.get("items") {
            for (i, item) in items.iter().enumerate().skip(prefix_len) {
                self.check(schema, item, &format!("{path}/{i}"), depth + 1, errors);
            }
        }
        if let Some(schema) = obj.get("contains")
            && !items.iter().any(|item| self.valid(schema, item, depth + 1))
        {
            errors.push(format!("{here}: no item matches contains"));
        }
    }

    fn check_object(
        &self,
        obj: &'s serde_json::Map<String, Value>,
        instance: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let Some(map) = instance.as_object() else {
            return;
        };
        let here = if path.is_empty() { "/" } else { path };
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(key) {
                    errors.push(format!("{here}: missing required property {key}"));
                }
            }
        }
        let n = map.len() as u64;
        if let Some(m) = obj
            .get("minProperties")
            .and_then(Value::as_u64)
            .filter(|m| n < *m)
        {
            errors.push(format!("{here}: fewer than minProperties {m}"));
        }
        if let Some(m) = obj
            .get("maxProperties")
            .and_then(Value::as_u64)
            .filter(|m| n > *m)
        {
            errors.push(format!("{here}: more than maxProperties {m}"));
        }
        let properties = obj.get("properties").and_then(Value::as_object);
        let patterns: Vec<(Regex, &'s Value)> = obj
            .get("patternProperties")
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .filter_map(|(k, v)| Regex::new(k).ok().map(|re| (re, v)))
                    .collect()
            })
            .unwrap_or_default();
        for (key, value) in map {
            let child = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
            let mut matched = false;
            if let Some(schema) = properties.and_then(|p| p.get(key)) {
                matched = true;
                self.check(schema, value, &child, depth + 1, errors);
            }
            for (re, schema) in &patterns {
                if re.is_match(key) {
                    matched = true;
                    self.check(schema, value, &child, depth + 1, errors);
                }
            }
            if !matched && let Some(additional) = obj.get("additionalProperties") {
                if additional == &Value::Bool(false) {
                    errors.push(format!("{here}: additional property {key} is not allowed"));
                } else {
                    self.check(additional, value, &child, depth + 1, errors);
                }
            }
        }
    }

    fn check_combinators(
        &self,
        obj: &'s serde_json::Map<String, Value>,
        instance: &Value,
        path: &str,
        depth: usize,
        errors: &mut Vec<String>,
    ) {
        let here = if path.is_empty() { "/" } else { path };
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for schema in all {
                self.check(schema, instance, path, depth + 1, errors);
            }
        }
        if let Some(any) = obj.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|s| self.valid(s, instance, depth + 1))
        {
            errors.push(format!("{here}: matches none of anyOf"));
        }
        if let Some(one) = obj.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|s| self.valid(s, instance, depth + 1))
                .count();
            if matching != 1 {
                errors.push(format!(
                    "{here}: matches {matching} of oneOf, expected exactly 1"
                ));
            }
        }
        if let Some(not) = obj.get("not")
            && self.valid(not, instance, depth + 1)
        {
            errors.push(format!("{here}: matches the not schema"));
        }
        if let Some(condition) = obj.get("if") {
            let branch = if self.valid(condition, instance, depth + 1) {
                "then"
            } else {
                "else"
            };
            if let Some(schema) = obj.get(branch) {
                self.check(schema, instance, path, depth + 1, errors);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(schema: Value, instance: Value) -> bool {
        validate_schema(&schema, &instance).is_empty()
    }

    #[test]
    fn types_enum_const_and_numbers() {
        assert!(ok(json!({"type": "integer"}), json!(3.0)));
        assert!(!ok(json!({"type": "integer"}), json!(3.5)));
        assert!(ok(json!({"type": ["string", "null"]}), json!(null)));
        assert!(!ok(json!({"enum": ["a", "b"]}), json!("c")));
        assert!(ok(json!({"const": 1}), json!(1.0)));
        assert!(!ok(json!({"exclusiveMaximum": 5}), json!(5)));
        assert!(ok(json!({"multipleOf": 0.1}), json!(0.3)));
        assert!(!ok(json!({"multipleOf": 2}), json!(3)));
        assert!(!ok(json!(false), json!(1)));
    }

    #[test]
    fn strings_arrays_objects() {
        assert!(!ok(json!({"minLength": 3}), json!("日本")));
        assert!(ok(json!({"pattern": "^[a-z]+$"}), json!("abc")));
        assert!(!ok(json!({"uniqueItems": true}), json!([1, 1.0])));
        assert!(!ok(
            json!({"prefixItems": [{"type": "string"}], "items": {"type": "number"}}),
            json!(["a", "b"])
        ));
        assert!(ok(json!({"contains": {"const": 2}}), json!([1, 2])));
        let schema = json!({"properties": {"a": {"type": "string"}}, "patternProperties": {"^x-": {}}, "additionalProperties": false});
        assert!(ok(schema.clone(), json!({"a": "s", "x-y": 1})));
        let errors = validate_schema(&schema, &json!({"a": 1, "b": 2}));
        assert_eq!(
            errors,
            [
                "/a: expected type string",
                "/: additional property b is not allowed"
            ]
        );
    }

    #[test]
    fn combinators_and_refs() {
        let schema = json!({
            "$defs": {"pos": {"type": "number", "minimum": 0}},
            "anyOf": [{"$ref": "#/$defs/pos"}, {"type": "string"}],
            "not": {"const": "forbidden"},
        });
        assert!(ok(schema.clone(), json!(3)));
        assert!(!ok(schema.clone(), json!(-3)));
        assert!(!ok(schema, json!("forbidden")));
        assert!(!ok(
            json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}),
            json!(1)
        ));
        assert!(ok(
            json!({"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "number"}}),
            json!(4)
        ));
        let looping = json!({"$ref": "#"});
        assert!(!validate_schema(&looping, &json!(1)).is_empty());
        assert!(!ok(json!({"$ref": "https://example.com/s.json"}), json!(1)));
    }
}
