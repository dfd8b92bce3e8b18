//! The secret JSON, with AWS's keys and AWS's error texts, for any [`Engine`].

use std::fmt;

use rotwise_core::{ExposeSecret, SecretPayload, SecretString};
use serde_json::{Map, Value};

use crate::tls::TlsMode;

/// What differs between engines' secrets. Implemented by a marker type in each engine.
pub trait Engine: Copy + fmt::Debug + PartialEq + Eq + 'static {
    /// The `engine` values AWS's functions for this engine accept.
    const ENGINES: &'static [&'static str];
    /// The engine named in AWS's text "Database engine must be set to '…' in order to use
    /// this rotation lambda".
    const AWS_NAME: &'static str;
    /// The product named in the binary-secret error ("a … secret is a JSON
    /// SecretString").
    const PRODUCT: &'static str;
    /// The secret's type name in its `Debug` output.
    const SECRET_TYPE: &'static str;
    /// The port when the secret has none.
    const DEFAULT_PORT: u16;
    /// The database when the secret has none (`None`: no default database).
    const DEFAULT_DBNAME: Option<&'static str>;
    /// The type of [`DbSecret::dbname`]: `String` (with a default) or `Option<String>`.
    type Dbname: Dbname;
}

/// How `dbname` is read: the key's value if it is a string (absent: `None`), and the
/// engine's default.
pub trait Dbname: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The field's value.
    fn from_key(value: Option<String>, default: Option<&'static str>) -> Self;
}

/// Always a database: the key's value (even empty), else the default (else empty).
impl Dbname for String {
    fn from_key(value: Option<String>, default: Option<&'static str>) -> String {
        value
            .or_else(|| default.map(str::to_owned))
            .unwrap_or_default()
    }
}

/// An optional database: an empty value counts as absent; absent gives the default.
impl Dbname for Option<String> {
    fn from_key(value: Option<String>, default: Option<&'static str>) -> Option<String> {
        value
            .filter(|d| !d.is_empty())
            .or_else(|| default.map(str::to_owned))
    }
}

/// Why a secret value is not a usable secret for the engine `E`. Never contains a value
/// from the secret: only key names, expected types and JSON positions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not parseable as JSON. serde_json's own message is not used because it may quote
    /// the input; only its category and position are kept.
    #[error("the secret value is not valid JSON ({category} at line {line} column {column})")]
    NotJson {
        /// `syntax error`, `unexpected end of input`, ...
        category: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// Valid JSON, but not an object.
    #[error("the secret value must be a JSON object")]
    NotObject,
    /// A `SecretBinary` value.
    #[error("the secret value is binary; a {product} secret is a JSON SecretString")]
    Binary {
        /// The engine's product name ([`Engine::PRODUCT`]).
        product: &'static str,
    },
    /// A required key is absent (AWS's text).
    #[error("{0} key is missing from secret JSON")]
    Missing(&'static str),
    /// `engine` absent or not one of the engine's values (AWS's text).
    #[error("Database engine must be set to '{aws_name}' in order to use this rotation lambda")]
    Engine {
        /// The engine's name in AWS's text ([`Engine::AWS_NAME`]).
        aws_name: &'static str,
    },
    /// A key holds the wrong JSON type or an unusable value (the value is not shown).
    #[error("the {key} key in the secret JSON must be {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}

/// A database secret as AWS's functions store it:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl", "masterarn", ...}`.
///
/// Unknown keys are kept with their JSON types and written back unchanged by
/// [`DbSecret::to_payload`]; only `username` and `password` are ever replaced. The
/// password lives in a [`SecretString`] (not in the key map), and `Debug` redacts it.
pub struct DbSecret<E: Engine> {
    /// Every key except `password`, as read.
    fields: Map<String, Value>,
    /// What the engine reads from `engine`.
    /// `engine` (one of [`Engine::ENGINES`]).
    pub engine: String,
    /// `host`.
    pub host: String,
    /// `port` (a number or a numeric string; default [`Engine::DEFAULT_PORT`]).
    pub port: u16,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: SecretString,
    /// `dbname` (default [`Engine::DEFAULT_DBNAME`]).
    pub dbname: E::Dbname,
    /// `ssl`: `Some(true)` / `Some(false)` from a bool or `"true"`/`"false"` (any case);
    /// `None` when absent or anything else (AWS's "try TLS, fall back").
    pub ssl: Option<bool>,
    /// `masterarn`.
    pub masterarn: Option<String>,
}

impl<E: Engine> Clone for DbSecret<E> {
    fn clone(&self) -> Self {
        DbSecret {
            fields: self.fields.clone(),
            engine: self.engine.clone(),
            host: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            password: self.password.clone(),
            dbname: self.dbname.clone(),
            ssl: self.ssl,
            masterarn: self.masterarn.clone(),
        }
    }
}

impl<E: Engine> fmt::Debug for DbSecret<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let other: Vec<&String> = self
            .fields
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .collect();
        f.debug_struct(E::SECRET_TYPE)
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("dbname", &self.dbname)
            .field("ssl", &self.ssl)
            .field("masterarn", &self.masterarn)
            .field("other_keys", &other)
            .finish()
    }
}

const KNOWN: [&str; 8] = [
    "engine",
    "host",
    "port",
    "username",
    "password",
    "dbname",
    "ssl",
    "masterarn",
];

fn string_key(
    fields: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, SecretError> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SecretError::WrongType {
            key,
            expected: "a string",
        }),
    }
}

fn required(fields: &Map<String, Value>, key: &'static str) -> Result<String, SecretError> {
    string_key(fields, key)?.ok_or(SecretError::Missing(key))
}

impl<E: Engine> DbSecret<E> {
    /// Parse a secret value.
    pub fn parse(payload: &SecretPayload) -> Result<DbSecret<E>, SecretError> {
        match payload.as_string() {
            Some(s) => DbSecret::parse_str(s.expose_secret()),
            None => Err(SecretError::Binary {
                product: E::PRODUCT,
            }),
        }
    }

    /// Parse a secret's JSON text. Checks in AWS's order: `host`, `username`, `password`
    /// present, then `engine`.
    pub fn parse_str(text: &str) -> Result<DbSecret<E>, SecretError> {
        let value: Value = serde_json::from_str(text).map_err(|e| SecretError::NotJson {
            category: match e.classify() {
                serde_json::error::Category::Io => "read error",
                serde_json::error::Category::Syntax => "syntax error",
                serde_json::error::Category::Data => "data error",
                serde_json::error::Category::Eof => "unexpected end of input",
            },
            line: e.line(),
            column: e.column(),
        })?;
        let Value::Object(mut fields) = value else {
            return Err(SecretError::NotObject);
        };
        for key in ["host", "username", "password"] {
            if !fields.contains_key(key) {
                return Err(SecretError::Missing(key));
            }
        }
        let password = match fields.remove("password") {
            Some(Value::String(p)) => SecretString::from(p),
            _ => {
                return Err(SecretError::WrongType {
                    key: "password",
                    expected: "a string",
                });
            }
        };
        let engine = match fields.get("engine") {
            Some(Value::String(e)) if E::ENGINES.contains(&e.as_str()) => e.clone(),
            _ => {
                return Err(SecretError::Engine {
                    aws_name: E::AWS_NAME,
                });
            }
        };
        let host = required(&fields, "host")?;
        let username = required(&fields, "username")?;
        let port = match fields.get("port") {
            None | Some(Value::Null) => Some(E::DEFAULT_PORT),
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
            Some(_) => None,
        }
        .filter(|p| *p != 0)
        .ok_or(SecretError::WrongType {
            key: "port",
            expected: "a port number (1-65535) or a string holding one",
        })?;
        let dbname = E::Dbname::from_key(string_key(&fields, "dbname")?, E::DEFAULT_DBNAME);
        let ssl = match fields.get("ssl") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        let masterarn = string_key(&fields, "masterarn")?;
        Ok(DbSecret {
            fields,
            engine,
            host,
            port,
            username,
            password,
            dbname,
            ssl,
            masterarn,
        })
    }

    /// The TLS mode AWS's `ssl` key asks for: `true` → verify-full, `false` → disable,
    /// absent (or not a boolean) → prefer, except for an RDS or Aurora endpoint
    /// ([`crate::rds::is_rds_host`]), which always offers TLS with a certificate from
    /// Amazon RDS's CAs (trusted by default): verify-full, never a plaintext fallback.
    ///
    /// ```
    /// # use rotwise_db::{DbSecret, Engine, TlsMode};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)] struct Toy;
    /// # impl Engine for Toy {
    /// #     const ENGINES: &'static [&'static str] = &["toy"]; const AWS_NAME: &'static str = "toy";
    /// #     const PRODUCT: &'static str = "Toy"; const SECRET_TYPE: &'static str = "ToySecret";
    /// #     const DEFAULT_PORT: u16 = 1; const DEFAULT_DBNAME: Option<&'static str> = None;
    /// #     type Dbname = Option<String>;
    /// # }
    /// let mode = |host: &str, ssl: &str| {
    ///     let json = format!(r#"{{"engine":"toy","host":"{host}","username":"u","password":"p"{ssl}}}"#);
    ///     DbSecret::<Toy>::parse_str(&json).unwrap().tls_mode()
    /// };
    /// assert_eq!(mode("db.example.com", ""), TlsMode::Prefer);
    /// assert_eq!(mode("db.abc.eu-west-1.rds.amazonaws.com", ""), TlsMode::VerifyFull);
    /// assert_eq!(mode("db.abc.eu-west-1.rds.amazonaws.com", r#","ssl":false"#), TlsMode::Disable);
    /// assert_eq!(mode("db.example.com", r#","ssl":true"#), TlsMode::VerifyFull);
    /// ```
    pub fn tls_mode(&self) -> TlsMode {
        match self.ssl {
            Some(true) => TlsMode::VerifyFull,
            Some(false) => TlsMode::Disable,
            None if crate::rds::is_rds_host(&self.host) => TlsMode::VerifyFull,
            None => TlsMode::Prefer,
        }
    }

    /// The same secret with another password.
    pub fn with_password(&self, password: SecretString) -> DbSecret<E> {
        DbSecret {
            password,
            ..self.clone()
        }
    }

    /// The same secret with another username.
    pub fn with_username(&self, username: &str) -> DbSecret<E> {
        let mut next = self.clone();
        next.username = username.to_owned();
        next.fields
            .insert("username".to_owned(), Value::String(username.to_owned()));
        next
    }

    /// The JSON text: every key as read, with the current `username` and `password`.
    pub fn to_payload(&self) -> SecretPayload {
        let mut map = self.fields.clone();
        map.insert(
            "password".to_owned(),
            Value::String(self.password.expose_secret().to_owned()),
        );
        // Serialising a map of JSON values cannot fail.
        let text = Value::Object(map).to_string();
        SecretPayload::String(SecretString::from(text))
    }

    /// The first connection field in which `other` differs from this secret, compared as
    /// parsed (`"port": "5432"` equals `"port": 5432`): `username` (unless
    /// `username_may_differ`), `host`, `port`, `dbname`, `engine`, `ssl`, `masterarn`.
    /// `password` and unknown keys are not compared. `None`: they connect the same way.
    ///
    /// A rotation changes only the password (and, for alternating users, the username),
    /// so a pending value that differs anywhere else was not made by createSecret: logging
    /// in with it could send credentials to another server or without TLS.
    ///
    /// ```
    /// # use rotwise_db::{DbSecret, Engine};
    /// # #[derive(Clone, Copy, Debug, PartialEq, Eq)] struct Toy;
    /// # impl Engine for Toy {
    /// #     const ENGINES: &'static [&'static str] = &["toy"]; const AWS_NAME: &'static str = "toy";
    /// #     const PRODUCT: &'static str = "Toy"; const SECRET_TYPE: &'static str = "ToySecret";
    /// #     const DEFAULT_PORT: u16 = 1; const DEFAULT_DBNAME: Option<&'static str> = None;
    /// #     type Dbname = Option<String>;
    /// # }
    /// let a = DbSecret::<Toy>::parse_str(r#"{"engine":"toy","host":"h","username":"u","password":"p","ssl":true}"#).unwrap();
    /// let b = DbSecret::<Toy>::parse_str(r#"{"engine":"toy","host":"h","username":"u","password":"q","ssl":"true","x":1}"#).unwrap();
    /// assert_eq!(a.connection_mismatch(&b, false), None);
    /// let c = DbSecret::<Toy>::parse_str(r#"{"engine":"toy","host":"h","username":"u","password":"p","ssl":false}"#).unwrap();
    /// assert_eq!(a.connection_mismatch(&c, false), Some("ssl"));
    /// ```
    pub fn connection_mismatch(
        &self,
        other: &DbSecret<E>,
        username_may_differ: bool,
    ) -> Option<&'static str> {
        if !username_may_differ && self.username != other.username {
            return Some("username");
        }
        [
            ("host", self.host == other.host),
            ("port", self.port == other.port),
            ("dbname", self.dbname == other.dbname),
            ("engine", self.engine == other.engine),
            ("ssl", self.ssl == other.ssl),
            ("masterarn", self.masterarn == other.masterarn),
        ]
        .into_iter()
        .find_map(|(field, same)| (!same).then_some(field))
    }

    /// Whether the key `key` was present in the JSON (including `password`).
    pub fn has_key(&self, key: &str) -> bool {
        key == "password" || self.fields.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `rotwise-postgres` describes PostgreSQL.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Pg;

    impl Engine for Pg {
        const ENGINES: &'static [&'static str] = &["postgres", "aurora-postgresql"];
        const AWS_NAME: &'static str = "postgres";
        const PRODUCT: &'static str = "PostgreSQL";
        const SECRET_TYPE: &'static str = "PgSecret";
        const DEFAULT_PORT: u16 = 5432;
        const DEFAULT_DBNAME: Option<&'static str> = Some("postgres");
        type Dbname = String;
    }

    /// As `rotwise-mysql` describes MySQL / MariaDB.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct My;

    impl Engine for My {
        const ENGINES: &'static [&'static str] = &["mysql", "aurora-mysql", "mariadb"];
        const AWS_NAME: &'static str = "mysql";
        const PRODUCT: &'static str = "MySQL";
        const SECRET_TYPE: &'static str = "MysqlSecret";
        const DEFAULT_PORT: u16 = 3306;
        const DEFAULT_DBNAME: Option<&'static str> = None;
        type Dbname = Option<String>;
    }

    const CANARY: &str = "canary-Pw-7f3a";

    /// AWS's missing-key texts, in AWS's order, for a secret whose `engine` is `engine`.
    fn assert_missing_keys_in_aws_order<E: Engine>(engine: &str) {
        for (keys, missing) in [
            (r#""username":"u","password":"p""#, "host"),
            (r#""host":"h","password":"p""#, "username"),
            (r#""host":"h","username":"u""#, "password"),
        ] {
            let text = format!(r#"{{"engine":"{engine}",{keys}}}"#);
            assert_eq!(
                DbSecret::<E>::parse_str(&text).unwrap_err().to_string(),
                format!("{missing} key is missing from secret JSON")
            );
        }
    }

    /// No error (`Display` or `Debug`) quotes the canary password.
    fn assert_never_quoted<E: Engine>(cases: &[String]) {
        for text in cases {
            let err = DbSecret::<E>::parse_str(text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(CANARY), "leaked: {shown}");
            assert!(!shown.contains("canary"), "leaked: {shown}");
        }
    }

    /// `text` with the password `new` and the username `u_clone` comes back key for key,
    /// with the JSON types as read; the written JSON.
    fn assert_round_trip<E: Engine>(s: &DbSecret<E>, text: &str) -> Value {
        let out = s
            .with_password(SecretString::from("new"))
            .with_username("u_clone")
            .to_payload();
        let out: Value = serde_json::from_str(out.as_string().unwrap().expose_secret()).unwrap();
        let mut expected: Value = serde_json::from_str(text).unwrap();
        expected["password"] = Value::String("new".into());
        expected["username"] = Value::String("u_clone".into());
        assert_eq!(out, expected);
        out
    }

    mod postgres {
        use super::*;
        use serde_json::json;

        type PgSecret = DbSecret<Pg>;

        fn ok(text: &str) -> PgSecret {
            PgSecret::parse_str(text).unwrap()
        }

        #[test]
        fn defaults_and_types() {
            let s = ok(
                r#"{"engine":"postgres","host":"h","username":"u","password":"canary-Pw-7f3a"}"#,
            );
            assert_eq!(s.port, 5432);
            assert_eq!(s.dbname, "postgres");
            assert_eq!(s.ssl, None);
            assert_eq!(s.tls_mode(), TlsMode::Prefer);
            assert_eq!(s.masterarn, None);
            let s = ok(
                r#"{"engine":"aurora-postgresql","host":"h","port":"6543","username":"u","password":"p","ssl":"TRUE","dbname":"d","masterarn":"arn:m"}"#,
            );
            assert_eq!(s.port, 6543);
            assert_eq!(s.dbname, "d");
            assert_eq!(s.ssl, Some(true));
            assert_eq!(s.tls_mode(), TlsMode::VerifyFull);
            assert_eq!(s.masterarn.as_deref(), Some("arn:m"));
            let s = ok(
                r#"{"engine":"postgres","host":"h","port":7,"username":"u","password":"p","ssl":false}"#,
            );
            assert_eq!(s.port, 7);
            assert_eq!(s.tls_mode(), TlsMode::Disable);
            let s =
                ok(r#"{"engine":"postgres","host":"h","username":"u","password":"p","ssl":"x"}"#);
            assert_eq!(s.tls_mode(), TlsMode::Prefer);
        }

        #[test]
        fn aws_error_texts_in_aws_order() {
            assert_missing_keys_in_aws_order::<Pg>("postgres");
            let e = |t: &str| PgSecret::parse_str(t).unwrap_err().to_string();
            // Missing keys are reported before the engine, as AWS does.
            assert_eq!(
                e(r#"{"engine":"mysql","host":"h"}"#),
                "username key is missing from secret JSON"
            );
            for engine in [r#""mysql""#, "1", "null"] {
                assert_eq!(
                    e(&format!(
                        r#"{{"engine":{engine},"host":"h","username":"u","password":"p"}}"#
                    )),
                    "Database engine must be set to 'postgres' in order to use this rotation lambda"
                );
            }
            assert_eq!(
                e(r#"{"host":"h","username":"u","password":"p"}"#),
                "Database engine must be set to 'postgres' in order to use this rotation lambda"
            );
        }

        #[test]
        fn bad_values_never_quoted() {
            let cases = [
                format!(r#"{{"engine":"postgres","host":"h","username":"u","password":"{CANARY}"#),
                format!(
                    r#"{{"engine":"postgres","host":"h","username":"u","password":["{CANARY}"]}}"#
                ),
                format!(
                    r#"{{"engine":"postgres","host":"h","username":"u","password":"p","port":"{CANARY}"}}"#
                ),
                format!(
                    r#"{{"engine":"postgres","host":"h","username":"u","password":"{CANARY}" x}}"#
                ),
                format!(r#"["{CANARY}"]"#),
                format!(r#""{CANARY}"#),
                format!(
                    r#"{{"engine":"postgres","host":{{"{CANARY}":1}},"username":"u","password":"p"}}"#
                ),
            ];
            assert_never_quoted::<Pg>(&cases);
            let err = PgSecret::parse_str(&format!(
                r#"{{"engine":"postgres","host":"h","username":"u","password":"p","port":"{CANARY}"}}"#
            ))
            .unwrap_err();
            assert!(err.to_string().contains("port key"), "{err}");
            let err = PgSecret::parse_str(&format!(
                r#"{{"engine":"postgres","host":"h","username":"u","password":"{CANARY}"#
            ))
            .unwrap_err();
            assert!(err.to_string().contains("not valid JSON"), "{err}");
        }

        #[test]
        fn debug_redacts() {
            let s = ok(&format!(
                r#"{{"engine":"postgres","host":"h","username":"u","password":"{CANARY}","extra":1}}"#
            ));
            let d = format!("{s:?}");
            assert!(!d.contains(CANARY), "{d}");
            assert!(d.contains("REDACTED") && d.contains("extra"), "{d}");
        }

        /// Every connection field is compared, as parsed; password and unknown keys are not.
        #[test]
        fn connection_mismatch_names_each_field() {
            let base = json!({"engine":"postgres","host":"h","port":5432,"username":"u",
                "password":"p","dbname":"d","ssl":true,"masterarn":"arn:m","extra":1});
            let cur = ok(&base.to_string());
            for (key, value, field) in [
                ("username", json!("v"), Some("username")),
                ("host", json!("other"), Some("host")),
                ("port", json!(5433), Some("port")),
                ("port", json!("5432"), None),
                ("dbname", json!("postgres"), Some("dbname")),
                ("engine", json!("aurora-postgresql"), Some("engine")),
                ("ssl", json!(false), Some("ssl")),
                ("ssl", json!("TRUE"), None),
                ("masterarn", json!("arn:other"), Some("masterarn")),
                ("password", json!("q"), None),
                ("extra", json!(2), None),
            ] {
                let mut v = base.clone();
                v[key] = value;
                let pending = ok(&v.to_string());
                assert_eq!(cur.connection_mismatch(&pending, false), field, "{key}");
            }
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove("ssl");
            assert_eq!(
                cur.connection_mismatch(&ok(&v.to_string()), false),
                Some("ssl")
            );
            let mut v = base.clone();
            v.as_object_mut().unwrap().remove("masterarn");
            assert_eq!(
                cur.connection_mismatch(&ok(&v.to_string()), false),
                Some("masterarn")
            );
            let mut v = base.clone();
            v["username"] = json!("u_clone");
            assert_eq!(cur.connection_mismatch(&ok(&v.to_string()), true), None);
        }

        #[test]
        fn round_trip_keeps_unknown_keys_and_types() {
            let text = r#"{"engine":"postgres","host":"h","port":"5433","username":"u","password":"p","dbname":"d","ssl":"true","masterarn":"arn:m","n":1.5,"b":false,"o":{"k":[1,"x",null]},"z":null}"#;
            let out = assert_round_trip(&ok(text), text);
            // Port kept as a string, ssl kept as a string: types unchanged.
            assert_eq!(out["port"], Value::String("5433".into()));
        }
    }

    mod mysql {
        use super::*;

        type MysqlSecret = DbSecret<My>;

        fn ok(text: &str) -> MysqlSecret {
            MysqlSecret::parse_str(text).unwrap()
        }

        #[test]
        fn defaults_and_types() {
            let s =
                ok(r#"{"engine":"mysql","host":"h","username":"u","password":"canary-Pw-7f3a"}"#);
            assert_eq!(s.port, 3306);
            assert_eq!(s.dbname, None);
            assert_eq!(s.ssl, None);
            assert_eq!(s.tls_mode(), TlsMode::Prefer);
            let s = ok(
                r#"{"engine":"aurora-mysql","host":"h","port":"3307","username":"u","password":"p","ssl":"TRUE","dbname":"d","masterarn":"arn:m"}"#,
            );
            assert_eq!(s.port, 3307);
            assert_eq!(s.dbname.as_deref(), Some("d"));
            assert_eq!(s.tls_mode(), TlsMode::VerifyFull);
            assert_eq!(s.masterarn.as_deref(), Some("arn:m"));
            let s = ok(
                r#"{"engine":"mariadb","host":"h","port":7,"username":"u","password":"p","ssl":false}"#,
            );
            assert_eq!(s.port, 7);
            assert_eq!(s.tls_mode(), TlsMode::Disable);
        }

        #[test]
        fn aws_error_texts_in_aws_order() {
            assert_missing_keys_in_aws_order::<My>("mysql");
            let e = |t: &str| MysqlSecret::parse_str(t).unwrap_err().to_string();
            for engine in [r#""postgres""#, r#""MySQL""#, "1", "null"] {
                assert_eq!(
                    e(&format!(
                        r#"{{"engine":{engine},"host":"h","username":"u","password":"p"}}"#
                    )),
                    "Database engine must be set to 'mysql' in order to use this rotation lambda"
                );
            }
            assert_eq!(
                e(r#"{"host":"h","username":"u","password":"p"}"#),
                "Database engine must be set to 'mysql' in order to use this rotation lambda"
            );
            assert!(
                e(r#"{"engine":"mysql","host":"h","username":"u","password":"p","port":0}"#)
                    .contains("port key")
            );
        }

        #[test]
        fn bad_values_never_quoted() {
            let cases = [
                format!(r#"{{"engine":"mysql","host":"h","username":"u","password":"{CANARY}"#),
                format!(
                    r#"{{"engine":"mysql","host":"h","username":"u","password":["{CANARY}"]}}"#
                ),
                format!(
                    r#"{{"engine":"mysql","host":"h","username":"u","password":"p","port":"{CANARY}"}}"#
                ),
                format!(r#"["{CANARY}"]"#),
            ];
            assert_never_quoted::<My>(&cases);
        }

        #[test]
        fn debug_redacts_and_round_trip_keeps_unknown_keys() {
            let text = format!(
                r#"{{"engine":"mariadb","host":"h","port":"3307","username":"u","password":"{CANARY}","ssl":"true","masterarn":"arn:m","n":1.5,"o":{{"k":[1,"x",null]}},"z":null}}"#
            );
            let s = ok(&text);
            let d = format!("{s:?}");
            assert!(
                !d.contains(CANARY) && d.contains("REDACTED") && d.contains("\"o\""),
                "{d}"
            );
            let out = assert_round_trip(&s, &text);
            assert_eq!(out["port"], Value::String("3307".into()));
        }
    }
}
