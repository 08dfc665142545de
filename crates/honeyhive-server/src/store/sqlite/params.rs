//! Bound statement parameters shared by the readers: filter parameters as
//! SQLite values, and how many ids one statement binds.

use super::filter::SqlParam;
use rusqlite::types::Value as SqlValue;

/// Ids bound per statement when a read names many (the sessions of a run,
/// events by id): one statement per chunk keeps the parameter count bounded
/// however many ids the read names.
pub(super) const IDS_PER_STATEMENT: usize = 500;

/// A filter's bound parameter as the SQLite value it binds.
pub(super) fn to_sql_value(p: SqlParam) -> SqlValue {
    match p {
        SqlParam::Text(s) => SqlValue::Text(s),
        SqlParam::Real(f) => SqlValue::Real(f),
        SqlParam::Integer(i) => SqlValue::Integer(i),
    }
}
