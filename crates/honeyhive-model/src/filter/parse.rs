//! Untrusted JSON → [`Filter`] AST. Every branch returns an error instead of panicking.

use serde_json::Value;

use crate::ModelError;

use super::{
    Column, FieldPath, Filter, FilterSet, FilterValue, JsonRoot, Operator,
    datetime::parse_datetime_ms,
};

/// Longest accepted `field` string; longer ones are certainly not real fields.
const MAX_FIELD_LEN: usize = 1024;
/// Deepest accepted JSON path below a root column.
const MAX_PATH_DEPTH: usize = 32;
/// Most filters accepted in one request; more is a mistake or an attack.
const MAX_FILTERS: usize = 256;

impl FieldPath {
    /// Parses a dotted field name such as `event_type`, `metadata.run_id` or `inputs.x.y`.
    ///
    /// ```
    /// use honeyhive_model::filter::{FieldPath, JsonRoot};
    /// assert_eq!(
    ///     FieldPath::parse("metadata.run_id").unwrap(),
    ///     FieldPath::Json { root: JsonRoot::Metadata, path: vec!["run_id".into()] },
    /// );
    /// assert!(FieldPath::parse("nope").is_err());
    /// ```
    pub fn parse(field: &str) -> Result<FieldPath, ModelError> {
        let invalid = || ModelError::FilterInvalidField(truncate(field));
        let trimmed = field.trim();
        if trimmed.is_empty() || trimmed.len() > MAX_FIELD_LEN {
            return Err(invalid());
        }
        let mut segments = trimmed.split('.');
        let head = segments.next().ok_or_else(invalid)?;
        let rest: Vec<&str> = segments.collect();
        if let Some(column) = Column::ALL.iter().find(|c| c.as_str() == head) {
            return if rest.is_empty() {
                Ok(FieldPath::Column(*column))
            } else {
                Err(invalid())
            };
        }
        let root = JsonRoot::ALL
            .iter()
            .find(|r| r.as_str() == head)
            .ok_or_else(invalid)?;
        if rest.len() > MAX_PATH_DEPTH {
            return Err(invalid());
        }
        let mut path = Vec::with_capacity(rest.len());
        for segment in rest {
            if !is_valid_segment(segment) {
                return Err(invalid());
            }
            path.push(segment.to_string());
        }
        Ok(FieldPath::Json { root: *root, path })
    }

    /// The dotted name this path was parsed from (canonical form).
    pub fn dotted(&self) -> String {
        match self {
            FieldPath::Column(c) => c.as_str().to_string(),
            FieldPath::Json { root, path } => {
                let mut s = root.as_str().to_string();
                for seg in path {
                    s.push('.');
                    s.push_str(seg);
                }
                s
            }
        }
    }
}

/// A JSON object key we can address safely in a JSON path: non-empty, and free of the
/// characters that would need escaping inside a quoted SQLite JSON path label.
fn is_valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 256
        && !segment
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl Operator {
    /// Parses an operator leniently: case-insensitive, `_`/`-` as spaces, and common
    /// symbolic aliases (`=`, `!=`, `>`, `<`).
    ///
    /// ```
    /// use honeyhive_model::filter::Operator;
    /// assert_eq!(Operator::parse("Greater_Than").unwrap(), Operator::GreaterThan);
    /// assert_eq!(Operator::parse("!=").unwrap(), Operator::IsNot);
    /// assert!(Operator::parse("like").is_err());
    /// ```
    pub fn parse(op: &str) -> Result<Operator, ModelError> {
        let normalized: String = op
            .trim()
            .chars()
            .map(|c| {
                if c == '_' || c == '-' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let normalized = normalized.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(match normalized.as_str() {
            "is" | "=" | "==" | "equals" | "eq" => Operator::Is,
            "is not" | "!=" | "<>" | "not equals" | "ne" => Operator::IsNot,
            "contains" => Operator::Contains,
            "not contains" | "does not contain" => Operator::NotContains,
            "greater than" | ">" | "gt" => Operator::GreaterThan,
            "less than" | "<" | "lt" => Operator::LessThan,
            "after" => Operator::After,
            "before" => Operator::Before,
            "exists" => Operator::Exists,
            "not exists" | "does not exist" => Operator::NotExists,
            _ => return Err(ModelError::FilterUnknownOperator(truncate(op))),
        })
    }
}

/// The declared `type` of a filter value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DeclaredType {
    String,
    Number,
    Boolean,
    DateTime,
}

fn parse_declared_type(v: Option<&Value>) -> Result<Option<DeclaredType>, ModelError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "string" | "text" | "id" => Ok(Some(DeclaredType::String)),
            "number" | "numeric" | "float" | "integer" | "int" => Ok(Some(DeclaredType::Number)),
            "boolean" | "bool" => Ok(Some(DeclaredType::Boolean)),
            "datetime" | "date" | "timestamp" => Ok(Some(DeclaredType::DateTime)),
            _ => Err(ModelError::FilterUnknownType(truncate(s))),
        },
        Some(other) => Err(ModelError::FilterUnknownType(truncate(&other.to_string()))),
    }
}

impl Filter {
    /// Parses one `SingleFilter` object (`{field, operator, value, type}`).
    ///
    /// `type` may be omitted (inferred from the JSON value); `value` may be omitted for
    /// `exists` / `not exists`. Numbers given as strings are accepted for `number` fields,
    /// ISO-8601 strings or epoch milliseconds for `datetime`.
    ///
    /// ```
    /// use honeyhive_model::filter::{Filter, FilterValue, Operator};
    /// let f = Filter::from_json(&serde_json::json!(
    ///     {"field": "metrics.score", "operator": "greater than", "value": "0.5", "type": "number"}
    /// )).unwrap();
    /// assert_eq!(f.operator, Operator::GreaterThan);
    /// assert_eq!(f.value, FilterValue::Number(0.5));
    /// ```
    pub fn from_json(v: &Value) -> Result<Filter, ModelError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ModelError::FilterMalformed("each filter must be an object".into()))?;
        let field_str = match obj.get("field") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(ModelError::FilterMalformed(
                    "`field` must be a string".into(),
                ));
            }
            None => return Err(ModelError::FilterMalformed("missing `field`".into())),
        };
        let field = FieldPath::parse(field_str)?;
        let operator = match obj.get("operator") {
            Some(Value::String(s)) => Operator::parse(s)?,
            Some(_) => {
                return Err(ModelError::FilterMalformed(
                    "`operator` must be a string".into(),
                ));
            }
            None => return Err(ModelError::FilterMalformed("missing `operator`".into())),
        };
        let declared = parse_declared_type(obj.get("type"))?;
        let raw = obj.get("value").unwrap_or(&Value::Null);
        let value = typed_value(&field, operator, declared, raw)?;
        Ok(Filter {
            field,
            operator,
            value,
        })
    }
}

/// Turns the raw JSON value into the typed value the operator and field need.
fn typed_value(
    field: &FieldPath,
    operator: Operator,
    declared: Option<DeclaredType>,
    raw: &Value,
) -> Result<FilterValue, ModelError> {
    if matches!(operator, Operator::Exists | Operator::NotExists) {
        return Ok(FilterValue::None);
    }
    let field_name = || field.dotted();
    let invalid = |expected: &'static str| ModelError::FilterInvalidValue {
        field: field_name(),
        expected,
    };
    let declared = match declared {
        Some(t) => t,
        None => match (operator, raw) {
            (Operator::After | Operator::Before, _) => DeclaredType::DateTime,
            (_, Value::Number(_)) => DeclaredType::Number,
            (_, Value::Bool(_)) => DeclaredType::Boolean,
            (_, Value::String(_)) => DeclaredType::String,
            _ => return Err(invalid("string, number or boolean")),
        },
    };
    let mut value = match declared {
        DeclaredType::String => match raw {
            Value::String(s) => FilterValue::Text(s.clone()),
            Value::Number(n) => FilterValue::Text(n.to_string()),
            Value::Bool(b) => FilterValue::Text(b.to_string()),
            _ => return Err(invalid("string")),
        },
        DeclaredType::Number => {
            FilterValue::Number(as_number(raw).ok_or_else(|| invalid("number"))?)
        }
        DeclaredType::Boolean => match raw {
            Value::Bool(b) => FilterValue::Bool(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => FilterValue::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => FilterValue::Bool(false),
            _ => return Err(invalid("boolean")),
        },
        DeclaredType::DateTime => {
            FilterValue::DateTime(as_datetime(raw).ok_or_else(|| invalid("datetime"))?)
        }
    };

    // Scalar columns have one storage type: coerce the value to it so that the
    // evaluator and every SQL backend compare like with like.
    if let FieldPath::Column(column) = field {
        value = if column.is_numeric() {
            match value {
                FilterValue::Text(s) => {
                    let v = Value::String(s);
                    match as_number(&v).or_else(|| as_datetime(&v)) {
                        Some(n) => FilterValue::Number(n),
                        None => return Err(invalid("number or datetime")),
                    }
                }
                FilterValue::DateTime(ms) => FilterValue::Number(ms),
                FilterValue::Bool(_) => return Err(invalid("number or datetime")),
                other => other,
            }
        } else {
            match value {
                FilterValue::Number(n) => FilterValue::Text(number_text(n)),
                FilterValue::Bool(b) => FilterValue::Text(b.to_string()),
                FilterValue::DateTime(_) => return Err(invalid("string")),
                other => other,
            }
        };
    }

    // After/before are datetime comparisons; a plain number is taken as epoch ms.
    if matches!(operator, Operator::After | Operator::Before)
        && let FilterValue::Number(n) = value
    {
        value = FilterValue::DateTime(n);
    }

    let mismatch = |value: &FilterValue| ModelError::FilterOperatorMismatch {
        field: field_name(),
        operator: operator.as_str(),
        value_type: value.type_name(),
    };
    match operator {
        Operator::GreaterThan | Operator::LessThan | Operator::After | Operator::Before => {
            if !matches!(value, FilterValue::Number(_) | FilterValue::DateTime(_)) {
                return Err(mismatch(&value));
            }
        }
        Operator::Contains | Operator::NotContains => {
            if let FilterValue::Number(n) = value {
                value = FilterValue::Text(number_text(n));
            }
            let numeric_column = matches!(field, FieldPath::Column(c) if c.is_numeric());
            if !matches!(value, FilterValue::Text(_)) || numeric_column {
                return Err(mismatch(&value));
            }
        }
        Operator::Is | Operator::IsNot | Operator::Exists | Operator::NotExists => {}
    }
    if let FieldPath::Json { path, .. } = field
        && path.is_empty()
        && !matches!(operator, Operator::Contains | Operator::NotContains)
    {
        return Err(mismatch(&value));
    }
    Ok(value)
}

/// A number as people write it: `5` rather than `5.0` for whole values.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn as_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn as_datetime(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|n| n.is_finite()),
        Value::String(s) => parse_datetime_ms(s).or_else(|| as_number(v)),
        _ => None,
    }
}

impl FilterSet {
    /// Parses a `FiltersArray`. Also accepts a single filter object, `null` (no
    /// filters), and either of those encoded as a JSON string (as query strings carry them).
    ///
    /// ```
    /// use honeyhive_model::filter::FilterSet;
    /// let set = FilterSet::from_json(&serde_json::json!(
    ///     "[{\"field\":\"event_type\",\"operator\":\"is\",\"value\":\"model\",\"type\":\"string\"}]"
    /// )).unwrap();
    /// assert_eq!(set.filters.len(), 1);
    /// assert!(FilterSet::from_json(&serde_json::json!([{"field": "x"}])).is_err());
    /// ```
    pub fn from_json(v: &Value) -> Result<FilterSet, ModelError> {
        match v {
            Value::Null => Ok(FilterSet::default()),
            Value::String(s) if s.trim().is_empty() => Ok(FilterSet::default()),
            Value::String(s) => {
                let inner: Value = serde_json::from_str(s).map_err(|e| {
                    ModelError::FilterMalformed(format!("filters are not valid json: {e}"))
                })?;
                if inner.is_string() {
                    return Err(ModelError::FilterMalformed(
                        "filters must be an array of objects".into(),
                    ));
                }
                FilterSet::from_json(&inner)
            }
            Value::Array(items) => {
                if items.len() > MAX_FILTERS {
                    return Err(ModelError::FilterMalformed(format!(
                        "at most {MAX_FILTERS} filters are allowed"
                    )));
                }
                let filters = items
                    .iter()
                    .map(Filter::from_json)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(FilterSet { filters })
            }
            Value::Object(_) => Ok(FilterSet {
                filters: vec![Filter::from_json(v)?],
            }),
            _ => Err(ModelError::FilterMalformed(
                "filters must be an array of objects".into(),
            )),
        }
    }

    /// Adds one more filter to the conjunction.
    pub fn push(&mut self, filter: Filter) {
        self.filters.push(filter);
    }
}
