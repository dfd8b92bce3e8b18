//! What a session says about the server and itself, read once before any statement that
//! holds a name or a literal: the server's flavor and version, how the session reads
//! string literals (`sql_mode`), the account the server matched, and the session's
//! character sets; and the session settings the grant parser relies on, pinned first
//! ([`pin`]).
//!
//! Names and literals are quoted here for a UTF-8 session. A server whose `init_connect`
//! switches the session to a multi-byte character set such as gbk, sjis or big5 would
//! read some UTF-8 byte sequences followed by a backslash as one character, swallowing
//! the escape: a quoted password or name could then end early. [`read`] refuses any
//! character set other than utf8 / utf8mb3 / utf8mb4 before anything is quoted.

use mysql_async::Conn;
use mysql_async::Row;
use mysql_async::prelude::Queryable;
use rotwise_core::ErrorKind;
use rotwise_db::DbError;

use crate::connect::sql;
use crate::row::column;
use crate::sql::{Literals, Server};

/// What a session says about the server and itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// `VERSION()`, parsed.
    pub server: Server,
    /// How the session reads string literals (`@@SESSION.sql_mode`).
    pub lit: Literals,
    /// `CURRENT_USER()`, split into user and host.
    pub current_user: (String, String),
}

/// The session variables whose character set must be UTF-8, in the order checked.
pub const CHARSET_VARIABLES: [&str; 3] = [
    "character_set_client",
    "character_set_connection",
    "character_set_results",
];

const QUERY: &str = "SELECT VERSION(), @@SESSION.sql_mode, CURRENT_USER(), \
     @@SESSION.character_set_client, @@SESSION.character_set_connection, \
     @@SESSION.character_set_results";

/// Read the session's [`SessionInfo`] and check its character sets ([`check_charsets`]).
/// Call it after logging in and before any statement that quotes a name or a literal.
pub async fn read(conn: &mut Conn) -> Result<SessionInfo, DbError> {
    pin(conn).await?;
    let context = "reading the server version, sql_mode and character sets";
    let row: Option<Row> = conn
        .query_first(QUERY)
        .await
        .map_err(|e| sql(context, &e))?;
    let mut row = row.ok_or_else(|| DbError::Sql {
        context: context.into(),
        reason: "no row".into(),
        kind: ErrorKind::Target,
    })?;
    let charsets: [Option<String>; 3] = [
        column(&mut row, 3, context)?,
        column(&mut row, 4, context)?,
        column(&mut row, 5, context)?,
    ];
    check_charsets(&charsets)?;
    let version: String = column(&mut row, 0, context)?;
    let sql_mode: String = column(&mut row, 1, context)?;
    if sql_mode
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case("ANSI_QUOTES"))
    {
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            "the session's sql_mode still has ANSI_QUOTES after rotwise removed it: SHOW GRANTS \
             would print names in double quotes, which cannot be read back safely; nothing was \
             changed. Remove ANSI_QUOTES (and ANSI, ORACLE, ...) from the server's sql_mode or \
             init_connect, then retry",
        ));
    }
    let current_user: String = column(&mut row, 2, context)?;
    // Host names cannot contain '@'; user names can.
    let current_user = match current_user.rsplit_once('@') {
        Some((u, h)) => (u.to_owned(), h.to_owned()),
        None => (current_user, "%".to_owned()),
    };
    Ok(SessionInfo {
        server: Server::parse(&version),
        lit: Literals::from_sql_mode(&sql_mode),
        current_user,
    })
}

/// The session settings the grant parser relies on, whatever the server's globals (or an
/// `init_connect`) say: names quoted in `SHOW GRANTS` / `SHOW CREATE USER`
/// (`sql_quote_show_create=1`; with 0 MariaDB prints `GRANT SELECT ON LtMyDb.*` and the
/// name's case and any keyword clash are lost) and no `ANSI_QUOTES` in `sql_mode` (with
/// it, names are printed in double quotes, which read as strings). `ANSI_QUOTES` and the
/// combination modes that imply it (`ANSI`, `DB2`, `MAXDB`, `MSSQL`, `ORACLE`,
/// `POSTGRESQL`) are removed from `sql_mode`; the other modes stay, and [`read`] reads the
/// result (and refuses a session that still has `ANSI_QUOTES`).
pub const PIN: &str = "SET SESSION sql_quote_show_create = 1, SESSION sql_mode = \
     TRIM(BOTH ',' FROM REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',ANSI_QUOTES,', ','), ',ANSI,', ','), ',DB2,', ','), ',MAXDB,', ','), ',MSSQL,', ','), ',ORACLE,', ','), ',POSTGRESQL,', ','))";

/// Run [`PIN`] on `conn`. [`read`] does it first, so every session that quotes a name or
/// reads grants has it.
pub async fn pin(conn: &mut Conn) -> Result<(), DbError> {
    conn.query_drop(PIN).await.map_err(|e| {
        sql(
            "pinning the session's sql_quote_show_create and sql_mode",
            &e,
        )
    })
}

/// Whether a character set name is one rotwise quotes for.
pub fn is_utf8(charset: &str) -> bool {
    ["utf8", "utf8mb3", "utf8mb4"]
        .iter()
        .any(|ok| charset.eq_ignore_ascii_case(ok))
}

/// Refuse a session whose `character_set_client`, `character_set_connection` or
/// `character_set_results` (the values of [`CHARSET_VARIABLES`], in that order; `None`
/// is SQL NULL) is not utf8 / utf8mb3 / utf8mb4.
///
/// ```
/// use rotwise_mysql::session::check_charsets;
/// let utf8 = Some("utf8mb4".to_owned());
/// assert!(check_charsets(&[utf8.clone(), utf8.clone(), utf8.clone()]).is_ok());
/// let e = check_charsets(&[Some("gbk".into()), utf8.clone(), utf8]).unwrap_err();
/// assert!(e.to_string().starts_with("the session's character_set_client is gbk"));
/// ```
pub fn check_charsets(values: &[Option<String>; 3]) -> Result<(), DbError> {
    for (variable, value) in CHARSET_VARIABLES.iter().zip(values) {
        let shown = match value {
            Some(v) if is_utf8(v) => continue,
            Some(v) => v.as_str(),
            None => "NULL",
        };
        return Err(DbError::rejected(
            ErrorKind::Conflict,
            format!(
                "the session's {variable} is {shown}, not utf8mb4: rotwise quotes user names and \
                 passwords for a UTF-8 session, and under another character set (gbk, sjis, big5, \
                 ...) a quoted value can be read differently, so no statement was run. The client \
                 asks for utf8mb4 at login: the server's init_connect (or the account's default) \
                 changes it. Remove the SET NAMES / SET {variable} from init_connect or make it \
                 utf8mb4, then retry"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_utf8_character_sets_pass() {
        let ok = || Some("utf8mb4".to_owned());
        for good in ["utf8", "UTF8MB3", "utf8mb4"] {
            assert!(check_charsets(&[Some(good.into()), ok(), ok()]).is_ok());
        }
        for (i, variable) in CHARSET_VARIABLES.iter().enumerate() {
            for bad in [
                Some("gbk"),
                Some("sjis"),
                Some("big5"),
                Some("latin1"),
                None,
            ] {
                let mut values = [ok(), ok(), ok()];
                values[i] = bad.map(str::to_owned);
                let e = check_charsets(&values).unwrap_err();
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!(
                        "the session's {variable} is {}, not utf8mb4",
                        bad.unwrap_or("NULL")
                    )),
                    "{text}"
                );
                assert!(text.contains("init_connect"), "{text}");
                assert_eq!(e.kind(), ErrorKind::Conflict);
            }
        }
    }
}
