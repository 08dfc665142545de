use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::{Event, EventType, ModelError};

fn filter(v: Value) -> Filter {
    Filter::from_json(&v).unwrap()
}

fn sample_event() -> Event {
    let mut e = Event {
        event_id: "e1".into(),
        session_id: "s1".into(),
        parent_id: Some("s1".into()),
        event_type: EventType::Model,
        event_name: "openai.chat".into(),
        source: "dev".into(),
        start_time: 1_700_000_000_000.0,
        end_time: 1_700_000_000_500.0,
        duration: 500.0,
        ..Event::default()
    };
    e.metadata.insert("run_id".into(), json!("r1"));
    e.metadata
        .insert("nested".into(), json!({"deep": {"k": 7}}));
    e.metrics.insert("score".into(), json!(0.75));
    e.metrics.insert("passed".into(), json!(true));
    e.inputs.insert("question".into(), json!("What is Rust?"));
    e.config.insert("model".into(), json!("gpt-4o"));
    e
}

#[test]
fn parses_every_spec_operator() {
    for (op, expected) in [
        ("is", Operator::Is),
        ("is not", Operator::IsNot),
        ("contains", Operator::Contains),
        ("not contains", Operator::NotContains),
        ("greater than", Operator::GreaterThan),
        ("less than", Operator::LessThan),
        ("after", Operator::After),
        ("before", Operator::Before),
        ("exists", Operator::Exists),
        ("not exists", Operator::NotExists),
    ] {
        assert_eq!(Operator::parse(op).unwrap(), expected);
        assert_eq!(expected.as_str(), op);
    }
}

#[test]
fn parses_fields() {
    assert_eq!(
        FieldPath::parse("event_type").unwrap(),
        FieldPath::Column(Column::EventType)
    );
    assert_eq!(
        FieldPath::parse("inputs.x.y").unwrap(),
        FieldPath::Json {
            root: JsonRoot::Inputs,
            path: vec!["x".into(), "y".into()]
        }
    );
    assert_eq!(
        FieldPath::parse("metrics").unwrap(),
        FieldPath::Json {
            root: JsonRoot::Metrics,
            path: vec![]
        }
    );
    for bad in [
        "",
        "  ",
        "unknown",
        "event_type.x",
        "metadata..x",
        "metadata.",
        "metadata.a\"b",
        "metadata.a\\b",
    ] {
        assert!(
            matches!(
                FieldPath::parse(bad),
                Err(ModelError::FilterInvalidField(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn clear_errors_for_bad_filters() {
    let cases = [
        (json!("nope"), "malformed"),
        (json!([1]), "malformed"),
        (json!({"operator": "is", "value": "x"}), "missing `field`"),
        (
            json!({"field": "event_type", "value": "x"}),
            "missing `operator`",
        ),
        (
            json!({"field": "event_type", "operator": "like", "value": "x"}),
            "unknown filter operator",
        ),
        (
            json!({"field": "metrics.score", "operator": "is", "value": 1, "type": "float64x"}),
            "unknown filter type",
        ),
        (
            json!({"field": "metrics.score", "operator": "greater than", "value": "high", "type": "number"}),
            "not a valid number",
        ),
        (
            json!({"field": "metrics.score", "operator": "greater than", "value": "x", "type": "string"}),
            "cannot be used",
        ),
        (
            json!({"field": "start_time", "operator": "contains", "value": "1"}),
            "cannot be used",
        ),
        (
            json!({"field": "metadata", "operator": "is", "value": "x"}),
            "cannot be used",
        ),
        (
            json!({"field": "bogus.field", "operator": "is", "value": "x"}),
            "unknown or invalid filter field",
        ),
    ];
    for (input, expected) in cases {
        let err = FilterSet::from_json(&input).unwrap_err().to_string();
        assert!(err.contains(expected), "{input} -> {err}");
    }
}

#[test]
fn value_typing_and_coercion() {
    let f = filter(
        json!({"field": "metrics.score", "operator": "is", "value": "0.5", "type": "number"}),
    );
    assert_eq!(f.value, FilterValue::Number(0.5));
    let f = filter(
        json!({"field": "metrics.passed", "operator": "is", "value": "TRUE", "type": "boolean"}),
    );
    assert_eq!(f.value, FilterValue::Bool(true));
    let f = filter(
        json!({"field": "start_time", "operator": "after", "value": "1970-01-01T00:00:01Z", "type": "datetime"}),
    );
    assert_eq!(f.value, FilterValue::DateTime(1000.0));
    let f = filter(
        json!({"field": "start_time", "operator": "greater than", "value": "12", "type": "string"}),
    );
    assert_eq!(f.value, FilterValue::Number(12.0));
    let f = filter(json!({"field": "event_name", "operator": "is", "value": 5}));
    assert_eq!(f.value, FilterValue::Text("5".into()));
    let f = filter(json!({"field": "error", "operator": "exists"}));
    assert_eq!(f.value, FilterValue::None);
}

#[test]
fn filter_set_accepts_string_object_and_null() {
    assert!(
        FilterSet::from_json(&Value::Null)
            .unwrap()
            .filters
            .is_empty()
    );
    let single =
        json!({"field": "event_type", "operator": "is", "value": "model", "type": "string"});
    assert_eq!(FilterSet::from_json(&single).unwrap().filters.len(), 1);
    let encoded = Value::String(json!([single.clone(), single]).to_string());
    assert_eq!(FilterSet::from_json(&encoded).unwrap().filters.len(), 2);
    assert!(FilterSet::from_json(&json!("\"[]\"")).is_err());
}

#[test]
fn evaluates_over_events() {
    let e = sample_event();
    let yes = [
        json!({"field": "event_type", "operator": "is not", "value": "session", "type": "string"}),
        json!({"field": "event_type", "operator": "is", "value": "model", "type": "string"}),
        json!({"field": "metadata.run_id", "operator": "is", "value": "r1", "type": "string"}),
        json!({"field": "metadata.nested.deep.k", "operator": "greater than", "value": 6, "type": "number"}),
        json!({"field": "metrics.score", "operator": "greater than", "value": 0.5, "type": "number"}),
        json!({"field": "metrics.score", "operator": "less than", "value": 1, "type": "number"}),
        json!({"field": "metrics.passed", "operator": "is", "value": true, "type": "boolean"}),
        json!({"field": "inputs.question", "operator": "contains", "value": "Rust", "type": "string"}),
        json!({"field": "inputs.question", "operator": "not contains", "value": "rust", "type": "string"}),
        json!({"field": "inputs", "operator": "contains", "value": "What is", "type": "string"}),
        json!({"field": "config.model", "operator": "is", "value": "gpt-4o", "type": "string"}),
        json!({"field": "error", "operator": "not exists", "value": null, "type": "string"}),
        json!({"field": "feedback", "operator": "not exists", "value": null, "type": "string"}),
        json!({"field": "metadata.missing", "operator": "is not", "value": "x", "type": "string"}),
        json!({"field": "start_time", "operator": "after", "value": "2023-11-14T00:00:00Z", "type": "datetime"}),
        json!({"field": "duration", "operator": "is", "value": 500, "type": "number"}),
    ];
    for f in yes {
        assert!(filter(f.clone()).matches(&e), "expected match: {f}");
    }
    let no = [
        json!({"field": "event_type", "operator": "is", "value": "session", "type": "string"}),
        json!({"field": "metadata.run_id", "operator": "is", "value": "r2", "type": "string"}),
        json!({"field": "metrics.score", "operator": "greater than", "value": 0.75, "type": "number"}),
        json!({"field": "metadata.run_id", "operator": "greater than", "value": 0, "type": "number"}),
        json!({"field": "metrics.score", "operator": "is", "value": "0.75", "type": "string"}),
        json!({"field": "metrics.missing", "operator": "exists", "value": null, "type": "number"}),
        json!({"field": "metadata.nested.deep.k.z", "operator": "exists", "value": null}),
        json!({"field": "start_time", "operator": "before", "value": "2023-11-14T00:00:00Z", "type": "datetime"}),
    ];
    for f in no {
        assert!(!filter(f.clone()).matches(&e), "expected no match: {f}");
    }
    let all = FilterSet::from_json(&json!([
        {"field": "event_type", "operator": "is", "value": "model", "type": "string"},
        {"field": "metadata.run_id", "operator": "is", "value": "r2", "type": "string"},
    ]))
    .unwrap();
    assert!(!all.matches(&e), "a filter list is a conjunction");
    assert!(FilterSet::default().matches(&e));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|i| json!(i)),
        prop_oneof![
            ".*",
            "(event_type|metadata|metrics|inputs|start_time|error)(\\.[a-z\"\\\\ ]{0,4}){0,3}",
            "(is|is not|contains|not contains|greater than|less than|exists|not exists|after|before|GT|=)",
            "(string|number|boolean|datetime|bogus)",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{0,12}Z?",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("field".to_string()),
                    Just("operator".to_string()),
                    Just("value".to_string()),
                    Just("type".to_string()),
                    ".{0,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        if let Ok(set) = FilterSet::from_json(&v) {
            let _ = set.matches(&sample_event());
        }
        let _ = FilterSet::from_json(&Value::String(v.to_string()));
    }

    #[test]
    fn arbitrary_strings_never_panic(field in ".*", op in ".*", date in ".*") {
        let _ = FieldPath::parse(&field);
        let _ = Operator::parse(&op);
        let _ = datetime::parse_datetime_ms(&date);
    }
}
