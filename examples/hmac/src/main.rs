//! Demo: a token signed before a rotation verifies after one rotation and not after two.
//!
//! It plays the service's part itself (`begin_rotation`, the four steps through the
//! [`Driver`], `complete_rotation`), so the binary needs nothing but `rotwise-core`.

use std::error::Error;
use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{Driver, RotationEvent, Step};
use rotwise_example_hmac::{HmacRotator, Key, KeyRing, SigningSecret};

/// What `RotateSecret` does: start a rotation, invoke the four steps in order, and take
/// AWSPENDING off the new current version. Returns the token.
async fn rotate(store: &MemoryStore, arn: &str, driver: &Driver) -> Result<String, Box<dyn Error>> {
    let token = store.begin_rotation(arn)?;
    for step in Step::ALL {
        driver
            .handle(&RotationEvent::new(step, arn, &token))
            .await?;
    }
    store.complete_rotation(arn, &token)?;
    Ok(token)
}

/// The key signers use now: AWSCURRENT's `current`.
async fn signing_key(store: &MemoryStore, arn: &str) -> Result<Key, Box<dyn Error>> {
    let v = store.get_secret_value(arn, None, Some(AWSCURRENT)).await?;
    Ok(SigningSecret::parse(&v.payload)?.current)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let initial = SigningSecret::initial(Key::generate()?);
    let ring = KeyRing::trusting(&initial);
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret_payload("demo/signing-key", initial.to_payload())?;
    let driver = Driver::new(store.clone(), Arc::new(HmacRotator::new(ring.clone())));

    let token = signing_key(&store, &arn).await?.sign("user=alice");
    println!("secret {arn}: {{\"current\", \"previous\"}} HMAC-SHA-256 keys");
    println!(
        "signed a token before any rotation; verifies: {}",
        ring.verify(&token)
    );
    for n in 1..=2 {
        let version = rotate(&store, &arn, &driver).await?;
        let fresh = signing_key(&store, &arn).await?.sign("user=bob");
        println!(
            "rotation {n} ({version}): verifiers hold {} keys; old token verifies: {}; new token verifies: {}",
            ring.len(),
            ring.verify(&token),
            ring.verify(&fresh)
        );
    }
    Ok(())
}
