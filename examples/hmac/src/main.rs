//! Demo: a token signed before a rotation verifies after one rotation and not after two.

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore, SecretStore};
use rotwise_core::{BoxError, Driver};
use rotwise_example_hmac::{HmacRotator, Key, KeyRing, SigningSecret};
use rotwise_testkit::LocalService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let initial = SigningSecret::initial(Key::generate()?);
    let ring = KeyRing::trusting(&initial);
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret_payload("demo/signing-key", initial.to_payload())?;
    let driver = Driver::new(store.clone(), Arc::new(HmacRotator::new(ring.clone())));
    let local = LocalService::new(store.clone());

    let signing_key = |store: Arc<MemoryStore>, arn: String| async move {
        let v = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
        Ok::<_, BoxError>(SigningSecret::parse(&v.payload)?.current)
    };
    let token = signing_key(store.clone(), arn.clone())
        .await?
        .sign("user=alice");
    println!("secret {arn}: {{\"current\", \"previous\"}} HMAC-SHA-256 keys");
    println!(
        "signed a token before any rotation; verifies: {}",
        ring.verify(&token)
    );
    for n in 1..=2 {
        let run = local.rotate(&arn, &driver).await?;
        let fresh = signing_key(store.clone(), arn.clone())
            .await?
            .sign("user=bob");
        println!(
            "rotation {n} ({}): verifiers hold {} keys; old token verifies: {}; new token verifies: {}",
            run.token,
            ring.len(),
            ring.verify(&token),
            ring.verify(&fresh)
        );
    }
    Ok(())
}
