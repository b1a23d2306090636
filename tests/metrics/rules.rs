//! The shipped alert rules: `promtool check rules` and `promtool test rules`
//! with the test file beside them (promtool comes with Debian's prometheus,
//! which tests/run.sh installs: a missing promtool fails here, loudly).

use std::path::PathBuf;
use std::process::Command;

fn promtool(args: &[&str]) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let out = Command::new("promtool")
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("promtool (Debian package prometheus; tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alert_rules_are_valid() {
    promtool(&["check", "rules", "lvsd.rules.yml"]);
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    promtool(&["test", "rules", "lvsd.rules.test.yml"]);
}
