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
use rotwise_test_services::moto;
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

/// The lookups the function logged (its `AWS API call` DEBUG lines) of one service.
fn lookups(logs: &str, prefix: &str) -> usize {
    json_lines(logs)
        .iter()
        .filter(|l| {
            l["message"] == "AWS API call"
                && l["api"].as_str().is_some_and(|a| a.starts_with(prefix))
        })
        .count()
}

/// The service that manages the master secret in [`try_managed_master_rotation`].
#[derive(Clone, Copy, Debug)]
pub enum ManagedBy<'a> {
    /// An RDS DB instance of this engine (`postgres`, `mariadb`, ...), with a read replica.
    Rds(&'a str),
    /// A provisioned Redshift cluster.
    Redshift,
}

/// moto's Redshift, where the test registers its server as a cluster.
async fn redshift_cluster(url: &str, id: &str, port: u16) -> Result<String, Error> {
    use aws_sdk_redshift::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_redshift::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    let made = aws_sdk_redshift::Client::from_conf(config)
        .create_cluster()
        .cluster_identifier(id)
        .node_type("dc2.large")
        .master_username("admin")
        .master_user_password("NotUsed1")
        .port(i32::from(port))
        .send()
        .await
        .map_err(|e| format!("moto CreateCluster: {e:?}"))?
        .cluster
        .ok_or("moto returned no cluster")?;
    Ok(made
        .endpoint
        .and_then(|e| e.address)
        .ok_or("no Endpoint.Address")?)
}

/// One user of the proof: its base name, master and secret.
struct Case {
    base: String,
    initial: String,
    master: String,
    arn: String,
    rotations: usize,
}

/// The end-to-end proof of a managed master (see the module docs), for `fx`'s server
/// registered in moto (at `moto_url`) by `by`:
///
/// - RDS: an instance with a read replica; a user on the instance's host is rotated twice
///   and a user on the replica's host once; one `DescribeDBInstances` per rotation, two for
///   the replica user. The RDS host names select verify-full by themselves (no `ssl`, no
///   `ROTATION_TLS_MODE`), checked against the test certificate that carries them.
/// - Redshift: a cluster; a user on its host is rotated twice; one `DescribeClusters` per
///   rotation. moto's Redshift host names carry a random label no test certificate can
///   name, so TLS is `require` (the chain verified, not the name).
///
/// Each rotation makes 12 Secrets Manager calls (the alternating 11, plus the master's
/// `DescribeSecret`); the new credentials log in, AWSPREVIOUS keeps working, no login
/// failed, and no password is in the function's or the server's log. `scratch` holds the
/// private hosts file.
///
/// # Errors
///
/// Anything that differs, with the function's logs.
pub async fn try_managed_master_rotation<F: Fixture>(
    fx: &F,
    bin: &Path,
    moto_url: &str,
    by: ManagedBy<'_>,
    scratch: &Path,
) -> Result<(), Error> {
    let password = |what: &str| format!("{what}-{}", &fx.unique_name("p")[2..]);
    let mut cases = vec![Case {
        base: fx.unique_name("rw_mngd"),
        initial: password("Initial"),
        master: fx.unique_name("rw_mngdmaster"),
        arn: String::new(),
        rotations: 2,
    }];
    if matches!(by, ManagedBy::Rds(_)) {
        cases.push(Case {
            base: fx.unique_name("rw_mngdr"),
            initial: password("Initial"),
            master: fx.unique_name("rw_mngdmasterr"),
            arn: String::new(),
            rotations: 1,
        });
    }
    let master_pw = password("Master");
    // One master per base user (PostgreSQL 16+ wants ADMIN on the base role), each secret
    // managed by the service for the same database.
    for case in &cases {
        fx.create_user(&case.base, &case.initial).await?;
        fx.create_master(&case.master, &master_pw, &case.base)
            .await?;
    }
    let result = run_managed(fx, bin, moto_url, by, scratch, &mut cases, &master_pw).await;
    let mut users = Vec::new();
    for case in &cases {
        users.extend(users_of(&case.base, &case.master));
    }
    fx.drop_users(&users).await;
    result
}

async fn run_managed<F: Fixture>(
    fx: &F,
    bin: &Path,
    moto_url: &str,
    by: ManagedBy<'_>,
    scratch: &Path,
    cases: &mut [Case],
    master_pw: &str,
) -> Result<(), Error> {
    let port = serde_json::from_str::<Value>(&fx.secret_json("x", "x", None))?["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or("the fixture's secret has no port")?;
    let id = cases[0].base.replace('_', "-");
    // Each case's host, the tag on its master secret, the service's API prefix and URL variable.
    let (hosts, tag, arn, prefix, endpoint_var) = match by {
        ManagedBy::Rds(engine) => {
            let rds = moto::rds_client(moto_url);
            let (arn, writer) = moto::rds_instance(&rds, &id, engine, port).await;
            let replica = moto::rds_replica(&rds, &format!("{id}-ro"), &id).await;
            (
                vec![writer, replica],
                "aws:rds:primarydbinstancearn",
                arn,
                "rds:",
                "AWS_ENDPOINT_URL_RDS",
            )
        }
        ManagedBy::Redshift => {
            let host = redshift_cluster(moto_url, &id, port).await?;
            let arn = format!("arn:aws:redshift:us-east-1:123456789012:cluster:{id}");
            (
                vec![host],
                "aws:redshift:primaryclusterarn",
                arn,
                "redshift:",
                "AWS_ENDPOINT_URL_REDSHIFT",
            )
        }
    };
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let wrapper = with_private_hosts(bin, &names, scratch)?;

    let store = Arc::new(MemoryStore::new());
    let managed_name = match by {
        ManagedBy::Rds(_) => "rds!db",
        ManagedBy::Redshift => "redshift!cluster",
    };
    for (i, (case, host)) in cases.iter_mut().zip(&hosts).enumerate() {
        let master_arn = store.insert_secret(
            &format!("{managed_name}-{id}-{i}"),
            &json!({"username": case.master, "password": master_pw}).to_string(),
        )?;
        store.tag_secret(&master_arn, tag, &arn)?;
        case.arn = store.insert_secret(
            &format!("managed/user-{i}"),
            &on_host(
                &fx.secret_json(&case.base, &case.initial, Some(&master_arn)),
                host,
            )?,
        )?;
    }
    let mut env: Vec<(&str, String)> = fx
        .env()
        .into_iter()
        .filter(|(k, _)| *k != "ROTATION_TLS_MODE")
        .collect();
    if matches!(by, ManagedBy::Redshift) {
        env.push(("ROTATION_TLS_MODE", "require".into()));
    }
    env.push(("ROTATION_STRATEGY", "alternating".into()));
    env.push((endpoint_var, moto_url.into()));
    let mark = fx.log_mark();
    let mut h = Harness::try_start(&wrapper, store.clone(), &env).await?;

    let mut rotated = Vec::new();
    for case in cases.iter() {
        for _ in 0..case.rotations {
            let rotation = h.try_rotate(&case.arn).await?;
            if rotation.total_calls() != 12 {
                return Err(format!(
                    "12 Secrets Manager calls expected, made {:?}",
                    rotation.calls
                )
                .into());
            }
            let (u, p) = credentials_in(&store, &case.arn, AWSCURRENT).await;
            fx.login(&u, &p)
                .await
                .map_err(|e| format!("the new AWSCURRENT of {} does not log in: {e}", case.base))?;
            rotated.push((u, p));
        }
    }
    let logs = h.logs().await;
    // One lookup per setSecret; the replica user's adds the replica check's.
    let expected = rotated.len() + cases.len() - 1;
    let made = lookups(&logs, prefix);
    if made != expected {
        return Err(format!("{expected} {prefix} calls expected, logged {made}\n{logs}").into());
    }
    if rotated[0].0 != format!("{}_clone", cases[0].base) || rotated[1].0 != cases[0].base {
        return Err(format!(
            "unexpected users {:?}",
            rotated.iter().map(|r| &r.0).collect::<Vec<_>>()
        )
        .into());
    }
    fx.login(&rotated[0].0, &rotated[0].1)
        .await
        .map_err(|e| format!("AWSPREVIOUS (the clone) stopped working: {e}"))?;
    let mut lines = vec!["managed master secret: its connection comes from the service's API"];
    if cases.len() > 1 {
        lines.push("the user's host is a replica or another endpoint of the master's database");
    }
    for line in lines {
        if !logs.contains(line) {
            return Err(format!("no log line {line:?}\n{logs}").into());
        }
    }
    let server_log = fx.log_since(&mark).await?;
    for who in cases.iter().flat_map(|c| [&c.base, &c.master]) {
        let failed = fx.failed_logins(&server_log, who);
        if failed != 0 {
            return Err(format!("{failed} failed logins of {who}").into());
        }
    }
    let passwords = cases
        .iter()
        .map(|c| c.initial.as_str())
        .chain([master_pw])
        .chain(rotated.iter().map(|(_, p)| p.as_str()));
    for pw in passwords {
        if logs.contains(pw) || server_log.contains(pw) {
            return Err("a password is in a log".into());
        }
    }
    Ok(())
}
