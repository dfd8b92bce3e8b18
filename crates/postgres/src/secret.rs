//! The secret JSON, with AWS's keys and AWS's error texts ([`rotwise_db`], with
//! PostgreSQL's engine names and defaults).

use rotwise_db::Engine;

/// The engines AWS's PostgreSQL functions accept.
pub const ENGINES: [&str; 2] = ["postgres", "aurora-postgresql"];

/// The default port when the secret has none.
pub const DEFAULT_PORT: u16 = 5432;

/// The default database when the secret has none.
pub const DEFAULT_DBNAME: &str = "postgres";

/// PostgreSQL and Aurora PostgreSQL, as [`PgSecret`] reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Postgres;

impl Engine for Postgres {
    const ENGINES: &'static [&'static str] = &ENGINES;
    const AWS_NAME: &'static str = "postgres";
    const PRODUCT: &'static str = "PostgreSQL";
    const SECRET_TYPE: &'static str = "PgSecret";
    const DEFAULT_PORT: u16 = DEFAULT_PORT;
    const DEFAULT_DBNAME: Option<&'static str> = Some(DEFAULT_DBNAME);
    type Dbname = String;
}

/// Why a secret value is not a usable secret (shared with the other engines). Never
/// contains a value from the secret: only key names, expected types and JSON positions.
pub use rotwise_db::SecretError;

/// A PostgreSQL secret as AWS's functions store it:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl", "masterarn", ...}`.
///
/// `engine` is `postgres` or `aurora-postgresql`; `port` defaults to 5432 and `dbname` to
/// `postgres`. Unknown keys are kept with their JSON types and written back unchanged by
/// [`PgSecret::to_payload`]; only `username` and `password` are ever replaced. The password
/// lives in a [`rotwise_core::SecretString`] (not in the key map), and `Debug` redacts it.
pub type PgSecret = rotwise_db::DbSecret<Postgres>;

#[cfg(test)]
mod tests {
    use rotwise_core::{SecretPayload, SecretString};

    use super::*;
    use crate::TlsMode;

    /// The description gives AWS's PostgreSQL texts and defaults (the parsing itself is
    /// tested in rotwise-db).
    #[test]
    fn postgres_description() {
        let s = PgSecret::parse_str(
            r#"{"engine":"aurora-postgresql","host":"h","username":"u","password":"p"}"#,
        )
        .unwrap();
        assert_eq!((s.port, s.dbname.as_str()), (5432, "postgres"));
        assert_eq!(s.tls_mode(), TlsMode::Prefer);
        assert!(format!("{s:?}").starts_with("PgSecret {"));
        let e = |t: &str| PgSecret::parse_str(t).unwrap_err().to_string();
        for engine in [r#""mysql""#, r#""mariadb""#, "1"] {
            assert_eq!(
                e(&format!(
                    r#"{{"engine":{engine},"host":"h","username":"u","password":"p"}}"#
                )),
                "Database engine must be set to 'postgres' in order to use this rotation lambda"
            );
        }
        let binary = SecretPayload::Binary(vec![1u8].into());
        assert_eq!(
            PgSecret::parse(&binary).unwrap_err().to_string(),
            "the secret value is binary; a PostgreSQL secret is a JSON SecretString"
        );
        assert!(matches!(
            PgSecret::parse(&SecretPayload::String(SecretString::from("{}"))),
            Err(SecretError::Missing("host"))
        ));
    }
}
