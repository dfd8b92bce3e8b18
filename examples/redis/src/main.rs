//! Demo: rotate a throwaway ACL user on the Redis at 127.0.0.1:6379 (or `REDIS_ADDR`),
//! twice single-user and twice alternating, then delete it.
//!
//! It plays the service's part itself (`begin_rotation`, the four steps through the
//! [`Driver`], `complete_rotation`), so the binary needs nothing but `rotwise-core`.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{Driver, RotationEvent, Step, Strategy};
use rotwise_example_redis::resp::Conn;
use rotwise_example_redis::{AdminLogin, RedisRotator, RedisSecret, login_works};

const T: Duration = Duration::from_secs(5);

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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::var("REDIS_ADDR").unwrap_or_else(|_| "127.0.0.1:6379".into());
    let (host, port) = addr.rsplit_once(':').ok_or("REDIS_ADDR is host:port")?;
    let port: u16 = port.parse()?;
    let user = format!("rotwise_demo_{}", std::process::id());
    let mut admin = Conn::connect(host, port, T).await?;
    let result = demo(host, port, &user).await;
    let clone = format!("{user}_clone");
    admin
        .call(&[b"ACL", b"DELUSER", user.as_bytes(), clone.as_bytes()])
        .await?;
    println!("deleted the demo users {user} and {clone}");
    result
}

async fn demo(host: &str, port: u16, user: &str) -> Result<(), Box<dyn Error>> {
    let mut admin = Conn::connect(host, port, T).await?;
    admin
        .call(&[
            b"ACL",
            b"SETUSER",
            user.as_bytes(),
            b"on",
            b">demo-initial",
            b"~app:*",
            b"-@all",
            b"+get",
            b"+set",
        ])
        .await?;
    println!("created ACL user {user} (~app:* +get +set) on {host}:{port}");
    for strategy in [Strategy::Single, Strategy::Alternating] {
        admin
            .call(&[
                b"ACL",
                b"SETUSER",
                user.as_bytes(),
                b"resetpass",
                b">demo-initial",
            ])
            .await?;
        let store = Arc::new(MemoryStore::new());
        let initial = RedisSecret::new(host, port, user, "demo-initial");
        let arn = store.insert_secret_payload("demo/redis", initial.to_payload())?;
        let rotator = RedisRotator::new(AdminLogin::default(), strategy);
        let driver = Driver::new(store.clone(), Arc::new(rotator));
        println!("{strategy}:");
        for n in 1..=2 {
            let token = rotate(&store, &arn, &driver).await?;
            let cur = store.get_secret_value(&arn, None, Some(AWSCURRENT)).await?;
            let prev = store
                .get_secret_value(&arn, None, Some(AWSPREVIOUS))
                .await?;
            let (cur, prev) = (
                RedisSecret::parse(&cur.payload)?,
                RedisSecret::parse(&prev.payload)?,
            );
            println!(
                "  rotation {n} ({}): AWSCURRENT user {} logs in: {}; AWSPREVIOUS user {} logs in: {}",
                token,
                cur.username,
                login_works(&cur, T).await?,
                prev.username,
                login_works(&prev, T).await?
            );
        }
    }
    Ok(())
}
