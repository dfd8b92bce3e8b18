//! The secret JSON, with AWS's keys and AWS's error texts.

use std::fmt;

use rotwise_core::{ExposeSecret, SecretPayload, SecretString};
use serde_json::{Map, Value};

use crate::tls::TlsMode;

/// The engines AWS's MySQL and MariaDB functions accept.
pub const ENGINES: [&str; 3] = ["mysql", "aurora-mysql", "mariadb"];

/// The default port when the secret has none.
pub const DEFAULT_PORT: u16 = 3306;

/// Why a secret value is not a usable MySQL/MariaDB secret. Never contains a value from
/// the secret: only key names, expected types and JSON positions.
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
    #[error("the secret value is binary; a MySQL secret is a JSON SecretString")]
    Binary,
    /// A required key is absent (AWS's text).
    #[error("{0} key is missing from secret JSON")]
    Missing(&'static str),
    /// `engine` absent or not a MySQL or MariaDB engine (AWS's text).
    #[error("Database engine must be set to 'mysql' in order to use this rotation lambda")]
    Engine,
    /// A key holds the wrong JSON type or an unusable value (the value is not shown).
    #[error("the {key} key in the secret JSON must be {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
    },
}

/// A MySQL / Aurora MySQL / MariaDB secret as AWS's functions store it:
/// `{"engine", "host", "port", "username", "password", "dbname", "ssl", "masterarn", ...}`.
///
/// Unknown keys are kept with their JSON types and written back unchanged by
/// [`MysqlSecret::to_payload`]; only `username` and `password` are ever replaced. The password
/// lives in a [`SecretString`] (not in the key map), and `Debug` redacts it.
#[derive(Clone)]
pub struct MysqlSecret {
    /// Every key except `password`, as read.
    fields: Map<String, Value>,
    /// `engine` (`mysql`, `aurora-mysql` or `mariadb`).
    pub engine: String,
    /// `host`.
    pub host: String,
    /// `port` (a number or a numeric string; default 3306).
    pub port: u16,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: SecretString,
    /// `dbname` (optional: no default database, as AWS's functions).
    pub dbname: Option<String>,
    /// `ssl`: `Some(true)` / `Some(false)` from a bool or `"true"`/`"false"` (any case);
    /// `None` when absent or anything else (AWS's "try TLS, fall back").
    pub ssl: Option<bool>,
    /// `masterarn`.
    pub masterarn: Option<String>,
}

impl fmt::Debug for MysqlSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let other: Vec<&String> = self
            .fields
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .collect();
        f.debug_struct("MysqlSecret")
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

impl MysqlSecret {
    /// Parse a secret value.
    pub fn parse(payload: &SecretPayload) -> Result<MysqlSecret, SecretError> {
        match payload.as_string() {
            Some(s) => MysqlSecret::parse_str(s.expose_secret()),
            None => Err(SecretError::Binary),
        }
    }

    /// Parse a secret's JSON text. Checks in AWS's order: `host`, `username`, `password`
    /// present, then `engine`.
    pub fn parse_str(text: &str) -> Result<MysqlSecret, SecretError> {
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
            Some(Value::String(e)) if ENGINES.contains(&e.as_str()) => e.clone(),
            _ => return Err(SecretError::Engine),
        };
        let host = required(&fields, "host")?;
        let username = required(&fields, "username")?;
        let port = match fields.get("port") {
            None | Some(Value::Null) => Some(DEFAULT_PORT),
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
            Some(_) => None,
        }
        .filter(|p| *p != 0)
        .ok_or(SecretError::WrongType {
            key: "port",
            expected: "a port number (1-65535) or a string holding one",
        })?;
        let dbname = string_key(&fields, "dbname")?.filter(|d| !d.is_empty());
        let ssl = match fields.get("ssl") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        let masterarn = string_key(&fields, "masterarn")?;
        Ok(MysqlSecret {
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
    /// absent (or not a boolean) → prefer.
    pub fn tls_mode(&self) -> TlsMode {
        match self.ssl {
            Some(true) => TlsMode::VerifyFull,
            Some(false) => TlsMode::Disable,
            None => TlsMode::Prefer,
        }
    }

    /// The same secret with another password.
    pub fn with_password(&self, password: SecretString) -> MysqlSecret {
        MysqlSecret {
            password,
            ..self.clone()
        }
    }

    /// The same secret with another username.
    pub fn with_username(&self, username: &str) -> MysqlSecret {
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

    /// Whether the secret's `engine` is `mariadb`.
    pub fn is_mariadb(&self) -> bool {
        self.engine == "mariadb"
    }

    /// Whether the key `key` was present in the JSON (including `password`).
    pub fn has_key(&self, key: &str) -> bool {
        key == "password" || self.fields.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-Pw-7f3a";

    fn ok(text: &str) -> MysqlSecret {
        MysqlSecret::parse_str(text).unwrap()
    }

    #[test]
    fn defaults_and_types() {
        let s = ok(r#"{"engine":"mysql","host":"h","username":"u","password":"canary-Pw-7f3a"}"#);
        assert_eq!(s.port, 3306);
        assert_eq!(s.dbname, None);
        assert_eq!(s.ssl, None);
        assert_eq!(s.tls_mode(), TlsMode::Prefer);
        assert!(!s.is_mariadb());
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
        assert!(s.is_mariadb());
        assert_eq!(s.port, 7);
        assert_eq!(s.tls_mode(), TlsMode::Disable);
    }

    #[test]
    fn aws_error_texts_in_aws_order() {
        let e = |t: &str| MysqlSecret::parse_str(t).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"engine":"mysql","username":"u","password":"p"}"#),
            "host key is missing from secret JSON"
        );
        assert_eq!(
            e(r#"{"engine":"mysql","host":"h","password":"p"}"#),
            "username key is missing from secret JSON"
        );
        assert_eq!(
            e(r#"{"engine":"mysql","host":"h","username":"u"}"#),
            "password key is missing from secret JSON"
        );
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
            format!(r#"{{"engine":"mysql","host":"h","username":"u","password":["{CANARY}"]}}"#),
            format!(
                r#"{{"engine":"mysql","host":"h","username":"u","password":"p","port":"{CANARY}"}}"#
            ),
            format!(r#"["{CANARY}"]"#),
        ];
        for text in cases {
            let err = MysqlSecret::parse_str(&text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("canary"), "leaked: {shown}");
        }
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
        let out = s
            .with_password(SecretString::from("new"))
            .with_username("u_clone")
            .to_payload();
        let out: Value = serde_json::from_str(out.as_string().unwrap().expose_secret()).unwrap();
        let mut expected: Value = serde_json::from_str(&text).unwrap();
        expected["password"] = Value::String("new".into());
        expected["username"] = Value::String("u_clone".into());
        assert_eq!(out, expected);
        assert_eq!(out["port"], Value::String("3307".into()));
    }
}
