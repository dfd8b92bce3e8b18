//! Typed reads of the rows the server sends back, without a panic.
//!
//! mysql_async's `query_first::<String, _>` and friends panic when a row does not convert,
//! and the panic message is the row's `Debug`: for `SHOW CREATE USER` that is the
//! account's password hash, which would reach the Lambda's error response and its logs.
//! Every read here fetches a [`Row`] and converts each column with
//! [`FromValue::from_value_opt`]; a failure is a [`DbError`] naming the column and what
//! was there (NULL, an integer, bytes that are not UTF-8, ...), never the value.

use rotwise_db::error::short_type_name;

use mysql_async::Row;
use mysql_async::Value;
use mysql_async::prelude::FromValue;
use rotwise_core::ErrorKind;
use rotwise_db::DbError;

/// What a value is, for messages: never its content.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::NULL => "NULL",
        Value::Bytes(b) if std::str::from_utf8(b).is_ok() => "text",
        Value::Bytes(_) => "bytes that are not valid UTF-8",
        Value::Int(_) => "a signed integer",
        Value::UInt(_) => "an unsigned integer",
        Value::Float(_) | Value::Double(_) => "a floating-point number",
        Value::Date(..) => "a date",
        Value::Time(..) => "a time",
    }
}

/// `value` (column `index` of an answer; `None`: the column is missing) as `T`, or an
/// error saying what was being read (`context`) and what the column held, without its
/// content.
///
/// ```
/// use rotwise_mysql::mysql_async::Value;
/// use rotwise_mysql::row::convert;
/// assert_eq!(convert::<String>(Some(Value::Bytes(b"ok".to_vec())), 0, "x").unwrap(), "ok");
/// assert_eq!(convert::<Option<String>>(Some(Value::NULL), 0, "x").unwrap(), None);
/// let e = convert::<String>(Some(Value::Bytes(vec![0xff, b's'])), 2, "reading x").unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "reading x: unexpected answer from the server: column 2 is bytes that are not valid UTF-8 where String was expected"
/// );
/// ```
pub fn convert<T: FromValue>(
    value: Option<Value>,
    index: usize,
    context: &str,
) -> Result<T, DbError> {
    let found = match value {
        None => "missing".to_owned(),
        Some(v) => match T::from_value_opt(v) {
            Ok(t) => return Ok(t),
            // The error holds the value: only its kind is kept.
            Err(e) => describe(&e.0).to_owned(),
        },
    };
    Err(DbError::Sql {
        context: context.to_owned(),
        reason: format!(
            "unexpected answer from the server: column {index} is {found} where {} was expected",
            short_type_name::<T>()
        ),
        kind: ErrorKind::Target,
    })
}

/// Column `index` of `row` as `T` (see [`convert`]).
pub fn column<T: FromValue>(row: &mut Row, index: usize, context: &str) -> Result<T, DbError> {
    // Taking a column as a `Value` cannot fail; the typed conversion is `convert`'s.
    let value = row.take_opt::<Value, usize>(index).and_then(Result::ok);
    convert(value, index, context)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "*6891F9D51EB5A38D1BB310DDBC6379A189A4F575";

    /// A malformed value of every kind: the error says what it was, never what it held.
    #[test]
    fn malformed_values_give_errors_without_content() {
        let mut invalid = HASH.as_bytes().to_vec();
        invalid.push(0xff);
        let cases: Vec<(Option<Value>, &str)> = vec![
            (
                Some(Value::NULL),
                "column 1 is NULL where String was expected",
            ),
            (
                Some(Value::Bytes(invalid)),
                "column 1 is bytes that are not valid UTF-8 where String was expected",
            ),
            (
                Some(Value::Int(68_919_951_173)),
                "column 1 is a signed integer where String was expected",
            ),
            (
                Some(Value::Double(6891.9951)),
                "column 1 is a floating-point number where String was expected",
            ),
            (
                Some(Value::Date(2026, 12, 4, 6, 8, 9, 1951)),
                "column 1 is a date where String was expected",
            ),
            (None, "column 1 is missing where String was expected"),
        ];
        for (value, expected) in cases {
            let e = convert::<String>(value, 1, "reading SHOW CREATE USER").unwrap_err();
            let text = format!("{e} {e:?}");
            assert!(text.contains(expected), "{text}");
            for leaked in [HASH, "6891", "68919951173", "2026", "1951"] {
                assert!(!text.contains(leaked), "{leaked} in {text}");
            }
            assert_eq!(e.kind(), ErrorKind::Target);
        }
        // Text where a number is expected, and a number too large.
        let e = convert::<u64>(Some(Value::Bytes(HASH.into())), 0, "x").unwrap_err();
        assert!(!e.to_string().contains("6891"), "{e}");
        assert!(
            e.to_string()
                .contains("column 0 is text where u64 was expected"),
            "{e}"
        );
        let e = convert::<i32>(Some(Value::UInt(u64::MAX)), 0, "x").unwrap_err();
        assert!(
            e.to_string().contains("an unsigned integer where i32"),
            "{e}"
        );
        // The text protocol sends numbers as text: they convert.
        assert_eq!(
            convert::<i64>(Some(Value::Bytes(b"42".to_vec())), 0, "x").unwrap(),
            42
        );
        assert_eq!(
            convert::<Option<u64>>(Some(Value::NULL), 0, "x").unwrap(),
            None
        );
    }

    /// The driver's own conversion, which this module replaces, panics with the value in
    /// its message (the reason for this module).
    #[test]
    fn the_drivers_conversion_panics_with_the_value() {
        let caught = std::panic::catch_unwind(|| {
            <String as FromValue>::from_value(Value::Bytes(vec![b'*', b'6', 0xff]))
        });
        let Err(panic) = caught else {
            panic!("expected the driver's from_value to panic")
        };
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains("*6"),
            "the value is in the panic: {message}"
        );
    }
}
