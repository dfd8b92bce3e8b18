//! RDS-managed master secrets end to end: the binary rotates an alternating pair whose
//! master secret holds only `username` and `password`, its database named by the system
//! tag and served by moto's RDS, the users on the engine's private server.
//!
//! moto answers `DescribeDBInstances` with host names such as
//! `<id>.aaaaaaaaaa.us-east-1.rds.amazonaws.com`. The function must connect to the private
//! server through those names, verified as on RDS (an RDS host with `ssl` absent is
//! verify-full): [`with_private_hosts`] starts the binary in its own mount namespace whose
//! `/etc/hosts` maps them to 127.0.0.1, and the private servers' certificate carries the
//! name (`scripts/services`). Nothing outside the function's process sees the mapping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rotwise_core::store::{AWSCURRENT, MemoryStore};
use serde_json::{Value, json};

use crate::Error;
use crate::harness::{Fixture, Harness, credentials_in, json_lines, users_of};

/// Where `bin` runs with `names` resolving to 127.0.0.1: a script under `dir` that starts
/// it in a private mount namespace (`unshare`) with its own `/etc/hosts`. Needs root (or
/// `CAP_SYS_ADMIN`), as the services of this project do.
///
/// # Errors
///
/// `unshare` cannot make a mount namespace here, or the files cannot be written.
pub fn with_private_hosts(bin: &Path, names: &[&str], dir: &Path) -> Result<PathBuf, Error> {
    let probe = Command::new("unshare")
        .args(["--mount", "true"])
        .output()
        .map_err(|e| format!("unshare: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "unshare --mount failed ({}): run as root",
            String::from_utf8_lossy(&probe.stderr).trim()
        )
        .into());
    }
    std::fs::create_dir_all(dir)?;
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        format!(
            "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 {}\n",
            names.join(" ")
        ),
    )?;
    let script = dir.join("bootstrap-with-hosts");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# {} with the host names of {} (see rotwise_lambda_testkit::managed).\n\
             exec unshare --mount --propagation private sh -c 'mount --bind \"$1\" /etc/hosts && exec \"$2\"' sh '{}' '{}'\n",
            bin.display(),
            hosts.display(),
            hosts.display(),
            bin.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(script)
}

/// moto's RDS, where the test registers its server as instances.
struct MotoRds(aws_sdk_rds::Client);

impl MotoRds {
    fn new(url: &str) -> Self {
        use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_rds::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        MotoRds(aws_sdk_rds::Client::from_conf(config))
    }

    /// An instance of `engine` on `port`: its ARN and endpoint address.
    async fn instance(&self, id: &str, engine: &str, port: u16) -> Result<(String, String), Error> {
        let made = self
            .0
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(engine)
            // moto knows no default version for MariaDB; the servers here are 15 and 10.11.
            .engine_version(if engine == "mariadb" {
                "10.11.9"
            } else {
                "15.7"
            })
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("not-used-by-the-test")
            .port(i32::from(port))
            .send()
            .await
            .map_err(|e| format!("moto CreateDBInstance: {e:?}"))?
            .db_instance
            .ok_or("moto returned no instance")?;
        Ok((
            made.db_instance_arn.ok_or("no DBInstanceArn")?,
            made.endpoint
                .and_then(|e| e.address)
                .ok_or("no Endpoint.Address")?,
        ))
    }

    /// A read replica of `source`: its endpoint address.
    async fn replica(&self, id: &str, source: &str) -> Result<String, Error> {
        self.0
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source)
            .send()
            .await
            .map_err(|e| format!("moto CreateDBInstanceReadReplica: {e:?}"))?;
        let out = self
            .0
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| format!("moto DescribeDBInstances: {e:?}"))?;
        Ok(out
            .db_instances()
            .first()
            .and_then(|i| i.endpoint.as_ref())
            .and_then(|e| e.address.clone())
            .ok_or("no replica address")?)
    }
}

/// The connection keys of `fx`'s secrets, with `host` replaced and `ssl` removed (so an
/// RDS host name selects verify-full by itself).
fn on_host(secret_json: &str, host: &str) -> Result<String, Error> {
    let mut v: Value = serde_json::from_str(secret_json)?;
    v["host"] = json!(host);
    if let Some(o) = v.as_object_mut() {
        o.remove("ssl");
    }
    Ok(v.to_string())
}

/// The RDS calls the function logged (its `AWS API call` DEBUG lines).
fn rds_calls(logs: &str) -> usize {
    json_lines(logs)
        .iter()
        .filter(|l| {
            l["message"] == "AWS API call"
                && l["api"].as_str().is_some_and(|a| a.starts_with("rds:"))
        })
        .count()
}

/// The end-to-end proof of a managed master (see the module docs), for `fx`'s server
/// registered in moto (at `moto_url`) as an RDS instance of engine `rds_engine`, with a read
/// replica: a user on the instance's host is rotated twice and a user on the replica's host
/// once, each rotation within the alternating budget plus the master's `DescribeSecret`
/// (12 Secrets Manager calls) and one RDS call (two for the replica user); the new
/// credentials log in, AWSPREVIOUS keeps working, no login failed, and no password is in
/// the logs. `scratch` holds the private hosts file. Returns the users to drop.
///
/// # Errors
///
/// Anything that differs, with the function's logs.
pub async fn try_managed_master_rotation<F: Fixture>(
    fx: &F,
    bin: &Path,
    moto_url: &str,
    rds_engine: &str,
    scratch: &Path,
) -> Result<(), Error> {
    let user = fx.unique_name("rw_rdsm");
    let on_replica = fx.unique_name("rw_rdsr");
    let master = fx.unique_name("rw_rdsmaster");
    let initial = format!("Initial-{}", &fx.unique_name("p")[2..]);
    let replica_pw = format!("Initial-{}", &fx.unique_name("p")[2..]);
    let master_pw = format!("Master-{}", &fx.unique_name("p")[2..]);
    fx.create_user(&user, &initial).await?;
    fx.create_user(&on_replica, &replica_pw).await?;
    // One master per base user (PostgreSQL 16+ wants ADMIN on the base role), both secrets
    // managed by RDS for the same instance.
    let master2 = format!("{master}r");
    fx.create_master(&master, &master_pw, &user).await?;
    fx.create_master(&master2, &master_pw, &on_replica).await?;
    let result = async {
        let port = serde_json::from_str::<Value>(&fx.secret_json("x", "x", None))?["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("the fixture's secret has no port")?;
        let rds = MotoRds::new(moto_url);
        let id = user.replace('_', "-");
        let (instance_arn, writer) = rds.instance(&id, rds_engine, port).await?;
        let replica = rds.replica(&format!("{id}-ro"), &id).await?;
        let wrapper = with_private_hosts(bin, &[&writer, &replica], scratch)?;

        let store = Arc::new(MemoryStore::new());
        let master_arn = store.insert_secret(
            &format!("rds!db-{id}"),
            &json!({"username": master, "password": master_pw}).to_string(),
        )?;
        store.tag_secret(&master_arn, "aws:rds:primarydbinstancearn", &instance_arn)?;
        let master2_arn = store.insert_secret(
            &format!("rds!db-{id}-2"),
            &json!({"username": master2, "password": master_pw}).to_string(),
        )?;
        store.tag_secret(&master2_arn, "aws:rds:primarydbinstancearn", &instance_arn)?;
        let arn = store.insert_secret(
            "managed/user",
            &on_host(&fx.secret_json(&user, &initial, Some(&master_arn)), &writer)?,
        )?;
        let replica_arn = store.insert_secret(
            "managed/replica-user",
            &on_host(
                &fx.secret_json(&on_replica, &replica_pw, Some(&master2_arn)),
                &replica,
            )?,
        )?;
        // The CA file, not the TLS mode: the RDS host name selects verify-full itself.
        let mut env: Vec<(&str, String)> = fx
            .env()
            .into_iter()
            .filter(|(k, _)| *k != "ROTATION_TLS_MODE")
            .collect();
        env.push(("ROTATION_STRATEGY", "alternating".into()));
        env.push(("AWS_ENDPOINT_URL_RDS", moto_url.into()));
        let mark = fx.log_mark();
        let mut h = Harness::try_start(&wrapper, store.clone(), &env).await?;

        let mut rds_seen = 0;
        let mut rotations = Vec::new();
        for (secret, base) in [(&arn, &user), (&arn, &user), (&replica_arn, &on_replica)] {
            let rotation = h.try_rotate(secret).await?;
            if rotation.total_calls() != 12 {
                return Err(format!(
                    "12 Secrets Manager calls expected, made {:?}",
                    rotation.calls
                )
                .into());
            }
            let (u, p) = credentials_in(&store, secret, AWSCURRENT).await;
            fx.login(&u, &p)
                .await
                .map_err(|e| format!("the new AWSCURRENT of {base} does not log in: {e}"))?;
            rotations.push((u, p));
            rds_seen += 1;
        }
        let logs = h.logs().await;
        let calls = rds_calls(&logs);
        // One DescribeDBInstances per setSecret; the replica user's adds the replica's.
        if calls != rds_seen + 1 {
            return Err(format!(
                "{} RDS calls expected, logged {calls}\n{logs}",
                rds_seen + 1
            )
            .into());
        }
        if rotations[0].0 != format!("{user}_clone") || rotations[1].0 != user {
            return Err(format!(
                "unexpected users {:?}",
                rotations.iter().map(|r| &r.0).collect::<Vec<_>>()
            )
            .into());
        }
        fx.login(&rotations[0].0, &rotations[0].1)
            .await
            .map_err(|e| format!("AWSPREVIOUS (the clone) stopped working: {e}"))?;
        if !logs.contains("managed master secret: its connection comes from the service's API") {
            return Err(format!("no managed-master log line\n{logs}").into());
        }
        if !logs.contains("the user's host is a read replica of the master's database") {
            return Err(format!("no replica log line\n{logs}").into());
        }
        let server_log = fx.log_since(&mark).await?;
        for who in [&user, &on_replica, &master, &master2] {
            let failed = fx.failed_logins(&server_log, who);
            if failed != 0 {
                return Err(format!("{failed} failed logins of {who}").into());
            }
        }
        for (what, pw) in [
            ("initial", &initial),
            ("master", &master_pw),
            ("replica user's", &replica_pw),
        ]
        .into_iter()
        .chain(rotations.iter().map(|(_, p)| ("rotated", p)))
        {
            if logs.contains(pw.as_str()) || server_log.contains(pw.as_str()) {
                return Err(format!("the {what} password is in a log").into());
            }
        }
        Ok(())
    }
    .await;
    let mut users = users_of(&user, &master);
    users.extend(users_of(&on_replica, &master2));
    fx.drop_users(&users).await;
    result
}
