//! route_announce (issue #17) without a kernel: the block and the
//! `announce` keyword as lvsd reads them (and as keepalived 2.2.7 skips
//! them), the check-config warnings for combinations that break flows, the
//! pure health plan, and the reference BIRD configurations under `bird -p`.
//! The kernel table and BIRD end to end: tests/director/uml.rs
//! (`route_announce_through_bird`).

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvsd::announce::plan::{self, Health, Held};
use lvsd::announce::{translate, AnnounceConfig, AnnouncePolicy};
use lvsd::config::{self, ConfigOptions};

fn load(text: &str) -> (config::model::Config, Vec<String>) {
    let opts = ConfigOptions {
        check_interfaces: false,
        ..ConfigOptions::default()
    };
    match config::load_str(Path::new("announce-test.conf"), text, &opts) {
        Ok(l) => (l.config, l.warnings.iter().map(|w| w.message()).collect()),
        Err(d) => panic!(
            "refused: {:?}",
            d.items.iter().map(|w| w.message()).collect::<Vec<_>>()
        ),
    }
}

fn vs(addr: &str, sched: &str, extra: &str, inhibit: bool) -> String {
    let inhibit = if inhibit {
        "        inhibit_on_failure\n"
    } else {
        ""
    };
    format!(
        "virtual_server {addr} 80 {{\n    delay_loop 3\n    lb_algo {sched}\n    lb_kind DR\n    protocol TCP\n{extra}\
         \x20   real_server 192.168.100.11 80 {{\n{inhibit}        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n}}\n"
    )
}

const BLOCK: &str = "route_announce {\n    table 210\n    protocol 99\n    policy any\n    startup_delay 4\n    drain_delay 0.5\n    withdraw_on_exit no\n    sloppy_tcp yes\n}\n";

#[test]
fn the_block_and_its_defaults_are_read() {
    let (c, _) = load(&format!("{BLOCK}{}", vs("203.0.113.10", "mh", "", true)));
    let r = c.route_announce.expect("route_announce");
    assert_eq!((r.table, r.protocol), (210, 99));
    assert_eq!(r.policy, AnnouncePolicy::Any);
    assert_eq!(r.startup_delay, Some(Duration::from_secs(4)));
    assert_eq!(r.drain_delay, Duration::from_millis(500));
    assert!(!r.withdraw_on_exit && r.sloppy_tcp);
    let (c, _) = load(&format!(
        "route_announce {{\n}}\n{}",
        vs("203.0.113.10", "mh", "", true)
    ));
    let a = translate(&c).expect("announce config");
    assert_eq!(
        (a.table, a.protocol, a.policy),
        (201, 201, AnnouncePolicy::All)
    );
    // No startup_delay: the longest delay_loop of the gating virtual servers.
    assert_eq!(a.startup_delay, Duration::from_secs(3));
    assert_eq!(a.drain_delay, Duration::from_secs(2));
    assert!(a.withdraw_on_exit && !a.sloppy_tcp);
    // Without the block: nothing.
    let (c, _) = load(&vs("203.0.113.10", "mh", "", true));
    assert!(translate(&c).is_none());
}

#[test]
fn bad_values_are_reported_with_their_place() {
    let opts = ConfigOptions {
        check_interfaces: false,
        ..ConfigOptions::default()
    };
    let text = "route_announce {\n    table 254\n    policy some\n    colour blue\n}\n";
    let messages: Vec<String> = match config::load_str(Path::new("bad.conf"), text, &opts) {
        Ok(l) => l.warnings.iter().map(|w| w.message()).collect(),
        Err(d) => d.items.iter().map(|w| w.message()).collect(),
    };
    let all = messages.join("\n");
    assert!(all.contains("254"), "{all}");
    assert!(all.contains("some"), "{all}");
    assert!(all.contains("colour"), "{all}");
}

#[test]
fn announce_chooses_the_gating_virtual_servers() {
    let text = format!(
        "route_announce {{\n}}\n{}{}{}",
        vs("203.0.113.10", "mh", "    announce\n", true),
        vs("203.0.113.11", "mh", "", true),
        "virtual_server fwmark 7 {\n    lb_algo mh\n    lb_kind DR\n    announce\n    real_server 192.168.100.11 80 {\n        inhibit_on_failure\n    }\n}\n",
    );
    let (c, warnings) = load(&text);
    let a = translate(&c).expect("announce");
    let vips: Vec<IpAddr> = a.gates.keys().copied().collect();
    assert_eq!(vips, vec!["203.0.113.10".parse::<IpAddr>().expect("ip")]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("fwmark or group virtual server has no single address")),
        "{warnings:#?}"
    );
    // Without any `announce`: every virtual server with an address gates its VIP.
    let text = format!(
        "route_announce {{\n}}\n{}{}",
        vs("203.0.113.10", "mh", "", true),
        vs("203.0.113.11", "mh", "", true)
    );
    let (c, _) = load(&text);
    assert_eq!(translate(&c).expect("announce").gates.len(), 2);
}

#[test]
fn combinations_that_break_flows_are_warned() {
    let cases = [
        (
            vs("203.0.113.10", "mh", "", true),
            Some("neither sloppy_tcp (route_announce) nor lvs_sync_daemon"),
        ),
        (
            vs("203.0.113.10", "rr", "", true),
            Some("scheduler rr and no lvs_sync_daemon"),
        ),
        (
            vs("203.0.113.10", "mh", "", false),
            Some("without inhibit_on_failure"),
        ),
        (
            format!(
                "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    virtual_ipaddress {{\n        203.0.113.10\n    }}\n}}\n{}",
                vs("203.0.113.10", "mh", "", true)
            ),
            Some("also a VRRP address"),
        ),
    ];
    for (body, want) in cases {
        let (_, warnings) = load(&format!("route_announce {{\n}}\n{body}"));
        if let Some(w) = want {
            assert!(warnings.iter().any(|m| m.contains(w)), "{w}: {warnings:#?}");
        }
    }
    // mh, sloppy_tcp and inhibit_on_failure: nothing to say.
    let (_, warnings) = load(&format!(
        "route_announce {{\n    sloppy_tcp yes\n}}\n{}",
        vs("203.0.113.10", "mh", "", true)
    ));
    assert!(
        !warnings.iter().any(|m| m.contains("announce")),
        "{warnings:#?}"
    );
}

/// keepalived 2.2.7 skips the block and the keyword (a warning per line)
/// and nothing else: the same file still runs under keepalived.
#[test]
fn keepalived_skips_the_block_and_the_keyword() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("k.conf");
    let text = format!(
        "{BLOCK}{}",
        vs("203.0.113.10", "mh", "    announce\n", true)
    );
    std::fs::write(&path, &text).expect("conf");
    let out = Command::new("keepalived")
        .args(["-t", "-l", "-D", "-f"])
        .arg(&path)
        .output()
        .expect("keepalived (Debian package keepalived)");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "keepalived said nothing");
    for l in &lines {
        assert!(
            l.contains("Unknown keyword") || l.contains("Unexpected '{'"),
            "keepalived says more than unknown keywords: {l}\n{said}"
        );
    }
    for kw in ["route_announce", "table", "protocol", "policy", "announce"] {
        assert!(
            said.contains(&format!("Unknown keyword '{kw}'")),
            "{kw}:\n{said}"
        );
    }
}

fn config(policy: AnnouncePolicy) -> AnnounceConfig {
    let vip: IpAddr = "203.0.113.10".parse().expect("ip");
    AnnounceConfig {
        table: 201,
        protocol: 201,
        policy,
        startup_delay: Duration::from_secs(2),
        drain_delay: Duration::from_secs(2),
        withdraw_on_exit: true,
        sloppy_tcp: true,
        gates: [(vip, vec![Arc::from("a"), Arc::from("b")])].into(),
    }
}

#[test]
fn a_vip_is_announced_only_when_running_settled_and_with_quorum() {
    let vip: IpAddr = "203.0.113.10".parse().expect("ip");
    let t0 = Instant::now();
    let cfg = config(AnnouncePolicy::All);
    let mut h = Health::default();
    assert_eq!(plan::verdicts(&cfg, &h, t0)[&vip], Err(Held::NotRunning));
    h.running_since = Some(t0);
    assert_eq!(plan::verdicts(&cfg, &h, t0)[&vip], Err(Held::StartingUp));
    assert_eq!(
        plan::startup_ends(&cfg, &h, t0),
        Some(t0 + Duration::from_secs(2))
    );
    let later = t0 + Duration::from_secs(2);
    assert_eq!(plan::startup_ends(&cfg, &h, later), None);
    // Never reported: up (a virtual server starts with its quorum).
    assert_eq!(plan::desired(&cfg, &h, later), [vip].into());
    h.quorum.insert(Arc::from("b"), false);
    assert_eq!(
        plan::verdicts(&cfg, &h, later)[&vip],
        Err(Held::QuorumDown(vec![Arc::from("b")]))
    );
    // policy any: one gate with quorum is enough.
    let any = config(AnnouncePolicy::Any);
    assert!(plan::verdicts(&any, &h, later)[&vip].is_ok());
    h.quorum.insert(Arc::from("a"), false);
    assert!(plan::verdicts(&any, &h, later)[&vip].is_err());
    h.quorum.clear();
    h.draining = true;
    assert_eq!(plan::verdicts(&cfg, &h, later)[&vip], Err(Held::Draining));
    assert!(plan::desired(&cfg, &h, later).is_empty());
}

#[test]
fn the_table_moves_by_the_difference() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let present = [ip("203.0.113.10"), ip("203.0.113.99")].into();
    let wanted = [ip("203.0.113.10"), ip("2001:db8::10")].into();
    let (add, del) = plan::diff(&present, &wanted);
    assert_eq!(add, vec![ip("2001:db8::10")]);
    assert_eq!(del, vec![ip("203.0.113.99")]);
}

/// The reference FRR configuration for a director is valid (`vtysh -C`:
/// FRR's own check, exit 2 on a line no daemon takes; the daemons' `-C`
/// exits 0 even then).
#[test]
fn reference_frr_configuration_is_valid() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/bgp/frr-director.conf");
    assert_checker_accepts("vtysh", &["-C", "-f"], &conf, "frr");
}

/// Runs `program args... conf` (a daemon's own configuration check) and
/// fails with its output unless it exits 0.
fn assert_checker_accepts(program: &str, args: &[&str], conf: &Path, package: &str) {
    let out = Command::new(program)
        .args(args)
        .arg(conf)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} (Debian package {package}; tests/run.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{}: {}{}",
        conf.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The reference BIRD 2 configurations parse (`bird -p`).
#[test]
fn reference_bird_configurations_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["director", "router"] {
        let conf = root.join(format!("deploy/bgp/{name}.conf"));
        assert_checker_accepts("bird", &["-p", "-c"], &conf, "bird2");
    }
}
