//! SCRAM-SHA-256 verifiers (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
//! RFC 5802 / RFC 7677, as PostgreSQL stores them in `pg_authid.rolpassword`), computed
//! client-side so the password never reaches the server or its logs.
//!
//! The format and the password preparation are those of `postgres_protocol`'s
//! `password::scram_sha_256` (and of libpq's `PQencryptPasswordConn`): SASLprep the
//! password when it is valid UTF-8 and SASLprep accepts it, else use its bytes as they are;
//! 4,096 iterations; a 16-byte random salt. What differs is the cost: the salted password
//! is PBKDF2-HMAC-SHA-256, and `postgres_protocol` builds a new HMAC key on every one of
//! the 4,096 iterations (`Hmac::new_from_slice` in its loop: two extra SHA-256 blocks per
//! iteration). Here PBKDF2 is AWS-LC's (`aws_lc_rs::pbkdf2`, the crypto library already
//! linked for TLS), which keys HMAC once: 1.0 ms of CPU per verifier against 1.45 ms
//! (release build, `tests::cost`). The result is byte for byte the same for the same salt
//! (tested).
//!
//! The salt comes from the operating system's generator (through `rand`'s thread RNG, as
//! in `postgres_protocol`), not from AWS-LC's: a verifier alone never pays for seeding the
//! TLS library's random generator.

use std::num::NonZeroU32;

use aws_lc_rs::{digest, hmac, pbkdf2};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use rotwise_core::{ExposeSecret, SecretString};

/// PBKDF2 iterations: PostgreSQL's default (`scram_iterations`) and `postgres_protocol`'s.
pub const ITERATIONS: u32 = 4096;

/// Salt length in bytes: PostgreSQL's and `postgres_protocol`'s.
pub const SALT_LEN: usize = 16;

/// A SCRAM-SHA-256 verifier for `password`, with a fresh random salt.
///
/// The verifier is as sensitive as a password hash: never log it.
pub fn verifier(password: &SecretString) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    verifier_with_salt(password.expose_secret().as_bytes(), &salt)
}

/// The verifier for `password` (bytes, as PostgreSQL treats passwords) with `salt`.
pub fn verifier_with_salt(password: &[u8], salt: &[u8]) -> String {
    let prepared = prepare(password);
    let mut salted = [0u8; digest::SHA256_OUTPUT_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::MIN.saturating_add(ITERATIONS - 1),
        salt,
        &prepared,
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key.as_ref()),
        STANDARD.encode(server_key.as_ref())
    )
}

/// SASLprep (RFC 4013) when the password is UTF-8 and allowed by it, else the bytes as
/// they are: what libpq and the server do.
fn prepare(password: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(password) {
        Ok(text) => match stringprep::saslprep(text) {
            Ok(prepared) => prepared.into_owned().into_bytes(),
            Err(_) => password.to_vec(),
        },
        Err(_) => password.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The salt of a verifier, decoded.
    fn salt_of(verifier: &str) -> Vec<u8> {
        let b64 = verifier
            .split('$')
            .nth(1)
            .and_then(|s| s.split(':').nth(1))
            .expect("SCRAM-SHA-256$<iter>:<salt>$...");
        STANDARD.decode(b64).expect("base64 salt")
    }

    /// Byte for byte what `postgres_protocol` computes for the same salt: its verifier
    /// (random salt) recomputed here with that salt, for ASCII, SASLprep-mapped,
    /// SASLprep-refused and non-UTF-8 passwords.
    #[test]
    fn same_as_postgres_protocol_for_the_same_salt() {
        let passwords: [&[u8]; 5] = [
            b"pencil",
            b"Correct-Horse-Battery-Staple-0123456789!@#",
            "I\u{00AD}X".as_bytes(), // soft hyphen: SASLprep maps it to nothing
            "a\u{0007}b".as_bytes(), // a control character: SASLprep refuses it
            &[0xff, 0xfe, b'x'],     // not UTF-8
        ];
        for password in passwords {
            let theirs = postgres_protocol::password::scram_sha_256(password);
            let salt = salt_of(&theirs);
            assert_eq!(salt.len(), SALT_LEN);
            assert_eq!(verifier_with_salt(password, &salt), theirs, "{password:?}");
        }
    }

    /// A changed password or salt changes the verifier (the comparison above can fail).
    #[test]
    fn password_and_salt_matter() {
        let salt = [7u8; SALT_LEN];
        let a = verifier_with_salt(b"pencil", &salt);
        assert_ne!(a, verifier_with_salt(b"pencim", &salt));
        assert_ne!(a, verifier_with_salt(b"pencil", &[8u8; SALT_LEN]));
        assert!(
            a.starts_with("SCRAM-SHA-256$4096:BwcHBwcHBwcHBwcHBwcHBw==$"),
            "{a}"
        );
        let pw = SecretString::from("pencil");
        assert_ne!(verifier(&pw), verifier(&pw), "a fresh salt each time");
        assert!(!verifier(&pw).contains("pencil"));
    }

    /// The CPU cost of one verifier here and in `postgres_protocol`: 200 of each, timed by
    /// this thread's user + system time (`/proc/thread-self/stat`, 10 ms ticks, so 200
    /// runs give a resolution of 0.05 ms each). Run in release: `cargo test --release -p
    /// rotwise-postgres --lib scram::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check: run it in release"]
    fn cost() {
        fn cpu_ticks() -> u64 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
            let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse().ok())
                .collect();
            fields.iter().sum()
        }
        fn per_run(f: &dyn Fn()) -> f64 {
            const RUNS: u32 = 200;
            let start = cpu_ticks();
            for _ in 0..RUNS {
                f();
            }
            (cpu_ticks() - start) as f64 * 10.0 / f64::from(RUNS)
        }
        let salt = [7u8; SALT_LEN];
        let rustcrypto = per_run(&|| {
            use ::hmac::{KeyInit, Mac};
            let key = ::hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Correct-Horse-Battery-Staple")
                .unwrap_or_else(|_| unreachable!());
            let mut mac = key.clone();
            mac.update(&salt);
            mac.update(&[0, 0, 0, 1]);
            let mut prev = mac.finalize().into_bytes();
            let mut hi = prev;
            for _ in 1..ITERATIONS {
                let mut mac = key.clone();
                mac.update(&prev);
                prev = mac.finalize().into_bytes();
                for (h, p) in hi.iter_mut().zip(prev) {
                    *h ^= p;
                }
            }
            std::hint::black_box(hi);
        });
        println!("PBKDF2 keyed once with hmac + sha2 (clone per iteration): {rustcrypto:.2} ms");
        let ours = per_run(&|| {
            std::hint::black_box(verifier_with_salt(b"Correct-Horse-Battery-Staple", &salt));
        });
        let theirs = per_run(&|| {
            std::hint::black_box(postgres_protocol::password::scram_sha_256(
                b"Correct-Horse-Battery-Staple",
            ));
        });
        println!("SCRAM verifier CPU: rotwise {ours:.2} ms, postgres_protocol {theirs:.2} ms");
    }

    /// The private PostgreSQL (scram-sha-256 authentication) accepts a role whose
    /// verifier was computed here: the password logs in, a wrong one does not.
    #[tokio::test]
    async fn the_server_accepts_the_verifier() {
        use crate::sql::{quote_ident, quote_literal};
        let Some(pg) = rotwise_test_services::require_pg() else {
            return;
        };
        let role = rotwise_test_services::unique_name("rw_scram");
        let password = format!("Scram-{}", &role[3..]);
        let admin = pg.admin().await;
        admin
            .batch_execute(&format!(
                "CREATE ROLE {} LOGIN PASSWORD {}",
                quote_ident(&role),
                quote_literal(&verifier(&SecretString::from(password.clone())))
            ))
            .await
            .unwrap();
        let ok = pg.connect_as(&role, &password).await;
        let wrong = pg.connect_as(&role, "not-the-password").await;
        admin
            .batch_execute(&format!("DROP ROLE {}", quote_ident(&role)))
            .await
            .unwrap();
        assert!(ok.is_ok(), "the password logs in: {:?}", ok.err());
        assert!(wrong.is_err(), "a wrong password is refused");
    }
}
