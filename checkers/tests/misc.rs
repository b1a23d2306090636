//! MISC_CHECK with real scripts: exit codes, misc_dynamic weights, timeouts that kill the
//! whole process group (forks in flight included), output discarded, `user`, and
//! enable_script_security refusals.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use checkers::misc::MiscChecker;
use checkers::{CheckResult, MiscCheck};

/// A private directory for scripts (0755, root-owned parents: /tmp would do too, but its
/// sticky bit is a special case of its own, tested separately).
fn script_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("misc-{}-", std::process::id()))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn misc(line: String) -> MiscCheck {
    MiscCheck {
        misc_path: line,
        misc_timeout: Some(Duration::from_secs(10)),
        misc_dynamic: false,
        user: None,
        script_security: true,
    }
}

async fn run(check: MiscCheck) -> CheckResult {
    MiscChecker::new(check)
        .expect("checker")
        .check(Duration::from_secs(10))
        .await
}

#[tokio::test]
async fn exit_status_decides() {
    let dir = script_dir();
    let s = script(dir.path(), "exit.sh", "exit \"$1\"", 0o755);
    let ok = run(misc(format!("{} 0", s.display()))).await;
    assert_eq!(
        ok,
        CheckResult::Success {
            weight_code: None,
            detail: format!("MISC_CHECK {} 0: exit status 0", s.display())
        }
    );
    let bad = run(misc(format!("{} 1", s.display()))).await;
    assert_eq!(
        bad,
        CheckResult::Failure {
            reason: format!("MISC_CHECK {} 1: exit status 1", s.display())
        }
    );
    // Without misc_dynamic any non-zero status is a failure.
    assert!(matches!(
        run(misc(format!("{} 12", s.display()))).await,
        CheckResult::Failure { .. }
    ));
}

#[tokio::test]
async fn quoted_arguments_reach_the_script() {
    let dir = script_dir();
    let s = script(
        dir.path(),
        "args.sh",
        "[ \"$1\" = 'two words' ] && [ \"$2\" = x ]",
        0o755,
    );
    let result = run(misc(format!("{} 'two words' x", s.display()))).await;
    assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
}

#[tokio::test]
async fn dynamic_weights() {
    let dir = script_dir();
    let s = script(dir.path(), "w.sh", "exit \"$1\"", 0o755);
    for (code, expected) in [
        (0u8, Some(Some(0u8))),
        (1, None),
        (2, Some(Some(2))),
        (12, Some(Some(12))),
        (255, Some(Some(255))),
    ] {
        let mut check = misc(format!("{} {code}", s.display()));
        check.misc_dynamic = true;
        let got = match run(check).await {
            CheckResult::Success { weight_code, .. } => Some(weight_code),
            CheckResult::Failure { .. } => None,
            other => panic!("exit {code}: {other:?}"),
        };
        assert_eq!(got, expected, "exit {code}");
    }
}

/// Processes (not zombies) whose process group is `pgid`, from /proc.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name: state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            pids.push(pid);
        }
    }
    pids
}

/// Waits until no process of group `pgid` is left; fails after 10 s.
async fn group_ends_within_10s(pgid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_members(pgid).is_empty() {
        let left = live_members(pgid);
        assert!(
            Instant::now() < deadline,
            "{} still alive in group {pgid}: {left:?}",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = script_dir();
    let pidfile = dir.path().join("pgid");
    // Children and a grandchild that ignores SIGTERM: only SIGKILL of the group gets it.
    let body = format!(
        "echo $$ > {}\nsleep 300 &\nsh -c 'trap \"\" TERM; sleep 301 & wait' &\nsleep 302\n",
        pidfile.display()
    );
    let s = script(dir.path(), "hang.sh", &body, 0o755);
    let mut check = misc(s.display().to_string());
    check.misc_timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    let result = run(check).await;
    assert_eq!(
        result,
        CheckResult::Failure {
            reason: format!(
                "MISC_CHECK {}: timed out after 1s, process group killed",
                s.display()
            )
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let pgid: i32 = fs::read_to_string(&pidfile)
        .expect("pgid")
        .trim()
        .parse()
        .expect("number");
    group_ends_within_10s(pgid).await;
}

/// Fault injection (issue #16): a script that forks hundreds of children
/// and keeps forking until it is stopped. At the timeout the whole group
/// goes, forks still in flight included, and the next check runs normally.
#[tokio::test]
async fn a_script_forking_hundreds_of_children_is_ended_with_all_of_them() {
    let dir = script_dir();
    let pidfile = dir.path().join("pgid");
    let body = format!(
        "echo $$ > {}\ni=0\nwhile [ $i -lt 300 ]; do sleep 300 & i=$((i+1)); done\nwhile :; do sleep 301 & sleep 0.01; done\n",
        pidfile.display()
    );
    let s = script(dir.path(), "forks.sh", &body, 0o755);
    let mut check = misc(s.display().to_string());
    check.misc_timeout = Some(Duration::from_secs(1));
    let result = run(check).await;
    assert!(
        matches!(&result, CheckResult::Failure { reason } if reason.ends_with("timed out after 1s, process group killed")),
        "{result:?}"
    );
    let pgid: i32 = fs::read_to_string(&pidfile)
        .expect("pgid")
        .trim()
        .parse()
        .expect("number");
    group_ends_within_10s(pgid).await;
    let ok = script(dir.path(), "ok.sh", "exit 0", 0o755);
    assert!(matches!(
        run(misc(ok.display().to_string())).await,
        CheckResult::Success { .. }
    ));
}

/// Resident memory of this process in kB (VmRSS).
fn rss_kb() -> u64 {
    fs::read_to_string("/proc/self/status")
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// Fault injection (issue #16): a script printing 64 MB on stdout and on
/// stderr. Its output goes to /dev/null, as keepalived's does: the exit
/// status decides, and nothing of it is read into memory.
#[tokio::test]
async fn megabytes_of_script_output_are_discarded_not_kept() {
    let dir = script_dir();
    let s = script(
        dir.path(),
        "loud.sh",
        "head -c 67108864 /dev/zero\nhead -c 67108864 /dev/zero >&2\nexit 0",
        0o755,
    );
    let before = rss_kb();
    let result = run(misc(s.display().to_string())).await;
    assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
    let grown = rss_kb().saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "RSS grew {grown} kB for 128 MB of output"
    );
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    let dir = script_dir();
    let s = script(dir.path(), "who.sh", "[ \"$(id -u)\" = 65534 ]", 0o755);
    let mut check = misc(s.display().to_string());
    check.user = Some(("nobody".into(), None));
    let result = run(check).await;
    assert!(matches!(result, CheckResult::Success { .. }), "{result:?}");
    let mut check = misc(s.display().to_string());
    check.user = Some(("no-such-user-lvsd".into(), None));
    assert!(MiscChecker::new(check).is_err());
}

#[tokio::test]
async fn insecure_scripts_are_refused() {
    let dir = script_dir();
    let writable = script(dir.path(), "ww.sh", "exit 0", 0o757);
    let result = run(misc(writable.display().to_string())).await;
    assert_eq!(
        result,
        CheckResult::Failure {
            reason: format!(
                "MISC_CHECK {0}: refused: script {0}: writable by everyone (enable_script_security)",
                writable.display()
            )
        }
    );
    // A world-writable (non-sticky) directory above the script.
    let open_dir = dir.path().join("open");
    fs::create_dir(&open_dir).expect("mkdir");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    let inside = script(&open_dir, "ok.sh", "exit 0", 0o755);
    let result = run(misc(inside.display().to_string())).await;
    assert_eq!(
        result,
        CheckResult::Failure {
            reason: format!(
                "MISC_CHECK {}: refused: script {}: writable by everyone (enable_script_security)",
                inside.display(),
                open_dir.display()
            )
        }
    );
    // A script owned by a non-root user.
    let owned = script(dir.path(), "owned.sh", "exit 0", 0o755);
    nix::unistd::chown(&owned, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    let result = run(misc(owned.display().to_string())).await;
    assert!(
        matches!(&result, CheckResult::Failure { reason } if reason.contains("owned by uid 65534")),
        "{result:?}"
    );
    // Without enable_script_security the same script runs.
    let mut lax = misc(writable.display().to_string());
    lax.script_security = false;
    assert!(matches!(run(lax).await, CheckResult::Success { .. }));
    // A root-owned script in sticky /tmp is fine.
    let tmp = tempfile::Builder::new()
        .prefix("lvsd-misc-")
        .tempdir()
        .expect("tmp");
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let in_tmp = script(tmp.path(), "t.sh", "exit 0", 0o755);
    assert!(matches!(
        run(misc(in_tmp.display().to_string())).await,
        CheckResult::Success { .. }
    ));
}
