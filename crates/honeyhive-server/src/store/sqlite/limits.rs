//! Read limits applied row by row: each row's stored size is measured where
//! SQLite holds it, before anything is decoded or copied, so a read past its
//! limit stops without having loaded more than the limit.

use rusqlite::Row;
use rusqlite::types::ValueRef;

use crate::store::ReadLimit;

/// Bytes of a row's first `columns` values as stored: text and blobs by
/// length, numbers as 8, `NULL` as 0. Reads them in place (no copy).
pub(crate) fn row_bytes(row: &Row<'_>, columns: usize) -> rusqlite::Result<u64> {
    let mut bytes = 0u64;
    for index in 0..columns {
        let len = match row.get_ref(index)? {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) => 8,
            ValueRef::Text(t) | ValueRef::Blob(t) => t.len(),
        };
        bytes = bytes.saturating_add(len as u64);
    }
    Ok(bytes)
}

/// Rows and bytes read so far against the most one answer may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadBudget {
    max_rows: u64,
    max_bytes: u64,
    rows: u64,
    bytes: u64,
}

impl ReadBudget {
    /// A budget of `max_rows` rows and `max_bytes` bytes.
    pub(crate) fn new(max_rows: u64, max_bytes: u64) -> ReadBudget {
        ReadBudget {
            max_rows,
            max_bytes,
            rows: 0,
            bytes: 0,
        }
    }

    /// Counts one more row of `bytes` bytes; the limit it passes, if any.
    pub(crate) fn take(&mut self, bytes: u64) -> Result<(), ReadLimit> {
        self.rows += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.rows > self.max_rows {
            return Err(ReadLimit::Events(self.max_rows));
        }
        if self.bytes > self.max_bytes {
            return Err(ReadLimit::Bytes(self.max_bytes));
        }
        Ok(())
    }

    /// Counts `row`, measured over its first `columns` values (see [`row_bytes`]).
    pub(crate) fn take_row(
        &mut self,
        row: &Row<'_>,
        columns: usize,
    ) -> rusqlite::Result<Result<(), ReadLimit>> {
        Ok(self.take(row_bytes(row, columns)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_the_row_that_passes_either_limit() {
        let mut rows = ReadBudget::new(2, 1_000);
        assert_eq!(rows.take(10), Ok(()));
        assert_eq!(rows.take(10), Ok(()));
        assert_eq!(rows.take(10), Err(ReadLimit::Events(2)));
        let mut bytes = ReadBudget::new(10, 100);
        assert_eq!(bytes.take(60), Ok(()));
        assert_eq!(bytes.take(40), Ok(()), "exactly the limit fits");
        assert_eq!(bytes.take(1), Err(ReadLimit::Bytes(100)));
    }

    #[test]
    fn rows_are_measured_as_stored() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        let bytes = conn
            .query_row(
                "SELECT 'abc', NULL, 1, 2.5, x'0102', '{\"k\": \"héllo\"}'",
                [],
                |row| row_bytes(row, 6),
            )
            .expect("row");
        // text 3, NULL 0, two numbers 8 each, blob 2, JSON text 15 (é is two bytes)
        assert_eq!(bytes, 3 + 8 + 8 + 2 + 15);
    }
}
