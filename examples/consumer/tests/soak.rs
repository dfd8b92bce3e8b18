//! The issue's soak, against the private PostgreSQL (`scripts/services up`) and the test
//! kit's local Secrets Manager endpoint: 8 consumer tasks, 50 rotations.

use rotwise_example_consumer::soak::{SoakParams, soak};
use rotwise_postgres::Strategy;
use rotwise_test_services::require_pg;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_alternating_users_no_failed_query() {
    let Some(pg) = require_pg() else { return };
    let report = soak(&pg, SoakParams::issue(Strategy::Alternating))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    assert_eq!(report.rotations, 50, "{report}");
    assert!(report.queries > 500, "the consumers ran: {report}");
    assert!(
        report.connects > report.params.tasks as u64,
        "connections were renewed: {report}"
    );
    assert_eq!(
        report.failures, 0,
        "{report}; first: {:?}",
        report.first_failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn soak_single_user_no_failure_seen_by_the_application() {
    let Some(pg) = require_pg() else { return };
    let report = soak(&pg, SoakParams::issue(Strategy::Single))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    assert_eq!(report.rotations, 50, "{report}");
    assert!(report.queries > 500, "the consumers ran: {report}");
    assert_eq!(
        report.failures, 0,
        "{report}; first: {:?}",
        report.first_failure
    );
    // Internal retries are allowed; they are reported above.
}
