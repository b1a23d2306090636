//! A track script that fork-bombs (issue #16). The master runs in a pids
//! cgroup (as a systemd unit's TasksMax puts it), its track script forks
//! until the cgroup is full, every second, and is killed at its timeout.
//! The master must keep sending: its backup never takes the VIP, lvsd
//! neither panics nor loses a thread, and when the script is fixed the
//! cgroup holds lvsd's own tasks again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

/// A pids cgroup (v1 hierarchy) removed with everything in it on drop,
/// even when the test fails.
struct PidsCgroup(PathBuf);

impl PidsCgroup {
    /// Under the v1 pids hierarchy, or else the v2 root with the pids
    /// controller enabled for its children.
    fn new(name: &str, max: u64) -> Option<PidsCgroup> {
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = Path::new("/sys/fs/cgroup");
        let root = if v1.join("cgroup.procs").exists() {
            v1
        } else {
            let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+pids");
            let enabled = std::fs::read_to_string(v2.join("cgroup.subtree_control")).ok()?;
            if !enabled.split_whitespace().any(|c| c == "pids") {
                return None;
            }
            v2
        };
        let dir = root.join(name);
        std::fs::create_dir(&dir).ok()?;
        let g = PidsCgroup(dir);
        std::fs::write(g.0.join("pids.max"), max.to_string()).ok()?;
        Some(g)
    }

    fn add(&self, pid: u32) {
        std::fs::write(self.0.join("cgroup.procs"), pid.to_string()).expect("cgroup.procs");
    }

    fn current(&self) -> u64 {
        std::fs::read_to_string(self.0.join("pids.current"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX)
    }

    fn events_max(&self) -> u64 {
        std::fs::read_to_string(self.0.join("pids.events"))
            .ok()
            .and_then(|s| {
                let mut f = s.split_whitespace();
                // "max N" (v2 adds other lines, and v1 has only this one)
                while let Some(k) = f.next() {
                    if k == "max" {
                        return f.next()?.parse().ok();
                    }
                }
                None
            })
            .unwrap_or(0)
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        for _ in 0..50 {
            let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            if procs.trim().is_empty() {
                break;
            }
            for pid in procs
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn tasks_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

#[test]
fn a_fork_bombing_track_script_does_not_stop_the_masters_adverts() {
    let topo = Topo::new("fbm");
    let dir = tempfile::tempdir().expect("tmp");
    let bomb = dir.path().join("bomb.sh");
    let write_script = |body: &str| {
        use std::os::unix::fs::PermissionsExt;
        let tmp = dir.path().join("bomb.tmp");
        std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).expect("script");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&tmp, &bomb).expect("rename");
    };
    write_script("exit 0");
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  track_script {\n    bomb\n  }\n".into();
    let script = format!(
        "vrrp_script bomb {{\n  script \"{}\"\n  interval 1\n  timeout 2\n  weight 10\n}}\n",
        bomb.display()
    );
    let mut da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[a], &script));
    let mut db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[Inst::new(100)], ""));
    topo.wait_sole_holder(
        "A is master",
        0,
        &["10.0.0.100"],
        Duration::from_secs(20),
        &[&da, &db],
    );
    let threads = tasks_of(da.pid());
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", da.pid())).unwrap_or_default();
    assert_eq!(comm.trim(), "lvsd", "the cgroup gets lvsd itself");
    // And the helper it starts scripts from, as systemd's TasksMax covers
    // the whole service.
    let helper = spawn_helper_of(da.pid()).expect("lvsd's spawn helper");
    let baseline = threads + tasks_of(helper);
    let Some(cgroup) = PidsCgroup::new(
        &format!("lvsd-fork-bomb-{}", std::process::id()),
        baseline as u64 + 40,
    ) else {
        panic!("no writable pids cgroup (v1 /sys/fs/cgroup/pids or v2 /sys/fs/cgroup with +pids)");
    };
    cgroup.add(da.pid());
    cgroup.add(helper);
    let sampler = VipSampler::start(topo.director_names(), "10.0.0.100");
    // Forks until the cgroup is full, each child too; killed at the timeout.
    write_script("b() { b | b & }\nb\nsleep 5");
    std::thread::sleep(Duration::from_secs(12));
    let hit_the_limit = cgroup.events_max();
    write_script("exit 0");
    let drained = time_until(Duration::from_secs(15), || {
        cgroup.current() as usize <= baseline
    });
    std::thread::sleep(Duration::from_secs(1));
    let backup_took_over = sampler.ever_on(1);
    let threads_after = tasks_of(da.pid());
    let log = da.log();
    let stopped = da.stop();
    assert!(db.stop(), "{}", db.log());
    drop(cgroup);
    eprintln!("fork bomb: {hit_the_limit} forks refused by the cgroup; lvsd threads {threads} -> {threads_after}");
    assert!(hit_the_limit > 0, "the script never filled the cgroup");
    assert!(
        !backup_took_over,
        "the backup took the VIP: the master's adverts stopped\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_eq!(
        threads_after, threads,
        "lvsd lost or gained a thread\n{log}"
    );
    assert!(drained.is_some(), "the script's processes outlived it");
    assert!(stopped, "lvsd did not stop cleanly\n{log}");
}
