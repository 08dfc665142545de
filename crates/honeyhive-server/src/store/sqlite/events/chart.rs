//! `GET /v1/events/chart` reads: each event as four small values (start
//! time, id, group field, metric field) selected by SQL, folded into buckets as
//! the rows stream by.

use std::collections::BTreeMap;

use honeyhive_model::EventType;
use honeyhive_model::filter::{Column, FieldPath};
use rusqlite::Connection;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::Value;

use super::{count_events, where_clause};
use crate::store::sqlite::backend;
use crate::store::sqlite::filter::{DefaultSqlColumns, SqlCondition, field_value_sql};
use crate::store::sqlite::limits::ReadBudget;
use crate::store::sqlite::params::to_sql_value;
use crate::store::{
    Chart, ChartBucket, ChartQuery, ReadError, ReadResult, StoreError, StoreResult, Tenant,
};

/// The SQL value of `field`, or `NULL` when there is none.
fn field_expr(field: Option<&FieldPath>) -> SqlCondition {
    match field {
        Some(field) => field_value_sql(field, &DefaultSqlColumns),
        None => SqlCondition {
            sql: "NULL".into(),
            params: Vec::new(),
        },
    }
}

/// Reads `field`'s value from what [`field_value_sql`] selected, as
/// [`FieldPath::value_in`] would find it in the decoded event (`None` when
/// absent or null); `what` names the row.
fn field_value(
    field: &FieldPath,
    stored: ValueRef<'_>,
    what: &dyn Fn() -> String,
) -> StoreResult<Option<Value>> {
    let text = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(backend)
    };
    let value = match (field, stored) {
        (_, ValueRef::Null) => return Ok(None),
        (FieldPath::Json { .. }, ValueRef::Text(json)) => {
            serde_json::from_slice::<Value>(json).map_err(backend)?
        }
        (FieldPath::Column(Column::EventType), ValueRef::Text(t)) => {
            let name = text(t)?;
            let event_type = EventType::parse(&name).ok_or_else(|| StoreError::Corrupt {
                what: what(),
                field: "event_type",
                reason: format!("unknown event type {name:?}"),
            })?;
            Value::String(event_type.as_str().into())
        }
        (FieldPath::Column(_), ValueRef::Text(t)) => Value::String(text(t)?),
        (FieldPath::Column(_), ValueRef::Real(x)) => Value::from(x),
        (FieldPath::Column(_), ValueRef::Integer(i)) => Value::from(i as f64),
        (_, other) => {
            return Err(backend(format!(
                "unexpected {:?} value for {}",
                other.data_type(),
                field.dotted()
            )));
        }
    };
    Ok(Some(value).filter(|v| !v.is_null()))
}

/// A group's text: a string as is, any other value as JSON, absent as `""`.
fn group_text(value: Option<Value>) -> String {
    match value {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A metric's number: numbers, and booleans as 1/0.
fn metric_number(value: Option<Value>) -> Option<f64> {
    match value {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::Bool(b)) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

pub(super) fn chart(conn: &Connection, tenant: &Tenant, query: &ChartQuery) -> ReadResult<Chart> {
    let events = &query.events;
    let (clause, where_params) = where_clause(tenant, events);
    let total = count_events(conn, &clause, &where_params)?;
    let group = field_expr(query.group_by.as_ref());
    let metric = field_expr(query.metric.as_ref());
    // Parameters in the order their `?` appear: select list, WHERE, LIMIT.
    let params: Vec<SqlValue> = group
        .params
        .into_iter()
        .chain(metric.params)
        .map(to_sql_value)
        .chain(where_params)
        .chain(std::iter::once(SqlValue::Integer(
            i64::try_from(events.limit).unwrap_or(i64::MAX),
        )))
        .collect();
    let sql = format!(
        "SELECT start_time, event_id, {}, {} FROM events WHERE {clause} \
         ORDER BY start_time ASC, event_id ASC LIMIT ?",
        group.sql, metric.sql
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(backend)?;
    let mut budget = ReadBudget::new(events.limit, events.max_bytes);
    let mut buckets: BTreeMap<(i64, String), Vec<f64>> = BTreeMap::new();
    while let Some(row) = rows.next().map_err(backend)? {
        budget
            .take_row(row, 4)
            .map_err(backend)?
            .map_err(ReadError::TooLarge)?;
        let start_time: f64 = row.get(0).map_err(backend)?;
        let what = || match row.get_ref(1).map(|id| id.as_str().map(str::to_string)) {
            Ok(Ok(id)) => format!("event {id}"),
            _ => "event".to_string(),
        };
        let bucket = (start_time / query.bucket_ms).floor() as i64;
        let group = match &query.group_by {
            Some(field) => {
                let stored = row.get_ref(2).map_err(backend)?;
                group_text(field_value(field, stored, &what)?)
            }
            None => String::new(),
        };
        let values = buckets.entry((bucket, group)).or_default();
        match &query.metric {
            Some(field) => {
                let stored = row.get_ref(3).map_err(backend)?;
                if let Some(v) = metric_number(field_value(field, stored, &what)?) {
                    values.push(v);
                }
            }
            None => values.push(1.0),
        }
    }
    Ok(Chart {
        buckets: buckets
            .into_iter()
            .map(|((bucket, group), values)| ChartBucket {
                bucket,
                group,
                values,
            })
            .collect(),
        total,
    })
}
