//! A toy target and a correct single-user rotator for it, used by this crate's docs and
//! tests (and a template for a real one).
//!
//! The target is an in-process "service" holding one password per user. The secret is
//! AWS-style JSON, `{"username": "...", "password": "..."}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rotwise_core::{
    ErrorKind, ExposeSecret, LoginProbe, ResultExt, Rotator, RotatorError, SecretPayload, Versions,
};

/// A service that checks passwords: `user -> password`.
#[derive(Clone, Default)]
pub struct ToyTarget {
    accounts: Arc<Mutex<HashMap<String, String>>>,
}

/// The toy secret's JSON.
#[derive(serde::Deserialize, serde::Serialize)]
pub struct ToyCredential {
    /// The user.
    pub username: String,
    /// The password.
    pub password: String,
}

impl ToyCredential {
    /// Parse a secret value. A value that is not the toy's JSON is an
    /// [`ErrorKind::InvalidSecret`].
    pub fn parse(value: &SecretPayload) -> Result<Self, RotatorError> {
        let text = value.as_string().ok_or_else(|| {
            RotatorError::new(
                ErrorKind::InvalidSecret,
                "the toy secret must be a string, not binary",
            )
        })?;
        serde_json::from_str(text.expose_secret()).kind(
            ErrorKind::InvalidSecret,
            "the toy secret is not {\"username\", \"password\"} JSON",
        )
    }
}

impl ToyTarget {
    /// A target with one user.
    pub fn with_user(username: &str, password: &str) -> Self {
        let t = ToyTarget::default();
        t.set_password(username, password);
        t
    }

    /// Change a user's password (what setSecret does on a real system).
    pub fn set_password(&self, username: &str, password: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(username.to_string(), password.to_string());
    }

    /// Whether `username` logs in with `password`.
    pub fn login(&self, username: &str, password: &str) -> bool {
        self.accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(username)
            .is_some_and(|p| p == password)
    }
}

#[async_trait]
impl LoginProbe for ToyTarget {
    async fn accepts(&self, value: &SecretPayload) -> Result<bool, RotatorError> {
        let c = ToyCredential::parse(value)?;
        Ok(self.login(&c.username, &c.password))
    }
}

/// A correct single-user rotator for [`ToyTarget`].
pub struct ToyRotator {
    target: ToyTarget,
}

impl ToyRotator {
    /// A rotator for `target`.
    pub fn new(target: ToyTarget) -> Self {
        ToyRotator { target }
    }
}

#[async_trait]
impl Rotator for ToyRotator {
    fn name(&self) -> &str {
        "toy-single"
    }

    async fn next_value(&self, versions: &Versions<'_>) -> Result<SecretPayload, RotatorError> {
        let current = ToyCredential::parse(&versions.current().await?.payload)?;
        let next = ToyCredential {
            username: current.username,
            password: versions.new_password().await?.expose_secret().to_string(),
        };
        Ok(serde_json::to_string(&next)?.into())
    }

    async fn set(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let current = ToyCredential::parse(&versions.current().await?.payload)?;
        let pending = ToyCredential::parse(&versions.pending().await?.payload)?;
        if pending.username != current.username {
            return Err(RotatorError::new(
                ErrorKind::InvalidSecret,
                "the pending user differs from the current user",
            ));
        }
        // Current first (the normal path), then pending (a retry after the change).
        if self.target.login(&current.username, &current.password) {
            self.target
                .set_password(&pending.username, &pending.password);
            return Ok(());
        }
        if self.target.login(&pending.username, &pending.password) {
            return Ok(());
        }
        Err(RotatorError::new(
            ErrorKind::LoginRefused,
            "neither the current nor the pending password logs in",
        ))
    }

    async fn test(&self, versions: &Versions<'_>) -> Result<(), RotatorError> {
        let pending = ToyCredential::parse(&versions.pending().await?.payload)?;
        if self.target.login(&pending.username, &pending.password) {
            Ok(())
        } else {
            Err(RotatorError::new(
                ErrorKind::LoginRefused,
                "the pending password does not log in",
            ))
        }
    }
}
