//! Demo: a short soak per strategy (4 consumer tasks, 10 rotations) against the private
//! PostgreSQL of `scripts/services up`, printing queries, failures and reconnects.

use rotwise_example_consumer::soak::{SoakParams, soak};
use rotwise_postgres::Strategy;

#[tokio::main]
async fn main() -> Result<(), String> {
    let Some(pg) = rotwise_test_services::require_pg() else {
        return Err("run `scripts/services up` first".into());
    };
    for strategy in [Strategy::Alternating, Strategy::Single] {
        let params = SoakParams {
            rotations: 10,
            tasks: 4,
            ..SoakParams::issue(strategy)
        };
        println!("{}", soak(&pg, params).await?);
    }
    Ok(())
}
