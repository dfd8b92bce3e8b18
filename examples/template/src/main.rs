//! Demo: three rotations of a raw-string secret on a local store, against the fake service.
//!
//! It plays the service's part itself (`begin_rotation`, the four steps through the
//! [`Driver`], `complete_rotation`), so the binary needs nothing but `rotwise-core`.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{Driver, ExposeSecret, RotationEvent, SecretPayload, Step};
use rotwise_example_template::{FakeService, TemplateRotator};

/// What `RotateSecret` does: start a rotation, invoke the four steps in order, and take
/// AWSPENDING off the new current version. Returns the token and each step's duration.
async fn rotate(
    store: &MemoryStore,
    arn: &str,
    driver: &Driver,
) -> Result<(String, Vec<(Step, Duration)>), Box<dyn Error>> {
    let token = store.begin_rotation(arn)?;
    let mut steps = Vec::new();
    for step in Step::ALL {
        let started = Instant::now();
        driver
            .handle(&RotationEvent::new(step, arn, &token))
            .await?;
        steps.push((step, started.elapsed()));
    }
    store.complete_rotation(arn, &token)?;
    Ok((token, steps))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let service = FakeService::with_key("initial-key");
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("demo/api-key", "initial-key")?;
    let driver = Driver::new(
        store.clone(),
        Arc::new(TemplateRotator::new(service.clone())),
    );
    println!("secret {arn}: a raw-string API key, single user");
    for n in 1..=3 {
        let (token, steps) = rotate(&store, &arn, &driver).await?;
        let steps: Vec<String> = steps
            .iter()
            .map(|(s, d)| format!("{s} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "rotation {n}: new AWSCURRENT {token} ({})",
            steps.join(", ")
        );
        let current = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
        let previous = store
            .get_secret_value(&arn, None, Some(AWSPREVIOUS))
            .await?;
        let works = |v: &SecretPayload| {
            v.as_string()
                .is_some_and(|s| service.authenticate(s.expose_secret()))
        };
        println!(
            "  service accepts AWSCURRENT: {}, AWSPREVIOUS: {}",
            works(&current.payload),
            works(&previous.payload)
        );
    }
    Ok(())
}
