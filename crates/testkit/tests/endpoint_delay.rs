//! The local endpoint's injected delay (`LocalEndpoint::set_delay`, `rotwise-local-sm
//! --delay-ms`): every answer comes that much later, and setting it back to zero removes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rotwise_core::store::{AwsStore, MemoryStore, SecretStore};
use rotwise_testkit::endpoint::LocalEndpoint;

async fn timed_describe(store: &AwsStore, arn: &str) -> Duration {
    let started = Instant::now();
    store.describe_secret(arn).await.expect("DescribeSecret");
    started.elapsed()
}

#[tokio::test]
async fn every_answer_is_delayed_by_the_set_time() {
    let memory = Arc::new(MemoryStore::new());
    let arn = memory.insert_secret("delay/secret", "value").unwrap();
    let endpoint = LocalEndpoint::start(memory).unwrap();
    let sdk = AwsStore::for_endpoint(endpoint.url(), "us-east-1");
    assert_eq!(endpoint.delay(), Duration::ZERO);
    // Warm the connection, then a baseline.
    timed_describe(&sdk, &arn).await;
    let baseline = timed_describe(&sdk, &arn).await;

    endpoint.set_delay(Duration::from_millis(60));
    assert_eq!(endpoint.delay(), Duration::from_millis(60));
    for _ in 0..3 {
        let delayed = timed_describe(&sdk, &arn).await;
        assert!(delayed >= Duration::from_millis(60), "{delayed:?}");
        assert!(delayed > baseline, "{delayed:?} vs {baseline:?}");
    }
    // Errors are delayed too (the delay models the network, not the operation).
    let started = Instant::now();
    assert!(sdk.describe_secret("no/such/secret").await.is_err());
    assert!(started.elapsed() >= Duration::from_millis(60));

    endpoint.set_delay(Duration::ZERO);
    let undelayed = timed_describe(&sdk, &arn).await;
    assert!(undelayed < Duration::from_millis(60), "{undelayed:?}");
    assert_eq!(endpoint.calls_to("DescribeSecret"), 7);
}
