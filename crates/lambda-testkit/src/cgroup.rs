//! A CPU quota and CPU accounting for one process, with Linux control groups: what the
//! benchmark uses to model a Lambda function's share of a core.
//!
//! Lambda gives CPU in proportion to memory, one vCPU at 1,769 MB
//! ([`lambda_cpu_share`]): a 128 MB function gets about 7.2% of a core, a 512 MB one about
//! 29%. A [`CpuGroup`] is a child control group with that quota (the CFS bandwidth
//! controller: `quota` µs of CPU per `period` µs), and the process is placed in it before
//! its first instruction ([`CpuGroup::attach_on_exec`], used by
//! [`LambdaProcess::spawn_in`](crate::emulator::LambdaProcess::spawn_in)), so init is
//! measured under the quota too. The group also counts the CPU time (user + system) of
//! every thread the process ever ran, exited ones included ([`CpuGroup::usage`]).
//!
//! Both hierarchies are supported:
//!
//! - cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` lists `cpu`): a child of
//!   `/sys/fs/cgroup` with `cpu.max` = `"QUOTA PERIOD"` (the parent's
//!   `cgroup.subtree_control` gets `+cpu` if needed); usage from `cpu.stat`'s
//!   `usage_usec`;
//! - cgroup v1 (the `cpu` controller mounted at `/sys/fs/cgroup/cpu`): a child with
//!   `cpu.cfs_period_us` and `cpu.cfs_quota_us`, and a child of the `cpuacct` hierarchy
//!   (`/sys/fs/cgroup/cpuacct`, or the same directory when the two are mounted together)
//!   for `cpuacct.usage`.
//!
//! Creating a group needs write access to the hierarchy (root, or a delegated subtree).
//! When it cannot be done, [`CpuGroup::create`] says why and the caller skips what needed
//! it; nothing here is required for a test to pass.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Memory size that gets one full vCPU on Lambda (AWS: "at 1,769 MB, a function has the
/// equivalent of one vCPU").
pub const FULL_VCPU_MB: u32 = 1769;

/// The default CFS period: 100 ms (the kernel's default `cpu.cfs_period_us`).
pub const DEFAULT_PERIOD: Duration = Duration::from_millis(100);

const V2_ROOT: &str = "/sys/fs/cgroup";
const V1_CPU: &str = "/sys/fs/cgroup/cpu";
const V1_CPUACCT: &str = "/sys/fs/cgroup/cpuacct";

/// The fraction of one core a Lambda function with `memory_mb` gets (capped at 1: above
/// 1,769 MB a function gets more vCPUs, but one single-threaded rotation uses one).
pub fn lambda_cpu_share(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / f64::from(FULL_VCPU_MB)).min(1.0)
}

/// Which hierarchy a group lives in.
#[derive(Debug)]
enum Kind {
    /// cgroup v2: one directory (`cpu.max`, `cpu.stat`).
    V2 { dir: PathBuf },
    /// cgroup v1: the `cpu` directory (quota) and the `cpuacct` one (usage), which may be
    /// the same.
    V1 { cpu: PathBuf, cpuacct: PathBuf },
}

/// A child control group with a CPU quota (or none), counting the CPU time of the
/// processes placed in it. Removed when dropped (once its processes have exited).
#[derive(Debug)]
pub struct CpuGroup {
    kind: Kind,
    /// CPU per period, `None` for no limit (accounting only).
    quota: Option<Duration>,
    period: Duration,
}

/// Why no control group could be set up.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "rotwise-bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn write(path: &Path, value: &str) -> Result<(), Unavailable> {
    std::fs::write(path, value)
        .map_err(|e| Unavailable(format!("cannot write {value:?} to {}: {e}", path.display())))
}

impl CpuGroup {
    /// A new group whose processes together get `share` of one core (`None`: no limit,
    /// accounting only), enforced per `period`.
    ///
    /// # Errors
    ///
    /// [`Unavailable`], with the reason, when neither hierarchy can be used here (not
    /// Linux, no `cpu` controller, no permission to create a group).
    pub fn create(share: Option<f64>, period: Duration) -> Result<CpuGroup, Unavailable> {
        if let Some(s) = share
            && !(s > 0.0 && s <= 64.0)
        {
            return Err(Unavailable(format!("a CPU share of {s} makes no sense")));
        }
        let period = period.clamp(Duration::from_millis(1), Duration::from_secs(1));
        // The kernel refuses a quota under 1 ms.
        let quota = share.map(|s| period.mul_f64(s).max(Duration::from_millis(1)));
        let name = unique_name();
        let v2_controllers = std::fs::read_to_string(Path::new(V2_ROOT).join("cgroup.controllers"));
        match v2_controllers {
            Ok(controllers) => {
                if !controllers.split_whitespace().any(|c| c == "cpu") {
                    return Err(Unavailable(format!(
                        "cgroup v2 at {V2_ROOT} has no cpu controller (cgroup.controllers: {:?})",
                        controllers.trim()
                    )));
                }
                let root = Path::new(V2_ROOT);
                let subtree = std::fs::read_to_string(root.join("cgroup.subtree_control"))
                    .unwrap_or_default();
                if !subtree.split_whitespace().any(|c| c == "cpu") {
                    write(&root.join("cgroup.subtree_control"), "+cpu")?;
                }
                let dir = root.join(&name);
                std::fs::create_dir(&dir)
                    .map_err(|e| Unavailable(format!("cannot create {}: {e}", dir.display())))?;
                let group = CpuGroup {
                    kind: Kind::V2 { dir: dir.clone() },
                    quota,
                    period,
                };
                let max = match quota {
                    Some(q) => format!("{} {}", q.as_micros(), period.as_micros()),
                    None => format!("max {}", period.as_micros()),
                };
                write(&dir.join("cpu.max"), &max)?;
                Ok(group)
            }
            Err(_) => Self::create_v1(&name, quota, period),
        }
    }

    fn create_v1(
        name: &str,
        quota: Option<Duration>,
        period: Duration,
    ) -> Result<CpuGroup, Unavailable> {
        let cpu_root = Path::new(V1_CPU);
        if !cpu_root.join("cpu.cfs_quota_us").is_file() {
            return Err(Unavailable(format!(
                "no cgroup v2 cpu controller at {V2_ROOT} and no cgroup v1 cpu controller at \
                 {V1_CPU}"
            )));
        }
        let acct_root = if cpu_root.join("cpuacct.usage").is_file() {
            cpu_root
        } else {
            Path::new(V1_CPUACCT)
        };
        if !acct_root.join("cpuacct.usage").is_file() {
            return Err(Unavailable(format!(
                "cgroup v1: no cpuacct controller at {V1_CPUACCT} to count CPU time"
            )));
        }
        let cpu = cpu_root.join(name);
        let cpuacct = acct_root.join(name);
        std::fs::create_dir(&cpu)
            .map_err(|e| Unavailable(format!("cannot create {}: {e}", cpu.display())))?;
        // From here on, dropping `group` removes what was made.
        let group = CpuGroup {
            quota,
            period,
            kind: Kind::V1 {
                cpu: cpu.clone(),
                cpuacct: cpuacct.clone(),
            },
        };
        if cpuacct != cpu {
            std::fs::create_dir(&cpuacct)
                .map_err(|e| Unavailable(format!("cannot create {}: {e}", cpuacct.display())))?;
        }
        write(
            &cpu.join("cpu.cfs_period_us"),
            &period.as_micros().to_string(),
        )?;
        let quota_us = quota.map_or("-1".to_string(), |q| q.as_micros().to_string());
        write(&cpu.join("cpu.cfs_quota_us"), &quota_us)?;
        Ok(group)
    }

    /// The CPU the group may use per period (`None`: no limit).
    pub fn quota(&self) -> Option<Duration> {
        self.quota
    }

    /// The enforcement period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The `cgroup.procs` files a process must be written to, opened for writing now (a
    /// process placed in them is in the group).
    fn procs_files(&self) -> io::Result<Vec<File>> {
        let dirs: Vec<&Path> = match &self.kind {
            Kind::V2 { dir } => vec![dir],
            Kind::V1 { cpu, cpuacct } if cpu == cpuacct => vec![cpu],
            Kind::V1 { cpu, cpuacct } => vec![cpu, cpuacct],
        };
        dirs.into_iter()
            .map(|d| OpenOptions::new().write(true).open(d.join("cgroup.procs")))
            .collect()
    }

    /// Arrange for the process `cmd` starts to join this group between `fork` and `exec`,
    /// so that all of its CPU, from its first instruction, is limited and counted.
    ///
    /// # Errors
    ///
    /// When the group's `cgroup.procs` cannot be opened.
    pub fn attach_on_exec(&self, cmd: &mut tokio::process::Command) -> io::Result<()> {
        let files = self.procs_files()?;
        // SAFETY: the closure runs in the forked child before `exec`. It only calls
        // write(2) on descriptors opened above (no allocation, no lock: `write_all` on a
        // `&File` is a loop over write(2), and its error value for an OS error does not
        // allocate). Writing "0" to `cgroup.procs` moves the writing process (v1 and v2).
        unsafe {
            cmd.pre_exec(move || {
                use std::io::Write;
                for mut f in files.iter() {
                    f.write_all(b"0")?;
                }
                Ok(())
            });
        }
        Ok(())
    }

    /// The CPU time (user + system) used so far by every process that was in the group.
    ///
    /// # Errors
    ///
    /// When the accounting file cannot be read or parsed.
    pub fn usage(&self) -> io::Result<Duration> {
        match &self.kind {
            Kind::V2 { dir } => {
                let stat = std::fs::read_to_string(dir.join("cpu.stat"))?;
                stat.lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_micros)
                    .ok_or_else(|| io::Error::other("cpu.stat has no usage_usec"))
            }
            Kind::V1 { cpuacct, .. } => std::fs::read_to_string(cpuacct.join("cpuacct.usage"))?
                .trim()
                .parse()
                .map(Duration::from_nanos)
                .map_err(|_| io::Error::other("cpuacct.usage is not a number")),
        }
    }

    /// How many periods the group was throttled in (it used its quota before the period
    /// ended), from `cpu.stat`'s `nr_throttled`.
    pub fn throttled_periods(&self) -> Option<u64> {
        let dir = match &self.kind {
            Kind::V2 { dir } => dir,
            Kind::V1 { cpu, .. } => cpu,
        };
        std::fs::read_to_string(dir.join("cpu.stat"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // A group can only be removed once empty: the benchmark stops its process first.
        match &self.kind {
            Kind::V2 { dir } => {
                let _ = std::fs::remove_dir(dir);
            }
            Kind::V1 { cpu, cpuacct } => {
                let _ = std::fs::remove_dir(cpu);
                if cpuacct != cpu {
                    let _ = std::fs::remove_dir(cpuacct);
                }
            }
        }
    }
}

/// The CPU time (user + system) of process `pid` and its exited threads so far, from
/// `/proc/<pid>/stat` (clock ticks, so a resolution of 10 ms at the usual 100 Hz): the
/// fallback when no [`CpuGroup`] can be made.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI Lambda runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_shares() {
        assert!((lambda_cpu_share(128) - 0.0724).abs() < 0.0001);
        assert!((lambda_cpu_share(512) - 0.2894).abs() < 0.0001);
        assert_eq!(lambda_cpu_share(1769), 1.0);
        assert_eq!(lambda_cpu_share(10240), 1.0);
    }

    /// `/proc/<pid>/stat` counts this process's CPU time: spinning makes it grow (by CPU,
    /// not wall time: on a busy machine a spin gets only part of a core).
    #[test]
    fn own_cpu_is_counted() {
        let pid = std::process::id();
        let start = process_cpu(pid).expect("/proc/self/stat");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        while process_cpu(pid).unwrap_or_default() < start + Duration::from_millis(30) {
            assert!(
                std::time::Instant::now() < deadline,
                "CPU time never grew past {start:?}"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(x > 0);
    }

    #[test]
    fn absurd_shares_are_refused() {
        assert!(CpuGroup::create(Some(0.0), DEFAULT_PERIOD).is_err());
        assert!(CpuGroup::create(Some(-1.0), DEFAULT_PERIOD).is_err());
    }

    /// Where control groups can be made (root on Linux): a process placed in a group
    /// with a 10% quota is counted there, and spinning for 600 ms of wall time gets it
    /// about 60 ms of CPU, not 600. Skipped (with a note) where they cannot.
    #[tokio::test]
    async fn a_quota_limits_and_counts_a_child() {
        let group = match CpuGroup::create(Some(0.1), DEFAULT_PERIOD) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args([
            "-c",
            "end=$(($(date +%s%N) + 600000000)); while [ $(date +%s%N) -lt $end ]; do :; done",
        ]);
        group.attach_on_exec(&mut cmd).unwrap();
        let status = cmd.status().await.unwrap();
        assert!(status.success());
        let used = group.usage().unwrap();
        assert!(
            used >= Duration::from_millis(1) && used <= Duration::from_millis(150),
            "10% of ~600 ms is ~60 ms of CPU, used {used:?}"
        );
        assert!(group.throttled_periods().unwrap_or(0) >= 1);
    }
}
