//! Demo: three rotations of a raw-string secret on a local store, against the fake service.

use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{BoxError, Driver};
use rotwise_example_template::{FakeService, TemplateRotator};
use rotwise_testkit::LocalService;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let service = FakeService::with_key("initial-key");
    let store = Arc::new(MemoryStore::new());
    let arn = store.insert_secret("demo/api-key", "initial-key")?;
    let driver = Driver::new(
        store.clone(),
        Arc::new(TemplateRotator::new(service.clone())),
    );
    let local = LocalService::new(store.clone());
    println!("secret {arn}: a raw-string API key, single user");
    for n in 1..=3 {
        let run = local.rotate(&arn, &driver).await?;
        let steps: Vec<String> = run
            .steps
            .iter()
            .map(|(s, d)| format!("{s} {:.1} ms", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "rotation {n}: new AWSCURRENT {} ({})",
            run.token,
            steps.join(", ")
        );
        let current = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
        let previous = store
            .get_secret_value(&arn, None, Some(AWSPREVIOUS))
            .await?;
        let works = |v: &rotwise_core::SecretPayload| {
            v.as_string()
                .is_some_and(|s| service.authenticate(rotwise_core::ExposeSecret::expose_secret(s)))
        };
        println!(
            "  service accepts AWSCURRENT: {}, AWSPREVIOUS: {}",
            works(&current.payload),
            works(&previous.payload)
        );
    }
    Ok(())
}
