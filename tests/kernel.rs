//! The test bed itself, against real parts: IPVS in a UML kernel driven by
//! the real ipvsadm, and network namespaces on the host and in the guest.

use std::panic;
use std::process::{Command, Stdio};
use std::time::Duration;

use testbed::guest;
use testbed::netns::{self, Lan};
use testbed::uml::{self, Uml, UmlError};
use testbed::wait_until;

/// Generous: ping in a fresh namespace on a loaded 2-core machine.
const NET_TIMEOUT: Duration = Duration::from_secs(20);

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Both hosts reach each other over IPv4 and IPv6 through the bridge.
fn assert_lan_pings(lan: &Lan) {
    for (from, to) in [(0, 1), (1, 0)] {
        for addr in [lan.ipv4(to).to_string(), lan.ipv6(to).to_string()] {
            let host = lan.host(from);
            wait_until(
                &format!("{} to ping {addr}", host.name()),
                NET_TIMEOUT,
                || {
                    host.exec(&["ping", "-c", "1", "-W", "1", &addr])
                        .is_ok_and(|o| o.status.success())
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

testbed::uml_test! {
    /// ip_vs in the guest kernel: a service and a real server added with
    /// ipvsadm read back exactly.
    fn ipvs_service_and_real_server_read_back() {
        run("ipvsadm", &["-C"]);
        run("ipvsadm", &["-A", "-t", "10.1.2.3:80", "-s", "wrr"]);
        run("ipvsadm", &["-a", "-t", "10.1.2.3:80", "-r", "10.1.2.4:8080", "-m", "-w", "3"]);
        run("ipvsadm", &["-A", "-u", "[fd00::1]:53", "-s", "sh"]);
        let listing = run("ipvsadm", &["-Ln"]);
        let lines: Vec<&str> = listing.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            [
                "IP Virtual Server version 1.2.1 (size=4096)",
                "Prot LocalAddress:Port Scheduler Flags",
                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
                "TCP  10.1.2.3:80 wrr",
                "  -> 10.1.2.4:8080                Masq    3      0          0",
                "UDP  [fd00::1]:53 sh",
            ],
            "ipvsadm -Ln printed:\n{listing}"
        );
        run("ipvsadm", &["-C"]);
        assert_eq!(run("ipvsadm", &["-Ln"]).lines().count(), 3);
    }

    /// Guest helpers: a dummy link holding a VIP, and the IPVS table read
    /// back through `ipvs_rules` with the persistence flag.
    fn dummy_link_and_ipvs_rules_helpers() {
        guest::ipvs_clear();
        let vip = guest::DummyLink::new(&["192.0.2.10/32", "2001:db8::10/128"]);
        let addrs = guest::ip(&["-o", "addr", "show", "dev", vip.name()]);
        assert!(addrs.contains("inet 192.0.2.10/32"), "{addrs}");
        assert!(addrs.contains("inet6 2001:db8::10/128"), "{addrs}");
        guest::ipvsadm(&["-A", "-t", "192.0.2.10:443", "-s", "rr", "-p", "300"]);
        guest::ipvsadm(&["-a", "-t", "192.0.2.10:443", "-r", "192.0.2.20", "-g"]);
        guest::assert_ipvs_rules(
            &[],
            &[
                "TCP  192.0.2.10:443 rr persistent 300",
                "  -> 192.0.2.20:443               Route   1      0          0",
            ],
        );
        guest::ipvs_clear();
        let name = vip.name().to_owned();
        drop(vip);
        assert!(guest::try_run("ip", &["link", "show", &name]).is_err());
    }

    /// Namespaces, veth and bridges work inside the guest as on the host.
    fn lan_pings_inside_the_guest() {
        let lan = Lan::new("guestlan", 2).expect("LAN in the guest");
        assert_lan_pings(&lan);
        let names = lan.namespace_names();
        drop(lan);
        for name in names {
            assert!(!netns::exists(&name), "{name} survived drop");
        }
    }
}

#[test]
fn guest_passes_back_stdout_stderr_and_status() {
    let out = Uml::new()
        .modules(["ip_vs"])
        .env("GREETING", "it's here")
        .run_script("echo \"$GREETING\"; echo in-guest=$LVSD_TESTBED_GUEST; echo oops >&2; grep -c '^ip_vs ' /proc/modules; exit 3")
        .expect("guest ran");
    assert_eq!(out.status, 3, "{}", out.report());
    assert_eq!(out.stdout, "it's here\nin-guest=1\n1\n");
    assert_eq!(out.stderr, "oops\n");
    assert!(out.console.contains("Linux version"), "{}", out.report());
}

#[test]
fn guest_that_hangs_is_killed_at_the_deadline() {
    let err = Uml::new()
        .modules(Vec::<String>::new())
        .timeout(Duration::from_secs(15))
        .run("sleep", &["600"])
        .expect_err("sleep outlives the deadline");
    assert!(matches!(err, UmlError::Timeout { .. }), "{err}");
}

#[test]
fn whole_test_binary_runs_in_one_boot() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Uml::new()
        .run_test_binary(
            &exe,
            &[
                "ipvs_service_and_real_server_read_back",
                "dummy_link_and_ipvs_rules_helpers",
                "lan_pings_inside_the_guest",
            ],
        )
        .expect("guest ran");
    out.assert_success();
    assert!(
        out.stdout.contains("test result: ok. 3 passed"),
        "{}",
        out.report()
    );
}

#[test]
fn lan_pings_on_the_host_and_is_gone_after_drop() {
    let lan = Lan::new("hostlan", 2).expect("LAN on the host");
    let names = lan.namespace_names();
    for name in &names {
        assert!(netns::exists(name), "{name} missing");
    }
    assert_lan_pings(&lan);
    drop(lan);
    for name in &names {
        assert!(!netns::exists(name), "{name} survived drop");
    }
}

#[test]
fn namespaces_and_their_processes_are_gone_after_a_panicking_test() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = panic::catch_unwind(|| {
        let lan = Lan::new("panics", 2).expect("LAN on the host");
        let sleeper = lan
            .host(0)
            .spawn(&["sleep", "600"], Stdio::null(), Stdio::null())
            .expect("sleep in the namespace");
        // Leak the guard so only the namespace's Drop can kill it.
        let pid = sleeper.pid();
        std::mem::forget(sleeper);
        tx.send((lan.namespace_names(), pid)).expect("channel open");
        panic!("test body fails");
    });
    assert!(result.is_err());
    let (names, pid) = rx.recv().expect("names sent before the panic");
    for name in &names {
        assert!(!netns::exists(name), "{name} survived the panic");
    }
    // The leaked sleep was killed by the namespace's drop; reap the zombie.
    let reaped = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits")),
        None,
    )
    .expect("sleep was our child");
    assert!(
        matches!(
            reaped,
            nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)
        ),
        "{reaped:?}"
    );
}

#[test]
fn rerun_of_an_unknown_test_is_an_error_not_a_pass() {
    let err = uml::rerun_in_guest_with(
        Uml::new().modules(["ip_vs"]),
        module_path!(),
        "no_such_test",
    )
    .expect_err("nothing ran");
    assert!(matches!(err, UmlError::TestNotRun { .. }), "{err}");
}

/// The lab (deploy/lab/guest.sh) in a guest: real keepalived on two
/// directors programs IPVS and moves the VIP, real nginx serves, curl sees
/// round robin before and after failover.
#[test]
fn lab_demo_with_keepalived_in_the_guest() {
    let guest_sh = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/lab/guest.sh");
    let out = Uml::new()
        .env("LAB_SUBJECT", "keepalived -n -l -D -G")
        .run(guest_sh, &["demo"])
        .expect("guest ran");
    out.assert_success();
    let answers: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("lab: answers:"))
        .collect();
    assert_eq!(answers.len(), 2, "{}", out.report());
    for line in answers {
        assert!(line.contains("rs1") && line.contains("rs2"), "{line}");
    }
    assert!(out.stdout.contains("lab: demo passed"), "{}", out.report());
}
