//! Reading typed values back from rows: ids and enums are stored as text.

use std::str::FromStr;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

/// Reads a text column and parses it (an id, an enum).
pub(crate) fn parse<T: FromStr>(row: &AnyRow, column: &'static str) -> Result<T, StoreError> {
    let text: &str = row.try_get(column)?;
    text.parse().map_err(|_| StoreError::Corrupt(column))
}

/// Reads a nullable text column and parses it.
pub(crate) fn parse_opt<T: FromStr>(row: &AnyRow, column: &'static str) -> Result<Option<T>, StoreError> {
    let text: Option<&str> = row.try_get(column)?;
    text.map(|t| t.parse().map_err(|_| StoreError::Corrupt(column))).transpose()
}
