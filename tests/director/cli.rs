//! `lvsd run` command-line behaviour that needs no kernel.

use std::process::Command;

fn lvsd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("lvsd: {e}"))
}

/// `-t` checks the configuration like `check-config` and exits: 0 for a
/// good file, non-zero with the file and line for a broken one; the
/// auth_pass never appears.
#[test]
fn config_test_flag_checks_and_exits() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = dir.path().join("good.conf");
    std::fs::write(
        &good,
        super::site::dr_config("MASTER", 150, &["10.0.0.4", "10.0.0.5"]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = lvsd(&["run", "-t", "-f", &good.display().to_string()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Zs3cr3t"), "{text}");

    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "virtual_server 10.0.0.100 80 {\n  protocol TCP\n  lb_algo nosuch\n  real_server 10.0.0.4 80 {\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // keepalived runs it (wlc, the block closed at the end): so does lvsd, with warnings;
    // --strict makes them errors.
    let out = lvsd(&["run", "-t", "-f", &bad.display().to_string()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("bad.conf:3:11: warning:"), "{text}");
    let out = lvsd(&["run", "-t", "--strict", "-f", &bad.display().to_string()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("bad.conf:3:11: error:"), "{text}");

    let worse = dir.path().join("worse.conf");
    std::fs::write(
        &worse,
        "vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 300\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = lvsd(&["run", "-t", "-f", &worse.display().to_string()]);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("worse.conf:3:21: error:"), "{text}");
}

/// `lvsd status` without a daemon says so and fails.
#[test]
fn status_without_a_daemon_fails_clearly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sock = dir.path().join("none.sock");
    let out = lvsd(&["status", "-s", &sock.display().to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none.sock") && err.contains("is lvsd running"),
        "{err}"
    );
}

/// `lvsd metrics` without a daemon says so and fails.
#[test]
fn metrics_without_a_daemon_fails_clearly() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sock = dir.path().join("none.sock");
    let out = lvsd(&["metrics", "-s", &sock.display().to_string()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none.sock") && err.contains("is lvsd running"),
        "{err}"
    );
}
