//! Query-string and body helpers shared by the resource routes (events, runs,
//! datasets, the catalog): qs-style nested parameters (`filters[0][field]=x`,
//! `ids[]=a`), filters, date ranges, paging and projections.

use honeyhive_model::filter::{FilterSet, parse_datetime_ms};
use serde_json::{Map, Value};

use serde_json::json;

use super::ApiError;

/// Most rows one page may hold.
pub(crate) const MAX_PAGE_SIZE: u64 = 7500;
/// Page size when none is asked for.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = 1000;

/// Query parameters as a JSON tree, following the `qs` conventions the HoneyHive
/// clients use: `a=1` → `{"a": "1"}`, `a[]=1&a[]=2` → `{"a": ["1","2"]}`,
/// `a[0][b]=1` → `{"a": {"0": {"b": "1"}}}` (read back as an array where the keys
/// are indexes). A repeated plain key collects into an array.
pub(crate) fn qs_tree(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in pairs {
        let (head, segments) = split_key(key);
        insert_path(&mut root, head, &segments, Value::String(value.clone()));
    }
    root
}

/// `a[b][]` → (`a`, [`b`, ``]). Keys that are not well-formed brackets are taken whole.
fn split_key(key: &str) -> (&str, Vec<&str>) {
    let Some(open) = key.find('[') else {
        return (key, Vec::new());
    };
    let (head, mut rest) = key.split_at(open);
    let mut segments = Vec::new();
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            return (key, Vec::new());
        };
        segments.push(&stripped[..close]);
        rest = &stripped[close + 1..];
    }
    if !rest.is_empty() || head.is_empty() || segments.len() > 8 {
        return (key, Vec::new());
    }
    (head, segments)
}

fn insert_path(map: &mut Map<String, Value>, key: &str, segments: &[&str], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        match map.get_mut(key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let previous = existing.take();
                *existing = Value::Array(vec![previous, value]);
            }
            None => {
                map.insert(key.to_string(), value);
            }
        }
        return;
    };
    if first.is_empty() {
        // `key[]`: append (deeper segments after `[]` are not supported; keep the value).
        let slot = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        match slot {
            Value::Array(items) => items.push(value),
            other => {
                let previous = other.take();
                *other = Value::Array(vec![previous, value]);
            }
        }
        return;
    }
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(child) = slot {
        insert_path(child, first, rest, value);
    }
}

/// An object whose keys are all indexes (`{"0": .., "1": ..}`) read as an array.
pub(crate) fn index_object_to_array(v: &Value) -> Value {
    match v {
        Value::Object(m) if !m.is_empty() && m.keys().all(|k| k.parse::<usize>().is_ok()) => {
            let mut items: Vec<(usize, Value)> = m
                .iter()
                .filter_map(|(k, v)| k.parse().ok().map(|i| (i, index_object_to_array(v))))
                .collect();
            items.sort_by_key(|(i, _)| *i);
            Value::Array(items.into_iter().map(|(_, v)| v).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), index_object_to_array(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(index_object_to_array).collect()),
        other => other.clone(),
    }
}

/// Filters from a query parameter or body field: a JSON array, a JSON string of
/// one, `filters[]=<json object>` repeated, or qs-nested objects.
pub(crate) fn parse_filters(v: Option<&Value>) -> Result<FilterSet, ApiError> {
    let Some(v) = v else {
        return Ok(FilterSet::default());
    };
    let normalized = match index_object_to_array(v) {
        // `filters[]={"field":...}` gives an array of JSON strings.
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) if s.trim_start().starts_with('{') => {
                        serde_json::from_str(&s).unwrap_or(Value::String(s))
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    };
    Ok(FilterSet::from_json(&normalized)?)
}

/// A `dateRange`: `{"$gte": .., "$lte": ..}` (ISO strings or epoch ms), that object
/// as a JSON string, or a single ISO string meaning "since". Returns (min, max) in ms.
pub(crate) fn parse_date_range(v: Option<&Value>) -> Result<(Option<f64>, Option<f64>), ApiError> {
    let bad = || {
        ApiError::bad_request("invalid dateRange").with_hint(
            "use {\"$gte\": \"2024-01-01T00:00:00Z\", \"$lte\": \"2024-01-31T23:59:59Z\"}",
        )
    };
    let instant = |v: &Value| -> Result<Option<f64>, ApiError> {
        match v {
            Value::Null => Ok(None),
            Value::Number(n) => n.as_f64().map(Some).ok_or_else(bad),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => parse_datetime_ms(s)
                .or_else(|| s.trim().parse::<f64>().ok())
                .map(Some)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    };
    match v {
        None | Some(Value::Null) => Ok((None, None)),
        Some(Value::Object(m)) => Ok((
            m.get("$gte")
                .or_else(|| m.get("gte"))
                .map(instant)
                .transpose()?
                .flatten(),
            m.get("$lte")
                .or_else(|| m.get("lte"))
                .map(instant)
                .transpose()?
                .flatten(),
        )),
        Some(Value::String(s)) if s.trim_start().starts_with('{') => {
            let parsed: Value = serde_json::from_str(s).map_err(|_| bad())?;
            if !parsed.is_object() {
                return Err(bad());
            }
            parse_date_range(Some(&parsed))
        }
        Some(other) => Ok((instant(other)?, None)),
    }
}

/// A positive integer parameter given as a number or a string.
pub(crate) fn parse_count(v: Option<&Value>, name: &str) -> Result<Option<u64>, ApiError> {
    let bad = || ApiError::bad_request(format!("{name} must be a positive integer"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `(limit, offset)` from `limit` (default 1000, at most 7500) and 1-based `page`.
pub(crate) fn parse_paging(
    limit: Option<&Value>,
    page: Option<&Value>,
) -> Result<(u64, u64, u64), ApiError> {
    let limit = parse_count(limit, "limit")?
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let page = parse_count(page, "page")?.unwrap_or(1).max(1);
    Ok((limit, (page - 1).saturating_mul(limit), page))
}

/// A list of strings from an array, a JSON-array string, or a comma-separated string.
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    match v.map(index_object_to_array) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<String>>(&s).unwrap_or_default()
        }
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Keeps only the projected (possibly dotted) fields of an event's JSON.
pub(crate) fn project(full: &Value, projections: &[String]) -> Value {
    if projections.is_empty() {
        return full.clone();
    }
    let mut out = Map::new();
    for path in projections {
        let segments: Vec<&str> = path.split('.').collect();
        let mut current = full;
        let mut found = true;
        for seg in &segments {
            match current.get(seg) {
                Some(v) => current = v,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if !found {
            continue;
        }
        insert_at(&mut out, &segments, current.clone());
    }
    Value::Object(out)
}

fn insert_at(map: &mut Map<String, Value>, segments: &[&str], value: Value) {
    match segments {
        [] => {}
        [last] => {
            map.insert(last.to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(child) = entry {
                insert_at(child, rest, value);
            }
        }
    }
}

/// A plain string parameter.
pub(crate) fn string_param(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Array(items)) => items.last().and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

pub(crate) fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("body must be a json object")),
    }
}

pub(crate) fn map_field(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be an object"))),
    }
}

pub(crate) fn list_field(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(ApiError::bad_request(format!(
                    "`{key}` must be an array of non-empty strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{key}` must be an array of strings"
        ))),
    }
}

pub(crate) fn text_field(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(format!("`{key}` must be a string"))),
    }
}

/// The `pagination` object of a listing, as `GET /v1/runs` answers it.
pub(crate) fn pagination(page: u64, limit: u64, total: u64) -> Value {
    let total_pages = total.div_ceil(limit.max(1));
    json!({
        "page": page,
        "limit": limit,
        "total": total,
        "total_pages": total_pages,
        "has_next": page < total_pages,
        "has_prev": page > 1,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn qs_nested_filters_become_a_filter_set() {
        let tree = qs_tree(&pairs(&[
            ("filters[0][field]", "event_type"),
            ("filters[0][operator]", "is"),
            ("filters[0][value]", "model"),
            ("filters[0][type]", "string"),
            ("filters[1][field]", "metrics.score"),
            ("filters[1][operator]", "greater than"),
            ("filters[1][value]", "0.5"),
            ("filters[1][type]", "number"),
            ("ids[]", "a"),
            ("ids[]", "b"),
        ]));
        assert_eq!(parse_filters(tree.get("filters")).unwrap().filters.len(), 2);
        assert_eq!(string_list(tree.get("ids")), ["a", "b"]);
    }

    #[test]
    fn filters_as_json_string_and_bracket_list() {
        let f = r#"{"field":"event_type","operator":"is","value":"chain","type":"string"}"#;
        let tree = qs_tree(&pairs(&[("filters[]", f), ("filters[]", f)]));
        assert_eq!(parse_filters(tree.get("filters")).unwrap().filters.len(), 2);
        let tree = qs_tree(&pairs(&[("filters", &format!("[{f}]"))]));
        assert_eq!(parse_filters(tree.get("filters")).unwrap().filters.len(), 1);
        let tree = qs_tree(&pairs(&[(
            "filters",
            "[{\"field\":\"nope\",\"operator\":\"is\",\"value\":1}]",
        )]));
        let err = parse_filters(tree.get("filters")).unwrap_err();
        assert!(err.message.contains("nope"), "{}", err.message);
    }

    #[test]
    fn date_ranges_and_paging() {
        let r = json!({"$gte": "1970-01-01T00:00:01Z", "$lte": 5000});
        assert_eq!(
            parse_date_range(Some(&r)).unwrap(),
            (Some(1000.0), Some(5000.0))
        );
        let s = Value::String(r.to_string());
        assert_eq!(
            parse_date_range(Some(&s)).unwrap(),
            (Some(1000.0), Some(5000.0))
        );
        assert!(parse_date_range(Some(&json!("yesterday"))).is_err());
        assert_eq!(
            parse_paging(Some(&json!("10")), Some(&json!(3))).unwrap(),
            (10, 20, 3)
        );
        assert_eq!(parse_paging(None, None).unwrap(), (1000, 0, 1));
        assert_eq!(
            parse_paging(Some(&json!(100000)), None).unwrap().0,
            MAX_PAGE_SIZE
        );
        assert!(parse_paging(Some(&json!("-1")), None).is_err());
    }

    #[test]
    fn projections_keep_dotted_paths() {
        let full = json!({"event_id": "e", "metadata": {"run_id": "r", "x": 1}, "inputs": {}});
        let p = project(
            &full,
            &[
                "event_id".into(),
                "metadata.run_id".into(),
                "missing.y".into(),
            ],
        );
        assert_eq!(p, json!({"event_id": "e", "metadata": {"run_id": "r"}}));
    }
}
