//! Demo: rotate a throwaway ACL user on the Redis at 127.0.0.1:6379 (or `REDIS_ADDR`),
//! twice single-user and twice alternating, then delete it.

use std::sync::Arc;
use std::time::Duration;

use rotwise_core::store::{AWSCURRENT, AWSPREVIOUS, MemoryStore, SecretStore};
use rotwise_core::{BoxError, Driver};
use rotwise_example_redis::resp::Conn;
use rotwise_example_redis::{AdminLogin, RedisRotator, RedisSecret, RedisStrategy, login_works};
use rotwise_testkit::LocalService;

const T: Duration = Duration::from_secs(5);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
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

async fn demo(host: &str, port: u16, user: &str) -> Result<(), BoxError> {
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
    for strategy in [RedisStrategy::SingleUser, RedisStrategy::AlternatingUsers] {
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
        let local = LocalService::new(store.clone());
        println!("{strategy:?}:");
        for n in 1..=2 {
            let run = local.rotate(&arn, &driver).await?;
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
                run.token,
                cur.username,
                login_works(&cur, T).await?,
                prev.username,
                login_works(&prev, T).await?
            );
        }
    }
    Ok(())
}
