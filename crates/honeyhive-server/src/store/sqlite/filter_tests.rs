use proptest::prelude::*;
use serde_json::{Value, json};

use honeyhive_model::filter::{FieldPath, Filter, FilterSet};

use super::*;

fn filter(v: Value) -> Filter {
    Filter::from_json(&v).unwrap()
}

#[test]
fn sql_binds_values_and_paths_never_splices_them() {
    let hostile = "x' OR 1=1 --";
    let set = FilterSet::from_json(&json!([
        {"field": "metadata.a b", "operator": "is", "value": hostile, "type": "string"},
        {"field": "event_name", "operator": "contains", "value": hostile, "type": "string"},
        {"field": "metrics.score", "operator": "greater than", "value": 0.5, "type": "number"},
        {"field": "metrics.passed", "operator": "is", "value": true, "type": "boolean"},
    ]))
    .unwrap();
    let cond = filters_sql(&set, &DefaultSqlColumns);
    assert!(!cond.sql.contains("OR 1=1"));
    assert!(!cond.sql.contains("a b"));
    assert_eq!(cond.sql.matches('?').count(), cond.params.len());
    assert!(cond.params.contains(&SqlParam::Text("$.\"a b\"".into())));
    assert!(cond.params.contains(&SqlParam::Text(hostile.into())));
    assert!(cond.params.contains(&SqlParam::Real(0.5)));
    assert!(cond.params.contains(&SqlParam::Integer(1)));
    assert!(cond.sql.contains("json_extract(metrics, ?) > ?"));
    assert_eq!(
        filters_sql(&FilterSet::default(), &DefaultSqlColumns).sql,
        "1"
    );
}

#[test]
fn sql_negations_wrap_the_positive_form() {
    let cond = filter_sql(
        &filter(json!({"field": "event_type", "operator": "is not", "value": "session"})),
        &DefaultSqlColumns,
    );
    assert_eq!(cond.sql, "NOT (COALESCE(event_type = ?, 0))");
    assert_eq!(cond.params, vec![SqlParam::Text("session".into())]);
}

#[test]
fn a_field_reads_as_its_column_or_its_json_path() {
    let set = FilterSet::from_json(&json!([
        {"field": "metadata.run_id", "operator": "is", "value": "r1", "type": "string"}
    ]))
    .unwrap();
    let cond = filters_sql(&set, &DefaultSqlColumns);
    assert!(!cond.sql.contains("r1") && !cond.sql.contains("run_id"));
    assert_eq!(cond.params.last(), Some(&SqlParam::Text("r1".into())));
    let expr = field_value_sql(
        &FieldPath::parse("metrics.score").unwrap(),
        &DefaultSqlColumns,
    );
    assert_eq!(expr.sql, "metrics -> ?");
    assert_eq!(expr.params, [SqlParam::Text("$.\"score\"".into())]);
    let expr = field_value_sql(&FieldPath::parse("duration").unwrap(), &DefaultSqlColumns);
    assert_eq!((expr.sql.as_str(), expr.params.len()), ("duration", 0));
}

/// A filter object with a field, operator, type and value drawn from what the
/// parser knows and what it does not.
fn arb_filter() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{0,12}Z?".prop_map(Value::String),
    ];
    (
        "(event_type|event_name|start_time|duration|error|metadata|metrics|inputs|feedback)(\\.[a-z\"\\\\ ]{0,4}){0,3}",
        "(is|is not|contains|not contains|greater than|less than|exists|not exists|after|before)",
        "(string|number|boolean|datetime)",
        value,
    )
        .prop_map(|(field, operator, kind, value)| {
            json!({"field": field, "operator": operator, "type": kind, "value": value})
        })
}

proptest! {
    #[test]
    fn every_placeholder_has_its_parameter(filters in prop::collection::vec(arb_filter(), 0..4)) {
        if let Ok(set) = FilterSet::from_json(&Value::Array(filters)) {
            let cond = filters_sql(&set, &DefaultSqlColumns);
            prop_assert_eq!(cond.sql.matches('?').count(), cond.params.len());
        }
    }
}
