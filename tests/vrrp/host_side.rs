//! The host-side keywords side by side with keepalived 2.2.7: `virtual_rules` (while
//! MASTER), `static_rules`, `static_routes` and `static_ipaddress` (from start to
//! stop). The same configuration runs under each daemon, each a lone MASTER in its
//! own namespace LAN; `ip rule`, `ip -6 rule`, `ip route` and `ip addr` must read the
//! same while it runs, and nothing of it may be left after a graceful stop.

use std::time::Duration;

use crate::harness::*;

const HOST_SIDE: &str = "static_ipaddress {
  10.0.1.5/24 dev eth0
}
static_routes {
  10.7.0.0/16 via 10.0.0.254 dev eth0
  blackhole 10.8.0.0/16
}
static_rules {
  from 10.0.0.0/24 table 100 preference 100
  to 192.0.2.0/24 fwmark 7/0xff lookup 101 priority 101
  from fd00::/64 table 100 preference 102
}
";

const VIRTUAL_RULES: &str = "  virtual_rules {
    from 10.0.0.100 table 200 preference 200
    iif eth0 tos 0x10 table 201 preference 201
    not from 10.9.0.0/16 goto 300 preference 202
    to 198.51.100.0/24 blackhole preference 203
    dport 80-90 ipproto tcp table 202 preference 204
    uidrange 1000-2000 prohibit preference 205
    from 10.0.0.0/8 table 203 suppress_prefixlength 0 preference 206
    fwmark 0x10 nop preference 207
    from fd00::100 table 200 preference 208
    oif eth0 type unreachable order 209
    sport 1000-2000 ipproto udp table 204 no_track preference 210
    to 203.0.113.0/24 table 205
  }
";

/// What the host shows of rules, routes and addresses, less what every namespace has.
fn host_view(topo: &Topo) -> String {
    let ns = topo.director(0);
    let mut out = String::new();
    for args in [
        &["rule", "show"][..],
        &["-6", "rule", "show"],
        &["route", "show", "table", "all"],
        &["-o", "addr", "show", "dev", "eth0"],
    ] {
        let text = ns.ip(args).unwrap_or_default();
        for line in text.lines() {
            // `ip -o addr`: the lifetimes follow a backslash.
            let line = line.split('\\').next().unwrap_or_default();
            let default_rule = ["0:", "32766:", "32767:"]
                .iter()
                .any(|p| line.starts_with(p));
            // Kernel-owned routes (local table, multicast) and the link-local address.
            let kernel = line.contains("proto kernel")
                || line.starts_with("local ")
                || line.starts_with("broadcast ")
                || line.starts_with("multicast ")
                || line.contains(" fe80::");
            if !default_rule && !kernel {
                out += &format!("ip {}: {}\n", args.join(" "), line.trim_end());
            }
        }
    }
    out
}

/// Runs the configuration under `kind`; returns the view while MASTER and after stop.
fn run(kind: Kind, name: &str) -> (String, String) {
    let topo = Topo::new(name);
    let mut inst = Inst::new(150);
    inst.state = "MASTER";
    inst.extra = VIRTUAL_RULES.into();
    let before = host_view(&topo);
    let mut d = Director::start(kind, topo.director(0), &conf(&[inst], HOST_SIDE));
    wait_for(
        "the lone MASTER holds the VIP",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, "10.0.0.100"),
    );
    // Rules follow the VIP in the same burst; give the daemon a moment.
    std::thread::sleep(Duration::from_millis(500));
    let running = host_view(&topo);
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    let after = host_view(&topo);
    assert_eq!(before, after, "{kind:?} left state behind:\n{}", d.log());
    (running, after)
}

#[test]
fn rules_routes_and_static_addresses_as_keepalived() {
    let (theirs, _) = run(Kind::Keepalived, "hsk");
    let (ours, _) = run(Kind::Lvsd, "hsl");
    // Each interface index differs between namespaces only in names we print.
    eprintln!("keepalived and lvsd, running:\n{theirs}");
    assert!(theirs.contains("lookup 100"), "keepalived view:\n{theirs}");
    assert_eq!(
        theirs, ours,
        "keepalived (left) and lvsd (right) differ:\n--- keepalived\n{theirs}--- lvsd\n{ours}"
    );
}

/// Runs `startup_script` / `shutdown_script` under `kind`; returns what the scripts
/// wrote (each line: which script, then how many VIPs the host had then) and how long
/// the VIP took to appear.
fn start_stop_scripts(kind: Kind, name: &str) -> (String, Duration) {
    let topo = Topo::new(name);
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-{name}-{}-", std::process::id()))
        .tempdir()
        .expect("tmp");
    let out = dir.path().join("scripts.log");
    let line = |word: &str| {
        format!(
            "/bin/sh -c 'echo {word} $(ip -o addr show | grep -c 10.0.0.100) >> {}{}'",
            out.display(),
            // The startup script outlives its timeout: both daemons end it and start.
            if word == "startup" { "; sleep 30" } else { "" }
        )
    };
    let mut inst = Inst::new(150);
    inst.state = "MASTER";
    let text = conf(&[inst], "").replace(
        "  script_user root\n",
        &format!(
            "  script_user root\n  startup_script \"{}\"\n  startup_script_timeout 2\n  shutdown_script \"{}\"\n  shutdown_script_timeout 5\n",
            line("startup"),
            line("shutdown")
        ),
    );
    let started = std::time::Instant::now();
    let mut d = Director::start(kind, topo.director(0), &text);
    wait_for(
        "the lone MASTER holds the VIP",
        Duration::from_secs(20),
        &[&d],
        || topo.holds(0, "10.0.0.100"),
    );
    let took = started.elapsed();
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    (written, took)
}

#[test]
fn startup_and_shutdown_scripts_as_keepalived() {
    let (theirs, theirs_took) = start_stop_scripts(Kind::Keepalived, "ssk");
    let (ours, ours_took) = start_stop_scripts(Kind::Lvsd, "ssl");
    eprintln!("keepalived ({theirs_took:?}):\n{theirs}lvsd ({ours_took:?}):\n{ours}");
    // Before anything starts, and after the VIP is released.
    assert_eq!(theirs, "startup 0\nshutdown 0\n", "keepalived");
    assert_eq!(ours, theirs, "lvsd against keepalived");
    // The startup script's 2 s timeout holds the start back under both.
    assert!(ours_took >= Duration::from_secs(2), "{ours_took:?}");
    assert!(theirs_took >= Duration::from_secs(2), "{theirs_took:?}");
}

/// `virtual_rules` leave with mastership: `kind` is MASTER alone, then a peer of
/// higher priority takes over. Returns `ip rule` on `kind`'s host as MASTER and as
/// BACKUP.
fn rules_follow_mastership(kind: Kind, name: &str) -> (String, String) {
    let topo = Topo::new(name);
    let rules = |i: usize| {
        topo.director(i)
            .ip(&["rule", "show"])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("proto keepalived"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  virtual_rules {\n    from 10.0.0.100 table 200 preference 200\n  }\n".into();
    let mut b = a.clone();
    b.priority = 200;
    let da = Director::start(kind, topo.director(0), &conf(&[a], ""));
    wait_for("A is MASTER", Duration::from_secs(10), &[&da], || {
        topo.holds(0, "10.0.0.100")
    });
    std::thread::sleep(Duration::from_millis(300));
    let as_master = rules(0);
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[b], ""));
    topo.wait_sole_holder(
        "B takes over",
        1,
        &["10.0.0.100"],
        Duration::from_secs(10),
        &[&da, &db],
    );
    std::thread::sleep(Duration::from_millis(300));
    (as_master, rules(0))
}

#[test]
fn virtual_rules_leave_with_mastership_as_keepalived() {
    let theirs = rules_follow_mastership(Kind::Keepalived, "hmk");
    let ours = rules_follow_mastership(Kind::Lvsd, "hml");
    assert_eq!(
        theirs.0, "200:\tfrom 10.0.0.100 lookup 200 proto keepalived\n",
        "keepalived as MASTER"
    );
    assert_eq!(theirs.1, "", "keepalived as BACKUP");
    assert_eq!(ours, theirs, "lvsd against keepalived");
}

/// `no_accept` side by side: a non-owner master drops traffic to its VIP
/// (the client's pings go unanswered, its own address still answers), its
/// nftables set holds the VIP while MASTER and is empty as BACKUP, and
/// nothing is left after stop. keepalived's table is `keepalived`, lvsd's
/// `lvsd`; their sets and rules are compared with the name replaced.
fn no_accept_effect(kind: Kind, name: &str) -> (String, bool, bool, String, String) {
    let topo = Topo::new(name);
    let ruleset = |i: usize| {
        topo.director(i)
            .run(&["nft", "list", "ruleset"])
            .unwrap_or_default()
            .replace("table ip keepalived", "table ip T")
            .replace("table ip lvsd", "table ip T")
    };
    let pings = |addr: &str| {
        topo.client()
            .exec(&["ping", "-c", "1", "-W", "1", addr])
            .is_ok_and(|o| o.status.success())
    };
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  no_accept\n".into();
    let mut b = a.clone();
    b.priority = 200;
    let mut da = Director::start(kind, topo.director(0), &conf(&[a], ""));
    wait_for("A is MASTER", Duration::from_secs(10), &[&da], || {
        topo.holds(0, "10.0.0.100")
    });
    std::thread::sleep(Duration::from_millis(500));
    let as_master = ruleset(0);
    let vip_answers = pings("10.0.0.100");
    let own_answers = pings("10.0.0.1");
    // B (lvsd, priority 200) takes over: A is BACKUP.
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[b], ""));
    topo.wait_sole_holder(
        "B takes over",
        1,
        &["10.0.0.100"],
        Duration::from_secs(10),
        &[&da, &db],
    );
    std::thread::sleep(Duration::from_millis(500));
    let as_backup = ruleset(0);
    assert!(da.stop(), "{kind:?} did not stop\n{}", da.log());
    let after = ruleset(0);
    assert_eq!(after, "", "{kind:?} left rules behind");
    (as_master, vip_answers, own_answers, as_backup, after)
}

#[test]
fn no_accept_drops_vip_traffic_as_keepalived() {
    let theirs = no_accept_effect(Kind::Keepalived, "nak");
    let ours = no_accept_effect(Kind::Lvsd, "nal");
    assert!(
        theirs.0.contains("elements = { 10.0.0.100 }") && theirs.0.contains("ip daddr @vips drop"),
        "keepalived's ruleset as MASTER changed: {}",
        theirs.0
    );
    assert!(
        !theirs.1 && theirs.2,
        "keepalived: VIP dropped, own address answers"
    );
    assert_eq!(ours.1, theirs.1, "the VIP answers (lvsd vs keepalived)");
    assert_eq!(
        ours.2, theirs.2,
        "the own address answers (lvsd vs keepalived)"
    );
    let set = |r: &str| r.contains("elements = { 10.0.0.100 }");
    assert!(set(&ours.0), "lvsd's ruleset as MASTER: {}", ours.0);
    for rule in ["ip daddr @vips drop", "ip saddr @vips drop"] {
        assert!(ours.0.contains(rule), "lvsd lacks `{rule}`: {}", ours.0);
    }
    // As BACKUP no VIP is blocked (keepalived keeps an empty set; lvsd no table).
    assert!(
        !set(&theirs.3) && !set(&ours.3),
        "keepalived {} / lvsd {}",
        theirs.3,
        ours.3
    );
}

/// A unicast keyword without peers, side by side: with
/// `unicast_fault_no_peer` the instance stays in FAULT (its notify says so,
/// the VIP stays away); without it the instance runs multicast and becomes
/// MASTER. Returns (VIP held, the notify script's lines) for each config.
fn unicast_without_peers(kind: Kind, name: &str) -> Vec<(bool, String)> {
    let topo = Topo::new(name);
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "notify.lines", "$*");
    let mut results = Vec::new();
    for fault in [true, false] {
        let _ = std::fs::remove_file(&out);
        let mut a = Inst::new(150);
        a.state = "MASTER";
        a.extra = format!(
            "  unicast_src_ip 10.0.0.1\n{}  notify {}\n",
            if fault {
                "  unicast_fault_no_peer\n"
            } else {
                ""
            },
            script.display()
        );
        let mut d = Director::start(kind, topo.director(0), &conf(&[a], ""));
        let settled = |want: &str| {
            std::fs::read_to_string(&out)
                .unwrap_or_default()
                .contains(want)
        };
        let want = if fault { "FAULT" } else { "MASTER" };
        wait_for(want, Duration::from_secs(10), &[&d], || settled(want));
        std::thread::sleep(Duration::from_millis(1500));
        results.push((
            topo.holds(0, "10.0.0.100"),
            std::fs::read_to_string(&out).unwrap_or_default(),
        ));
        assert!(d.stop(), "{kind:?}\n{}", d.log());
    }
    results
}

#[test]
fn unicast_without_peers_is_fault_or_multicast_as_keepalived() {
    let theirs = unicast_without_peers(Kind::Keepalived, "upk");
    let ours = unicast_without_peers(Kind::Lvsd, "upl");
    assert!(
        !theirs[0].0,
        "keepalived with unicast_fault_no_peer holds the VIP"
    );
    assert!(theirs[1].0, "keepalived without it is MASTER (multicast)");
    let states = |l: &str| {
        l.lines()
            .filter_map(|x| x.split_whitespace().nth(2))
            .filter(|s| *s != "STOP")
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    for i in 0..2 {
        assert_eq!(ours[i].0, theirs[i].0, "VIP held, case {i}");
        assert_eq!(
            states(&ours[i].1),
            states(&theirs[i].1),
            "notify states, case {i}"
        );
    }
}

/// `track_src_ip` side by side: the instance's source address (eth0's
/// primary address, given as `mcast_src_ip`) is removed, then added back.
/// lvsd goes to FAULT (the VIP goes) and back to MASTER, as keepalived's
/// documentation says; keepalived 2.2.7 itself logs the address going and
/// stays MASTER (a deliberate difference, README). Returns the notify
/// states and whether the VIP stayed while the address was gone.
fn track_src_ip_states(kind: Kind, name: &str) -> (Vec<String>, bool) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "notify.lines", "$3");
    let states = || -> Vec<String> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|s| *s != "STOP")
            .map(str::to_string)
            .collect()
    };
    let mut a = Inst::new(150);
    a.state = "MASTER";
    // Not in 10.0.0.0/24: removing eth0's primary address leaves it alone.
    a.vips = vec!["10.0.1.100/24".into()];
    a.extra = format!(
        "  mcast_src_ip 10.0.0.1\n  track_src_ip\n  notify {}\n",
        script.display()
    );
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    let long = Duration::from_secs(10);
    wait_for("MASTER", long, &[&d], || topo.holds(0, "10.0.1.100"));
    ns.ip(&["addr", "del", "10.0.0.1/24", "dev", "eth0"])
        .expect("del");
    std::thread::sleep(Duration::from_secs(3));
    let kept = topo.holds(0, "10.0.1.100");
    ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "eth0"])
        .expect("add");
    wait_for("MASTER again", long, &[&d], || topo.holds(0, "10.0.1.100"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    (states(), kept)
}

#[test]
fn track_src_ip_faults_while_the_source_address_is_gone() {
    let theirs = track_src_ip_states(Kind::Keepalived, "tsk");
    let ours = track_src_ip_states(Kind::Lvsd, "tsl");
    // What keepalived 2.2.7 does (the README's deliberate difference): nothing.
    assert_eq!(
        theirs,
        (vec!["BACKUP".into(), "MASTER".into()], true),
        "keepalived changed"
    );
    assert_eq!(
        ours,
        (
            vec![
                "BACKUP".into(),
                "MASTER".into(),
                "FAULT".into(),
                "BACKUP".into(),
                "MASTER".into()
            ],
            false
        ),
        "lvsd"
    );
}

/// `promote_secondaries` side by side: set on the interface while the
/// director runs, put back at stop. Returns (before, running, after).
fn promote_secondaries_values(kind: Kind, name: &str) -> (String, String, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let read = || {
        ns.run(&["cat", "/proc/sys/net/ipv4/conf/eth0/promote_secondaries"])
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let before = read();
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  promote_secondaries\n".into();
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    wait_for("MASTER", Duration::from_secs(10), &[&d], || {
        topo.holds(0, "10.0.0.100")
    });
    let running = read();
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    (before, running, read())
}

#[test]
fn promote_secondaries_is_set_and_put_back_as_keepalived() {
    let theirs = promote_secondaries_values(Kind::Keepalived, "psk");
    let ours = promote_secondaries_values(Kind::Lvsd, "psl");
    assert_eq!(theirs, ("0".into(), "1".into(), "0".into()), "keepalived");
    assert_eq!(ours, theirs, "lvsd against keepalived");
}

/// `dynamic_interfaces` side by side: VI_2's interface `dyn0` does not
/// exist at start. With the keyword VI_1 runs and VI_2 waits in FAULT,
/// then starts when `dyn0` is created; without it VRRP does not start at
/// all (keepalived: "Non-existent interface specified in configuration").
/// Returns, per case, VI_1's VIP held before dyn0 exists and VI_2's notify
/// states at the end.
fn dynamic_interfaces_run(kind: Kind, name: &str) -> Vec<(bool, Vec<String>)> {
    let mut results = Vec::new();
    for dynamic in [true, false] {
        let topo = Topo::new(&format!("{name}{}", u8::from(dynamic)));
        let ns = topo.director(0);
        let dir = tempfile::tempdir().expect("tmp");
        let (script, out) = notify_recorder(dir.path(), "vi2.states", "$3");
        let mut a = Inst::new(150);
        a.state = "MASTER";
        let mut b = Inst::new(150);
        b.name = "VI_2";
        b.state = "MASTER";
        b.vrid = 52;
        b.vips = vec!["10.9.1.100/24".into()];
        b.extra = format!("  notify {}\n", script.display());
        let text = conf(&[a, b], "").replace(
            "interface eth0\n  virtual_router_id 52",
            "interface dyn0\n  virtual_router_id 52",
        );
        assert!(text.contains("interface dyn0"), "{text}");
        let text = if dynamic {
            text.replacen(
                "global_defs {\n",
                "global_defs {\n  dynamic_interfaces\n",
                1,
            )
        } else {
            text
        };
        let mut d = Director::start(kind, ns, &text);
        // VI_1 is MASTER after its down timer (~3.6 s) when VRRP runs at all.
        let vi1 = time_until(Duration::from_secs(15), || topo.holds(0, "10.0.0.100")).is_some();
        ns.ip(&[
            "link", "add", "dyn0", "type", "veth", "peer", "name", "dyn1",
        ])
        .expect("dyn0");
        ns.ip(&["link", "set", "dyn1", "up"]).expect("up");
        ns.ip(&["addr", "add", "10.9.1.1/24", "dev", "dyn0"])
            .expect("addr");
        ns.ip(&["link", "set", "dyn0", "up"]).expect("up");
        if dynamic {
            wait_for("VI_2 MASTER", Duration::from_secs(15), &[&d], || {
                topo.holds(0, "10.9.1.100")
            });
            // The notify script runs after the VIP is added (keepalived's
            // too, which CI once read before its MASTER line was written).
            let _ = time_until(Duration::from_secs(5), || {
                std::fs::read_to_string(&out).is_ok_and(|t| t.contains("MASTER"))
            });
        } else {
            std::thread::sleep(Duration::from_secs(5));
        }
        let states: Vec<String> = std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter(|s| *s != "STOP")
            .map(str::to_string)
            .collect();
        let _ = d.stop();
        results.push((vi1, states));
    }
    results
}

#[test]
fn dynamic_interfaces_wait_for_a_missing_interface_as_keepalived() {
    let theirs = dynamic_interfaces_run(Kind::Keepalived, "dik");
    let ours = dynamic_interfaces_run(Kind::Lvsd, "dil");
    assert!(
        theirs[0].0,
        "keepalived runs VI_1 with dynamic_interfaces: {theirs:?}"
    );
    assert!(
        !theirs[1].0,
        "keepalived runs no VRRP without it: {theirs:?}"
    );
    assert_eq!(ours, theirs, "lvsd against keepalived");
}

/// The notify states a lone MASTER records (STOP left out).
fn recorded_states(out: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter(|s| *s != "STOP")
        .map(str::to_string)
        .collect()
}

/// A VIP deleted by hand (`ip addr del`) while MASTER, side by side:
/// keepalived 2.2.7 leaves MASTER (BACKUP, the other VIPs go too) and takes
/// over again after Skew_Time, which puts the VIP back; a `no_track` VIP
/// deleted by hand stays deleted and nothing happens. Returns the notify
/// states after each deletion and whether each VIP is back.
fn vip_deleted_by_hand(kind: Kind, name: &str) -> (Vec<String>, bool, Vec<String>, bool) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "notify.lines", "$3");
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.vips = vec!["10.0.0.100/24".into(), "10.0.0.101/24 no_track".into()];
    a.extra = format!("  notify {}\n", script.display());
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    let long = Duration::from_secs(10);
    wait_for("MASTER", long, &[&d], || {
        topo.holds(0, "10.0.0.100")
            && recorded_states(&out).last().map(String::as_str) == Some("MASTER")
    });
    ns.ip(&["addr", "del", "10.0.0.100/24", "dev", "eth0"])
        .expect("del");
    std::thread::sleep(Duration::from_secs(3));
    let tracked = recorded_states(&out);
    let tracked_back = topo.holds(0, "10.0.0.100");
    ns.ip(&["addr", "del", "10.0.0.101/24", "dev", "eth0"])
        .expect("del");
    std::thread::sleep(Duration::from_secs(3));
    let untracked = recorded_states(&out)[tracked.len()..].to_vec();
    let untracked_back = topo.holds(0, "10.0.0.101");
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    (tracked, tracked_back, untracked, untracked_back)
}

#[test]
fn a_vip_deleted_by_hand_is_put_back_as_keepalived() {
    let theirs = vip_deleted_by_hand(Kind::Keepalived, "vdk");
    let ours = vip_deleted_by_hand(Kind::Lvsd, "vdl");
    assert_eq!(
        theirs,
        (
            vec![
                "BACKUP".into(),
                "MASTER".into(),
                "BACKUP".into(),
                "MASTER".into()
            ],
            true,
            vec![],
            false
        ),
        "keepalived changed"
    );
    assert_eq!(theirs, ours, "keepalived left, lvsd right");
}

/// A VIP on another interface than the instance's, side by side: keepalived
/// 2.2.7 tracks that interface (down: FAULT) unless the VIP says `no_track`.
/// Returns the notify states across a down/up of that interface.
fn other_interface_vip(kind: Kind, name: &str, option: &str) -> Vec<String> {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    // No dummy driver everywhere: a veth pair, both ends up.
    ns.ip(&[
        "link", "add", "dum1", "type", "veth", "peer", "name", "dum1p",
    ])
    .expect("veth");
    ns.ip(&["link", "set", "dum1p", "up"]).expect("up");
    ns.ip(&["link", "set", "dum1", "up"]).expect("up");
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "notify.lines", "$3");
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = format!(
        "  virtual_ipaddress_excluded {{\n    10.5.0.1/24 dev dum1{option}\n  }}\n  notify {}\n",
        script.display()
    );
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    let long = Duration::from_secs(10);
    let last_is = |s: &str| recorded_states(&out).last().map(String::as_str) == Some(s);
    wait_for("MASTER", long, &[&d], || last_is("MASTER"));
    ns.ip(&["link", "set", "dum1", "down"]).expect("down");
    std::thread::sleep(Duration::from_secs(2));
    ns.ip(&["link", "set", "dum1", "up"]).expect("up");
    wait_for("MASTER again", long, &[&d], || last_is("MASTER"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    recorded_states(&out)
}

#[test]
fn a_vip_on_another_interface_is_tracked_unless_no_track_as_keepalived() {
    for (option, faults) in [("", true), (" no_track", false)] {
        let theirs = other_interface_vip(Kind::Keepalived, "oik", option);
        let ours = other_interface_vip(Kind::Lvsd, "oil", option);
        assert_eq!(theirs, ours, "`{option}`: keepalived left, lvsd right");
        assert_eq!(
            ours.iter().any(|s| s == "FAULT"),
            faults,
            "`{option}`: {ours:?}"
        );
    }
}

/// `dynamic_interfaces` side by side, an interface deleted and created again
/// while running (a VLAN or veth re-made by the network's tooling): the
/// instance on it goes to FAULT, and once the interface is back (with a new
/// index) it runs again on it: MASTER, and its adverts leave from the new
/// interface. Returns the notify states after the deletion, after the
/// re-creation, and how many adverts the new interface carried in 3 s.
fn interface_recreated(kind: Kind, name: &str) -> (Vec<String>, Vec<String>, usize) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "states", "$3");
    let make = || {
        ns.ip(&[
            "link", "add", "dyn0", "type", "veth", "peer", "name", "dyn1",
        ])
        .expect("dyn0");
        ns.ip(&["link", "set", "dyn1", "up"]).expect("up");
        ns.ip(&["addr", "add", "10.9.1.1/24", "dev", "dyn0"])
            .expect("addr");
        ns.ip(&["link", "set", "dyn0", "up"]).expect("up");
    };
    make();
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.vips = vec!["10.9.1.100/24".into()];
    a.extra = format!("  notify {}\n", script.display());
    let text = conf(&[a], "")
        .replace("interface eth0", "interface dyn0")
        .replacen(
            "global_defs {\n",
            "global_defs {\n  dynamic_interfaces\n",
            1,
        );
    let mut d = Director::start(kind, ns, &text);
    let long = Duration::from_secs(15);
    wait_for("MASTER", long, &[&d], || {
        recorded_states(&out).last().map(String::as_str) == Some("MASTER")
    });
    let before = recorded_states(&out).len();
    ns.ip(&["link", "del", "dyn0"]).expect("del");
    let _ = time_until(Duration::from_secs(5), || {
        recorded_states(&out).len() > before
    });
    std::thread::sleep(Duration::from_secs(1));
    let deleted = recorded_states(&out)[before..].to_vec();
    let before = recorded_states(&out).len();
    make();
    wait_for("MASTER again", long, &[&d], || {
        topo.holds(0, "10.9.1.100")
            && recorded_states(&out).last().map(String::as_str) == Some("MASTER")
    });
    let back = recorded_states(&out)[before..].to_vec();
    // Adverts on the new interface (advert_int 1): tcpdump on its peer end.
    let seen = ns
        .run(&[
            "sh",
            "-c",
            "timeout 3.5 tcpdump -n -l -i dyn1 ip proto 112 2>/dev/null; true",
        ])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("VRRP"))
        .count();
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    (deleted, back, seen)
}

#[test]
fn an_interface_deleted_and_created_again_is_used_again_as_keepalived() {
    let theirs = interface_recreated(Kind::Keepalived, "irk");
    let ours = interface_recreated(Kind::Lvsd, "irl");
    assert!(
        theirs.2 >= 2,
        "keepalived sent {} adverts: the test is broken",
        theirs.2
    );
    assert!(
        ours.2 >= 2,
        "lvsd sent {} adverts on the new interface: {ours:?}",
        ours.2
    );
    assert_eq!(
        (&ours.0, &ours.1),
        (&theirs.0, &theirs.1),
        "lvsd left, keepalived right"
    );
}

/// `track_group` side by side: a static address and a static route on
/// `trk0` name a track group holding VI_1, so VI_1 tracks trk0 (down:
/// FAULT); when trk0 comes back the static route the kernel dropped is put
/// back, and when trk0 is deleted and created again so is the address.
/// Returns the notify states after each step and whether the route and the
/// address were there after each.
fn track_group_run(kind: Kind, name: &str) -> Vec<(Vec<String>, bool, bool)> {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (script, out) = notify_recorder(dir.path(), "states", "$3");
    let make = || {
        ns.ip(&[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ])
        .expect("trk0");
        ns.ip(&["link", "set", "trk1", "up"]).expect("up");
        ns.ip(&["link", "set", "trk0", "up"]).expect("up");
    };
    make();
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = format!("  notify {}\n", script.display());
    let text = conf(&[a], "").replacen(
        "vrrp_instance",
        "track_group TG {\n  group {\n    VI_1\n  }\n}\n\
         static_ipaddress {\n  10.9.2.1/24 dev trk0 track_group TG\n}\n\
         static_routes {\n  10.99.0.0/16 dev trk0 track_group TG\n}\n\
         vrrp_instance",
        1,
    );
    let mut d = Director::start(kind, ns, &text);
    let long = Duration::from_secs(15);
    let out = &out;
    let last_is = |state: &'static str| {
        move || recorded_states(out).last().map(String::as_str) == Some(state)
    };
    let route = || {
        ns.ip(&["route", "show", "10.99.0.0/16"])
            .is_ok_and(|r| r.contains("dev trk0"))
    };
    let address = || holds(ns.name(), "10.9.2.1");
    let mut steps = Vec::new();
    let step = |steps: &mut Vec<(Vec<String>, bool, bool)>| {
        std::thread::sleep(Duration::from_secs(2));
        steps.push((recorded_states(out), route(), address()));
    };
    wait_for("MASTER", long, &[&d], last_is("MASTER"));
    step(&mut steps);
    ns.ip(&["link", "set", "trk0", "down"]).expect("down");
    wait_for("FAULT", long, &[&d], last_is("FAULT"));
    step(&mut steps);
    ns.ip(&["link", "set", "trk0", "up"]).expect("up");
    wait_for("MASTER again", long, &[&d], last_is("MASTER"));
    step(&mut steps);
    ns.ip(&["link", "del", "trk0"]).expect("del");
    wait_for("FAULT again", long, &[&d], last_is("FAULT"));
    make();
    wait_for("MASTER after re-creation", long, &[&d], last_is("MASTER"));
    step(&mut steps);
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    steps
}

#[test]
fn track_group_and_static_reinstating_as_keepalived() {
    let theirs = track_group_run(Kind::Keepalived, "tgk");
    let ours = track_group_run(Kind::Lvsd, "tgl");
    eprintln!("keepalived: {theirs:?}\nlvsd: {ours:?}");
    // keepalived: FAULT while trk0 is down (route dropped by the kernel),
    // the route back when it is up, the address back after re-creation.
    let flags: Vec<(bool, bool)> = theirs.iter().map(|(_, r, a)| (*r, *a)).collect();
    assert_eq!(
        flags,
        [(true, true), (false, true), (true, true), (true, true)],
        "keepalived changed"
    );
    assert_eq!(theirs, ours, "keepalived left, lvsd right");
}

/// Routes, rules and static addresses deleted by hand, side by side: a
/// master that loses a virtual route or rule leaves MASTER and takes over
/// again (which puts it back); a static route, rule or address is put back
/// without a state change; a `no_track` virtual route stays deleted.
/// Returns, per deletion, the notify states it caused and whether the
/// entry was back 3 s later.
/// Whether `ns`'s main table has a route to `dst`.
fn route_there(ns: &crate::netns::Netns, dst: &str) -> bool {
    ns.ip(&["route", "show", dst])
        .is_ok_and(|r| !r.trim().is_empty())
}

/// Whether `ns` has a rule of preference `pref`.
fn rule_there(ns: &crate::netns::Netns, pref: &str) -> bool {
    ns.ip(&["rule", "show"])
        .is_ok_and(|r| r.lines().any(|l| l.starts_with(&format!("{pref}:"))))
}

/// A lone MASTER on `ns` whose notify states go to the returned file. It
/// tracks virtual route 10.98.0.0/16 and virtual rule 200, and keeps
/// static route 10.97.0.0/16 and static rule 201; `more_virtual_routes`
/// and `more_statics` are config lines added to those blocks. Returns once
/// it is MASTER with all four in place.
fn master_with_routes_and_rules(
    kind: Kind,
    ns: &crate::netns::Netns,
    dir: &std::path::Path,
    more_virtual_routes: &str,
    more_statics: &str,
) -> (Director, std::path::PathBuf) {
    let (script, out) = notify_recorder(dir, "states", "$3");
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = format!(
        "  notify {}\n  virtual_routes {{\n    10.98.0.0/16 dev eth0\n{more_virtual_routes}  }}\n  virtual_rules {{\n    from 10.9.9.0/24 table 100 preference 200\n  }}\n",
        script.display()
    );
    let text = conf(&[a], "").replacen(
        "vrrp_instance",
        &format!(
            "{more_statics}static_routes {{\n  10.97.0.0/16 dev eth0\n}}\n\
             static_rules {{\n  from 10.9.8.0/24 table 101 preference 201\n}}\n\
             vrrp_instance"
        ),
        1,
    );
    let d = Director::start(kind, ns, &text);
    wait_for("MASTER", Duration::from_secs(15), &[&d], || {
        recorded_states(&out).last().map(String::as_str) == Some("MASTER")
            && route_there(ns, "10.98.0.0/16")
            && route_there(ns, "10.97.0.0/16")
            && rule_there(ns, "200")
            && rule_there(ns, "201")
    });
    (d, out)
}

fn deleted_by_hand(kind: Kind, name: &str) -> Vec<(&'static str, Vec<String>, bool)> {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (mut d, out) = master_with_routes_and_rules(
        kind,
        ns,
        dir.path(),
        "    10.96.0.0/16 dev eth0 no_track\n",
        "static_ipaddress {\n  10.9.3.1/24 dev eth0\n}\n",
    );
    std::thread::sleep(Duration::from_secs(1));
    let route_there = |dst: &str| route_there(ns, dst);
    let rule_there = |pref: &str| rule_there(ns, pref);
    type Back<'a> = Box<dyn Fn() -> bool + 'a>;
    let steps: [(&'static str, Vec<&str>, Back); 5] = [
        (
            "virtual route",
            vec!["route", "del", "10.98.0.0/16"],
            Box::new(|| route_there("10.98.0.0/16")),
        ),
        (
            "no_track virtual route",
            vec!["route", "del", "10.96.0.0/16"],
            Box::new(|| route_there("10.96.0.0/16")),
        ),
        (
            "virtual rule",
            vec!["rule", "del", "pref", "200"],
            Box::new(|| rule_there("200")),
        ),
        (
            "static route",
            vec!["route", "del", "10.97.0.0/16"],
            Box::new(|| route_there("10.97.0.0/16")),
        ),
        (
            "static rule",
            vec!["rule", "del", "pref", "201"],
            Box::new(|| rule_there("201")),
        ),
    ];
    let mut seen = Vec::new();
    for (what, argv, back) in &steps {
        let before = recorded_states(&out).len();
        ns.ip(argv).unwrap_or_else(|e| panic!("{what}: {e}"));
        std::thread::sleep(Duration::from_secs(3));
        seen.push((*what, recorded_states(&out)[before..].to_vec(), back()));
    }
    let before = recorded_states(&out).len();
    ns.ip(&["addr", "del", "10.9.3.1/24", "dev", "eth0"])
        .expect("addr del");
    std::thread::sleep(Duration::from_secs(3));
    seen.push((
        "static address",
        recorded_states(&out)[before..].to_vec(),
        holds(ns.name(), "10.9.3.1"),
    ));
    assert!(d.stop(), "{kind:?}\n{}", d.log());
    seen
}

#[test]
fn routes_rules_and_static_addresses_deleted_by_hand_as_keepalived() {
    let theirs = deleted_by_hand(Kind::Keepalived, "dhk");
    let ours = deleted_by_hand(Kind::Lvsd, "dhl");
    eprintln!("keepalived: {theirs:?}\nlvsd: {ours:?}");
    assert_eq!(theirs, ours, "keepalived left, lvsd right");
}

/// Crash consistency on the host (issue #16; the UML test bed's kernel has
/// no nftables): `lvsd -P` SIGKILLed at seeded points of its start-up, a
/// reload and its shutdown, then started again with the same config. Each
/// time the instance is MASTER again with what it owns there exactly once
/// (the VMAC, the no_accept nftables table, the VIP on the VMAC, a virtual
/// route and rule), and a graceful stop at the end leaves none of it.
#[test]
fn sigkill_at_seeded_points_leaves_no_vrrp_state_unadopted() {
    let topo = Topo::new("ckh");
    let ns = topo.director(0);
    // Not the address owner: an owner accepts its VIPs' traffic (no table).
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  use_vmac\n  no_accept\n  virtual_routes {\n    10.77.0.0/16 dev eth0\n  }\n  virtual_rules {\n    from 10.0.0.0/24 table 100 preference 300\n  }\n".into();
    let text = conf(&[a], "");
    let count = |argv: &[&str], needle: &str| -> usize {
        ns.run(argv)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    };
    let owned = || -> Vec<(&'static str, usize)> {
        vec![
            ("VMAC", count(&["ip", "-o", "link", "show"], "vrrp.51@eth0")),
            (
                "VIP",
                count(&["ip", "-o", "addr", "show"], "inet 10.0.0.100/"),
            ),
            (
                "nftables table",
                count(&["nft", "list", "tables"], "table ip lvsd"),
            ),
            ("route", count(&["ip", "route", "show"], "10.77.0.0/16")),
            ("rule", count(&["ip", "rule", "show"], "300:")),
        ]
    };
    let mut seed: u64 = 16;
    let mut next = |span: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % span
    };
    let master = |d: &Director| {
        time_until(Duration::from_secs(20), || {
            d.instance("VI_1")["state"] == "Master" && owned().iter().all(|(_, n)| *n == 1)
        })
        .is_some()
    };
    let mut d = Director::start(Kind::Lvsd, ns, &text);
    assert!(master(&d), "first start: {:?}\n{}", owned(), d.log());
    for round in 0..9u64 {
        let phase = ["start-up", "reload", "shutdown"][(round % 3) as usize];
        let delay = Duration::from_millis(next(if phase == "start-up" { 5000 } else { 1500 }));
        match phase {
            "start-up" => {
                d.crash();
                d = Director::start(Kind::Lvsd, ns, &text);
            }
            "reload" => d.reload(&text),
            _ => d.signal(nix::sys::signal::Signal::SIGTERM),
        }
        std::thread::sleep(delay);
        d.crash();
        d = Director::start(Kind::Lvsd, ns, &text);
        assert!(
            master(&d),
            "round {round}: SIGKILL {delay:?} into {phase}: {:?}\n{}",
            owned(),
            d.log()
        );
    }
    assert!(d.stop(), "{}", d.log());
    let left: Vec<_> = owned().into_iter().filter(|(_, n)| *n != 0).collect();
    assert!(left.is_empty(), "left after the stop: {left:?}");
}

/// Fault injection (issue #16): the VRRP state file (what `lvsd status`
/// reads) cannot be written, as on a full disk (here its directory is made
/// immutable). VRRP goes on (the master keeps its VIP), the failure is said
/// once rather than every second, and once writing works again the file
/// catches up and the log says so.
#[test]
fn an_unwritable_state_file_is_reported_once_and_changes_nothing_else() {
    let topo = Topo::new("swf");
    let ns = topo.director(0);
    let mut a = Inst::new(150);
    a.state = "MASTER";
    let mut d = Director::start(Kind::Lvsd, ns, &conf(&[a], ""));
    wait_for("MASTER", Duration::from_secs(15), &[&d], || {
        topo.holds(0, "10.0.0.100") && d.instance("VI_1")["state"] == "Master"
    });
    let adverts = |d: &Director| {
        d.instance("VI_1")["counters"]["adverts_tx"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = adverts(&d);
    let chattr = |flag: &str| {
        let st = std::process::Command::new("chattr")
            .args([flag, &d.dir().display().to_string()])
            .status()
            .expect("chattr");
        assert!(st.success(), "chattr {flag}");
    };
    chattr("+i");
    std::thread::sleep(Duration::from_secs(5));
    let held = topo.holds(0, "10.0.0.100");
    let stale = adverts(&d);
    chattr("-i");
    assert!(held, "the master lost its VIP while its state file failed");
    // Unwritable: the file kept what it had (one write may have slipped in
    // before the chattr); it did not follow the 5 adverts sent meanwhile.
    assert!(
        stale <= before + 1,
        "the state file kept changing: {before} -> {stale}"
    );
    let caught_up = time_until(Duration::from_secs(5), || adverts(&d) >= before + 5).is_some();
    let log = d.log();
    let failures = log
        .lines()
        .filter(|l| l.contains("state.json") && l.contains("VRRP is not affected"))
        .count();
    assert!(d.stop(), "{log}");
    assert_eq!(failures, 1, "the failure said once:\n{log}");
    assert!(log.contains("works again"), "{log}");
    assert!(caught_up, "the state file did not catch up:\n{log}");
}

/// Fault injection (issue #16): route and rule deletions the kernel
/// announced while lvsd could not read them. lvsd is stopped (SIGSTOP)
/// while 20,000 routes are added to another table, far more than its
/// watching socket's buffer holds, and its virtual route, virtual rule,
/// static route and static rule are deleted among them. After SIGCONT the
/// socket reports the overrun, lvsd lists the routes and rules, and treats
/// what is missing as deleted: the statics are put back, the master leaves
/// MASTER and takes over again, which puts its route and rule back.
#[test]
fn deletions_lost_in_a_netlink_socket_overrun_are_found_by_listing() {
    let topo = Topo::new("ovr");
    let ns = topo.director(0);
    let dir = tempfile::tempdir().expect("tmp");
    let (mut d, out) = master_with_routes_and_rules(Kind::Lvsd, ns, dir.path(), "", "");
    let route_there = |dst: &str| route_there(ns, dst);
    let rule_there = |pref: &str| rule_there(ns, pref);
    let all_there = || {
        route_there("10.98.0.0/16")
            && route_there("10.97.0.0/16")
            && rule_there("200")
            && rule_there("201")
    };
    let mut batch = String::new();
    for i in 0..20_000u32 {
        batch.push_str(&format!(
            "route add blackhole 10.{}.{}.0/24 table 300\n",
            100 + i / 256,
            i % 256
        ));
        if i == 10_000 {
            batch.push_str("route del 10.98.0.0/16\nroute del 10.97.0.0/16\nrule del pref 200\nrule del pref 201\n");
        }
    }
    let batch_file = dir.path().join("flood.batch");
    std::fs::write(&batch_file, batch).expect("batch");
    let pid = nix::unistd::Pid::from_raw(d.pid() as i32);
    let before = recorded_states(&out).len();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
    let flooded = ns.ip(&["-batch", &batch_file.display().to_string()]);
    let gone = !route_there("10.98.0.0/16") && !rule_there("201");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
    flooded.unwrap_or_else(|e| panic!("ip -batch: {e}"));
    assert!(gone, "the batch deleted lvsd's routes and rules");
    let back = time_until(Duration::from_secs(20), all_there);
    let states = recorded_states(&out)[before..].to_vec();
    let log = d.log();
    assert!(d.stop(), "{log}");
    assert!(
        log.contains("socket overrun"),
        "the flood overran the watching socket:\n{log}"
    );
    assert!(back.is_some(), "not all put back after the overrun:\n{log}");
    assert_eq!(
        states.last().map(String::as_str),
        Some("MASTER"),
        "left MASTER and took over again: {states:?}"
    );
    assert!(states.contains(&"BACKUP".to_owned()), "{states:?}\n{log}");
}
