//! Filters and field reads → parameterised SQL (SQLite dialect: `json_extract`, `json_type`, `->`).
//!
//! Column names come from [`SqlColumns`], which only hands out `&'static str`, so no
//! request data can reach the SQL text: values *and* JSON paths are bound as `?`
//! parameters, in order. The semantics match the model's in-memory evaluator
//! ([`FilterSet::matches`]; the store behaviour suite checks they agree); JSON
//! columns are expected to hold compact JSON object text.

use honeyhive_model::filter::{
    Column, FieldPath, Filter, FilterSet, FilterValue, JsonRoot, Operator,
};

/// One bound parameter of an [`SqlCondition`].
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// A text value.
    Text(String),
    /// A floating-point value.
    Real(f64),
    /// An integer value (booleans are bound as 1/0).
    Integer(i64),
}

/// A SQL expression (a filter's condition, or a field's value) with its
/// positional (`?`) parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlCondition {
    /// The expression text; every `?` matches one entry of `params`, in order.
    pub sql: String,
    /// The parameters to bind.
    pub params: Vec<SqlParam>,
}

/// Where each event field lives in the backend's table. Implementations return
/// fixed identifiers (possibly table-qualified, e.g. `"e.start_time"`).
pub trait SqlColumns {
    /// The SQL column holding a scalar field.
    fn column(&self, column: Column) -> &'static str;
    /// The SQL column holding a JSON object field (as JSON text).
    fn json_column(&self, root: JsonRoot) -> &'static str;
}

/// Columns named exactly like the event fields (`event_type`, `metadata`, ...).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultSqlColumns;

impl SqlColumns for DefaultSqlColumns {
    fn column(&self, column: Column) -> &'static str {
        column.as_str()
    }
    fn json_column(&self, root: JsonRoot) -> &'static str {
        root.as_str()
    }
}

/// The conjunction of all filters of `set` as one SQL condition (`1` when empty).
pub fn filters_sql(set: &FilterSet, columns: &dyn SqlColumns) -> SqlCondition {
    if set.filters.is_empty() {
        return SqlCondition {
            sql: "1".into(),
            params: Vec::new(),
        };
    }
    let mut sql = String::new();
    let mut params = Vec::new();
    for (i, filter) in set.filters.iter().enumerate() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        let cond = filter_sql(filter, columns);
        sql.push('(');
        sql.push_str(&cond.sql);
        sql.push(')');
        params.extend(cond.params);
    }
    SqlCondition { sql, params }
}

/// A field's stored value as a SQL expression, for reading only the fields a
/// query needs: a scalar field is its column; a JSON field is the JSON text of
/// the value at its path (SQLite's `->`), `NULL` when the path is absent. The
/// path is a bound parameter, like a filter's.
pub fn field_value_sql(field: &FieldPath, columns: &dyn SqlColumns) -> SqlCondition {
    match field {
        FieldPath::Column(column) => SqlCondition {
            sql: columns.column(*column).to_string(),
            params: Vec::new(),
        },
        FieldPath::Json { root, path } => SqlCondition {
            sql: format!("{} -> ?", columns.json_column(*root)),
            params: vec![SqlParam::Text(json_path(path))],
        },
    }
}

/// The JSON path for SQLite's JSON functions, every key quoted: `$."a"."b"`.
/// Keys were validated at parse time to contain no quote, backslash or control character.
fn json_path(path: &[String]) -> String {
    let mut out = String::from("$");
    for key in path {
        out.push_str(".\"");
        out.push_str(key);
        out.push('"');
    }
    out
}

fn value_param(value: &FilterValue) -> SqlParam {
    match value {
        FilterValue::Text(s) => SqlParam::Text(s.clone()),
        FilterValue::Number(n) | FilterValue::DateTime(n) => SqlParam::Real(*n),
        FilterValue::Bool(b) => SqlParam::Integer(i64::from(*b)),
        FilterValue::None => SqlParam::Text(String::new()),
    }
}

const NUMERIC_JSON_TYPES: &str = "('integer','real','true','false')";

/// One filter alone as a SQL condition.
pub fn filter_sql(filter: &Filter, columns: &dyn SqlColumns) -> SqlCondition {
    let mut params = Vec::new();
    let sql = match &filter.field {
        FieldPath::Column(column) => {
            let col = columns.column(*column);
            column_sql(col, filter.operator, &filter.value, &mut params)
        }
        FieldPath::Json { root, path } if path.is_empty() => {
            let col = columns.json_column(*root);
            whole_object_sql(col, filter.operator, &filter.value, &mut params)
        }
        FieldPath::Json { root, path } => {
            let col = columns.json_column(*root);
            json_value_sql(
                col,
                &json_path(path),
                filter.operator,
                &filter.value,
                &mut params,
            )
        }
    };
    SqlCondition { sql, params }
}

fn column_sql(col: &str, op: Operator, value: &FilterValue, params: &mut Vec<SqlParam>) -> String {
    let positive = match op {
        Operator::Exists | Operator::NotExists => format!("{col} IS NOT NULL"),
        Operator::Is | Operator::IsNot => {
            params.push(value_param(value));
            format!("COALESCE({col} = ?, 0)")
        }
        Operator::Contains | Operator::NotContains => {
            params.push(value_param(value));
            format!("COALESCE(instr({col}, ?) > 0, 0)")
        }
        Operator::GreaterThan | Operator::After => {
            params.push(value_param(value));
            format!("COALESCE({col} > ?, 0)")
        }
        Operator::LessThan | Operator::Before => {
            params.push(value_param(value));
            format!("COALESCE({col} < ?, 0)")
        }
    };
    negate_if_needed(op, positive)
}

fn whole_object_sql(
    col: &str,
    op: Operator,
    value: &FilterValue,
    params: &mut Vec<SqlParam>,
) -> String {
    let positive = match op {
        Operator::Contains | Operator::NotContains => {
            params.push(value_param(value));
            format!("COALESCE(instr(json({col}), ?) > 0, 0)")
        }
        // Parsing only lets exists/contains through for whole objects.
        _ => format!("COALESCE((SELECT count(*) FROM json_each({col})) > 0, 0)"),
    };
    negate_if_needed(op, positive)
}

fn json_value_sql(
    col: &str,
    path: &str,
    op: Operator,
    value: &FilterValue,
    params: &mut Vec<SqlParam>,
) -> String {
    let path_param = || SqlParam::Text(path.to_string());
    let positive = match op {
        Operator::Exists | Operator::NotExists => {
            params.push(path_param());
            format!("COALESCE(json_type({col}, ?), 'null') != 'null'")
        }
        Operator::Is | Operator::IsNot => {
            params.push(path_param());
            params.push(path_param());
            params.push(value_param(value));
            let types = if matches!(value, FilterValue::Text(_)) {
                "('text')"
            } else {
                NUMERIC_JSON_TYPES
            };
            format!("COALESCE(json_type({col}, ?) IN {types} AND json_extract({col}, ?) = ?, 0)")
        }
        Operator::Contains | Operator::NotContains => {
            params.push(path_param());
            params.push(path_param());
            params.push(value_param(value));
            // json_extract reads JSON booleans as 1/0; the evaluator sees `true`/`false`.
            format!(
                "COALESCE(instr(CASE json_type({col}, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                 ELSE CAST(json_extract({col}, ?) AS TEXT) END, ?) > 0, 0)"
            )
        }
        Operator::GreaterThan | Operator::After | Operator::LessThan | Operator::Before => {
            params.push(path_param());
            params.push(path_param());
            params.push(value_param(value));
            let cmp = if matches!(op, Operator::GreaterThan | Operator::After) {
                ">"
            } else {
                "<"
            };
            format!(
                "COALESCE(json_type({col}, ?) IN {NUMERIC_JSON_TYPES} AND json_extract({col}, ?) {cmp} ?, 0)"
            )
        }
    };
    negate_if_needed(op, positive)
}

fn negate_if_needed(op: Operator, positive: String) -> String {
    if matches!(
        op,
        Operator::IsNot | Operator::NotContains | Operator::NotExists
    ) {
        format!("NOT ({positive})")
    } else {
        positive
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
