//! `--filter` as `hh eval events` and `hh tail` read it: a shorthand
//! (`field=value`, `field!=value`, `field>number`, `field<number`,
//! `field~text`, `field?`) or one HoneyHive filter as JSON.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// One filter: a field, an operator and a value, as `GET /events` reads them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FilterSpec {
    pub field: String,
    pub operator: String,
    pub value: Value,
}

impl FilterSpec {
    /// The HoneyHive filter object (`{field, operator, value, type}`, the type
    /// that of the value).
    pub(crate) fn to_json(&self) -> Value {
        let kind = match &self.value {
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            _ => "string",
        };
        json!({"field": self.field, "operator": self.operator, "value": self.value, "type": kind})
    }
}

fn number_or_text(raw: &str) -> Value {
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| Value::String(raw.trim().to_string()), Value::Number)
}

/// Reads one `--filter`.
pub(crate) fn parse(spec: &str) -> Result<FilterSpec> {
    let spec = spec.trim();
    let filter = |field: &str, operator: &str, value: Value| FilterSpec {
        field: field.to_string(),
        operator: operator.to_string(),
        value,
    };
    if spec.starts_with('{') {
        let raw: Value = serde_json::from_str(spec).context("filter JSON")?;
        let field = raw.get("field").and_then(Value::as_str);
        let operator = raw.get("operator").and_then(Value::as_str);
        let (Some(field), Some(operator)) = (field, operator) else {
            bail!("a JSON filter needs `field` and `operator`");
        };
        let value = raw.get("value").cloned().unwrap_or(Value::Null);
        return Ok(filter(field, operator, value));
    }
    if let Some(field) = spec.strip_suffix('?') {
        return Ok(filter(field.trim(), "exists", Value::String(String::new())));
    }
    // Two-character operators first, so `!=` is not read as `=`.
    for (token, operator, numeric) in [
        ("!=", "is not", false),
        ("=", "is", false),
        (">", "greater than", true),
        ("<", "less than", true),
        ("~", "contains", false),
    ] {
        if let Some((field, value)) = spec.split_once(token) {
            let field = field.trim();
            if field.is_empty() {
                bail!("filter {spec:?} has no field");
            }
            let value = if numeric {
                number_or_text(value)
            } else {
                Value::String(value.trim().to_string())
            };
            return Ok(filter(field, operator, value));
        }
    }
    bail!(
        "cannot read filter {spec:?} (use field=value, field!=value, field>n, field<n, field~text, field?)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_and_json_read_as_filters() {
        let read = |spec: &str| parse(spec).expect(spec).to_json();
        assert_eq!(
            read("event_type=model"),
            json!({"field": "event_type", "operator": "is", "value": "model", "type": "string"})
        );
        assert_eq!(read("error!=x")["operator"], "is not");
        assert_eq!(read("metrics.score>0.5")["value"], 0.5);
        assert_eq!(read("event_name~chat")["operator"], "contains");
        assert_eq!(read("error?")["operator"], "exists");
        assert_eq!(
            read(r#"{"field": "source", "operator": "is", "value": "prod"}"#)["value"],
            "prod"
        );
        assert!(parse("no operator").is_err());
        assert!(parse("=x").is_err());
    }
}
