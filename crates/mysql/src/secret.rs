//! The secret JSON, with AWS's keys and AWS's error texts ([`rotwise_db`], with
//! MySQL's engine names and defaults).

use rotwise_db::Engine;

/// The engines AWS's MySQL and MariaDB functions accept.
pub const ENGINES: [&str; 3] = ["mysql", "aurora-mysql", "mariadb"];

/// The default port when the secret has none.
pub const DEFAULT_PORT: u16 = 3306;

/// MySQL, Aurora MySQL and MariaDB, as [`MysqlSecret`] reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mysql;

impl Engine for Mysql {
    const ENGINES: &'static [&'static str] = &ENGINES;
    const AWS_NAME: &'static str = "mysql";
    const PRODUCT: &'static str = "MySQL";
    const SECRET_TYPE: &'static str = "MysqlSecret";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    /// No default database, as AWS's functions.
    const DEFAULT_DBNAME: Option<&'static str> = None;
    type Dbname = Option<String>;
}

/// Whether the secret's `engine` is `mariadb` (as opposed to `mysql` / `aurora-mysql`).
pub fn is_mariadb(secret: &MysqlSecret) -> bool {
    secret.engine == "mariadb"
}

/// Why a secret value is not a usable secret (shared with the other engines). Never
/// contains a value from the secret: only key names, expected types and JSON positions.
pub use rotwise_db::SecretError;

/// A MySQL / Aurora MySQL / MariaDB secret as AWS's functions store it:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl", "masterarn", ...}`.
///
/// `engine` is `mysql`, `aurora-mysql` or `mariadb`; `port` defaults to 3306; `dbname` is
/// optional (no default database, as AWS's functions; empty counts as absent). Unknown
/// keys are kept with their JSON types and written back unchanged by
/// [`MysqlSecret::to_payload`]; only `username` and `password` are ever replaced. The
/// password lives in a [`rotwise_core::SecretString`] (not in the key map), and `Debug`
/// redacts it.
pub type MysqlSecret = rotwise_db::DbSecret<Mysql>;

#[cfg(test)]
mod tests {
    use rotwise_core::{SecretPayload, SecretString};

    use super::*;
    use crate::TlsMode;

    fn ok(text: &str) -> MysqlSecret {
        MysqlSecret::parse_str(text).unwrap()
    }

    #[test]
    fn mariadb_is_read_from_engine() {
        let s = ok(r#"{"engine":"mysql","host":"h","username":"u","password":"canary-Pw-7f3a"}"#);
        assert!(!is_mariadb(&s));
        let s = ok(r#"{"engine":"aurora-mysql","host":"h","username":"u","password":"p"}"#);
        assert!(!is_mariadb(&s));
        let s = ok(
            r#"{"engine":"mariadb","host":"h","port":7,"username":"u","password":"p","ssl":false}"#,
        );
        assert!(is_mariadb(&s));
        // Kept by the secrets derived from it.
        assert!(is_mariadb(
            &s.with_username("u_clone").with_password("n".into())
        ));
    }

    /// The description gives AWS's MySQL texts and defaults (the parsing itself is tested
    /// in rotwise-dbsecret).
    #[test]
    fn mysql_description() {
        let s = ok(r#"{"engine":"mysql","host":"h","username":"u","password":"p","dbname":""}"#);
        assert_eq!((s.port, s.dbname.as_deref()), (3306, None));
        assert_eq!(s.tls_mode(), TlsMode::Prefer);
        assert!(format!("{s:?}").starts_with("MysqlSecret {"));
        let e = |t: &str| MysqlSecret::parse_str(t).unwrap_err().to_string();
        for engine in [r#""postgres""#, r#""MySQL""#, "1"] {
            assert_eq!(
                e(&format!(
                    r#"{{"engine":{engine},"host":"h","username":"u","password":"p"}}"#
                )),
                "Database engine must be set to 'mysql' in order to use this rotation lambda"
            );
        }
        let binary = SecretPayload::Binary(vec![1u8].into());
        assert_eq!(
            MysqlSecret::parse(&binary).unwrap_err().to_string(),
            "the secret value is binary; a MySQL secret is a JSON SecretString"
        );
        assert!(matches!(
            MysqlSecret::parse(&SecretPayload::String(SecretString::from("{}"))),
            Err(SecretError::Missing("host"))
        ));
    }
}
