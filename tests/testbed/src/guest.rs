//! Helpers for test bodies that run inside a UML guest (see
//! [`crate::uml_test!`]): run `ip`/`ipvsadm` and assert, read the IPVS table
//! as ipvsadm prints it, and dummy links holding addresses (e.g. VIPs).
//!
//! They change kernel state, so each first checks that it runs in a guest
//! and panics otherwise: the host's network is never touched. Failures
//! panic with the command and its stderr, as test helpers should.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::process::{run_checked, CommandError};
use crate::uml::in_guest;

/// Lines `ipvsadm -Ln` prints before the first service.
pub const IPVSADM_HEADER_LINES: usize = 3;

/// Panics unless running in a UML guest.
#[track_caller]
pub fn require_guest() {
    assert!(
        in_guest(),
        "this helper changes kernel state and only runs inside a UML guest (testbed::uml_test!)"
    );
}

/// Runs `program args..`; stdout, or panics naming the command and stderr.
#[track_caller]
pub fn run(program: &str, args: &[&str]) -> String {
    require_guest();
    try_run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `program args..`; stdout or the error.
pub fn try_run(program: &str, args: &[&str]) -> Result<String, CommandError> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    run_checked(cmd)
}

/// `ip args..`, checked.
#[track_caller]
pub fn ip(args: &[&str]) -> String {
    run("ip", args)
}

/// `ipvsadm args..`, checked.
#[track_caller]
pub fn ipvsadm(args: &[&str]) -> String {
    run("ipvsadm", args)
}

/// Empties the IPVS table (`ipvsadm -C`): call first in a guest test, since
/// a one-boot run shares the kernel between tests.
#[track_caller]
pub fn ipvs_clear() {
    ipvsadm(&["-C"]);
}

/// The services and real servers of `ipvsadm -Ln <extra>`: the header lines
/// dropped, trailing blanks trimmed.
#[track_caller]
pub fn ipvs_rules(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["-Ln"];
    args.extend_from_slice(extra);
    ipvsadm(&args)
        .lines()
        .skip(IPVSADM_HEADER_LINES)
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Asserts `ipvsadm -Ln <extra>` shows exactly `expected` (header dropped,
/// trailing blanks trimmed).
#[track_caller]
pub fn assert_ipvs_rules(extra: &[&str], expected: &[&str]) {
    let rules = ipvs_rules(extra);
    assert_eq!(
        rules,
        expected,
        "ipvsadm -Ln {extra:?} shows:\n{}",
        rules.join("\n")
    );
}

/// A dummy link with addresses in the guest's current namespace; deleted
/// on drop. Named `tbd<pid>x<n>` (≤ 15 characters).
#[derive(Debug)]
pub struct DummyLink {
    name: String,
}

impl DummyLink {
    /// Creates the link, sets it up and adds `addrs` (`"10.0.0.1/32"`,
    /// `"fd00::1/128"`; IPv6 without DAD).
    #[track_caller]
    pub fn new(addrs: &[&str]) -> DummyLink {
        require_guest();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("tbd{}x{n}", std::process::id() % 100_000);
        ip(&["link", "add", &name, "type", "dummy"]);
        let link = DummyLink { name };
        ip(&["link", "set", &link.name, "up"]);
        for addr in addrs {
            if addr.contains(':') {
                ip(&["-6", "addr", "add", addr, "dev", &link.name, "nodad"]);
            } else {
                ip(&["addr", "add", addr, "dev", &link.name]);
            }
        }
        link
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for DummyLink {
    fn drop(&mut self) {
        let _ = try_run("ip", &["link", "del", &self.name]);
    }
}
