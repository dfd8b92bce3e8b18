//! Typed reads of the rows the server sends back, without a panic: `Row::get` panics on
//! an unexpected type or a NULL. [`column()`] returns a [`DbError`] that names the column
//! and what was there (NULL, or the SQL type), never the value.

use rotwise_db::error::short_type_name;
use std::error::Error as _;

use rotwise_core::ErrorKind;
use rotwise_db::DbError;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, WasNull};

/// Column `index` of `row` as `T`. `context` says what was being read ("reading the base
/// role"). The error carries the column's index, its SQL type and the expected Rust type,
/// never the value (a row may hold a password verifier).
///
/// A NULL reads as `None` into an `Option<T>`, and is an error for any other `T`.
pub fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize, context: &str) -> Result<T, DbError> {
    row.try_get::<_, T>(index).map_err(|e| {
        let wanted = short_type_name::<T>();
        let found = match row.columns().get(index) {
            None => format!(
                "the answer has {} column(s), no column {index}",
                row.columns().len()
            ),
            Some(_) if e.source().is_some_and(|s| s.is::<WasNull>()) => {
                format!("column {index} is NULL where {wanted} was expected")
            }
            Some(col) if !T::accepts(col.type_()) => format!(
                "column {index} is of SQL type {}, which does not read as {wanted}",
                col.type_().name()
            ),
            Some(col) => format!(
                "column {index} (SQL type {}) could not be decoded as {wanted}",
                col.type_().name()
            ),
        };
        DbError::Sql {
            context: context.to_owned(),
            reason: format!("unexpected answer from the server: {found}"),
            kind: ErrorKind::Target,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<String>(), "String");
        assert_eq!(short_type_name::<Option<String>>(), "Option<String>");
        assert_eq!(short_type_name::<i32>(), "i32");
    }
}
