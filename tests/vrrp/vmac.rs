//! `use_vmac` side by side with keepalived 2.2.7: the same configuration under each
//! daemon, each a lone MASTER in its own namespace LAN. The macvlan (name, mode, MAC,
//! lower interface), the addresses on it, the kernel settings on it and on the base
//! interface, and the source MAC of the adverts on the wire must read the same; after
//! a graceful stop the VMACs are gone (and, under lvsd, the base interface's ARP
//! settings are back: keepalived leaves them changed).
//! Then lvsd and keepalived as MASTER and BACKUP of one router over their VMACs.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::*;
use crate::netns::Netns;

/// Two instances: a generated VMAC name (`vrrp.51`) and a configured one sending
/// from the base interface, with an IPv6 VIP beside it and one on another device.
fn instances() -> Vec<Inst> {
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  use_vmac\n".into();
    let mut b = Inst::new(150);
    b.name = "VI_2";
    b.state = "MASTER";
    b.vrid = 52;
    b.vips = vec!["10.0.0.101/24".into(), "10.0.0.102/24 dev eth0".into()];
    b.extra = "  use_vmac vmx52\n  vmac_xmit_base\n".into();
    vec![a, b]
}

const SYSCTLS: [(&str, &str); 6] = [
    ("ipv4", "arp_ignore"),
    ("ipv4", "arp_filter"),
    ("ipv4", "accept_local"),
    ("ipv4", "rp_filter"),
    ("ipv4", "promote_secondaries"),
    ("ipv6", "disable_ipv6"),
];

fn sysctls(ns: &Netns, dev: &str) -> String {
    SYSCTLS
        .iter()
        .map(|(fam, key)| {
            let v = ns
                .run(&["cat", &format!("/proc/sys/net/{fam}/conf/{dev}/{key}")])
                .unwrap_or_else(|_| "-".into());
            format!("{dev} {fam}.{key}={}\n", v.trim())
        })
        .collect()
}

/// The VMACs as `ip -d link` shows them (name, lower device, MAC, macvlan mode),
/// their addresses, and the settings on them and on eth0.
fn host_view(ns: &Netns) -> String {
    let mut out = String::new();
    let links = ns.ip(&["-d", "-o", "link", "show"]).unwrap_or_default();
    let mut vmacs = Vec::new();
    for line in links.lines().filter(|l| l.contains("macvlan")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let name = words.get(1).unwrap_or(&"").trim_end_matches(':');
        // The macvlan's mode follows the word `macvlan`.
        let kind = words.iter().position(|x| *x == "macvlan").unwrap_or(0);
        let after = |w: &str| {
            words
                .iter()
                .skip(if w == "mode" { kind } else { 0 })
                .position(|x| *x == w)
                .map(|i| i + if w == "mode" { kind } else { 0 })
                .and_then(|i| words.get(i + 1))
                .copied()
                .unwrap_or("")
        };
        let up = line.contains(",UP");
        // A MAC the kernel made up differs from run to run.
        let mac = after("link/ether");
        let mac = if mac.starts_with("00:00:5e") {
            mac
        } else {
            "random"
        };
        out += &format!(
            "link {name} ether {mac} macvlan mode {} up={up}\n",
            after("mode")
        );
        vmacs.push(name.split('@').next().unwrap_or("").to_string());
    }
    for dev in vmacs.iter().map(String::as_str).chain(["eth0"]) {
        let addrs = ns
            .ip(&["-o", "addr", "show", "dev", dev])
            .unwrap_or_default();
        for line in addrs.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let (Some(fam), Some(addr)) = (words.get(2), words.get(3)) {
                if !addr.starts_with("fe80") && !addr.starts_with("10.0.0.1/") {
                    out += &format!("addr {dev} {fam} {addr}\n");
                }
            }
        }
        out += &sysctls(ns, dev);
    }
    out
}

/// Source MACs of the VRRP adverts seen from the LAN's third host for `secs` seconds
/// (the director's own eth0 MAC, random per namespace, written `eth0`).
fn advert_sources(ns: &Netns, director: &Netns, secs: u64) -> String {
    let link = director
        .ip(&["-o", "link", "show", "eth0"])
        .unwrap_or_default();
    let base_mac = link
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("?")
        .to_string();
    let out = Command::new("timeout")
        .args([&secs.to_string(), "ip", "netns", "exec", ns.name()])
        .args(["tcpdump", "-l", "-n", "-e", "-i", "eth0", "vrrp"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("tcpdump");
    let mut seen: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let mac = words.get(1)?;
            let vrid = l.split("vrid ").nth(1)?.split(',').next()?;
            let mac = mac.trim_end_matches(',');
            let mac = if mac == base_mac { "eth0" } else { mac };
            Some(format!("vrid {vrid} from {mac}\n"))
        })
        .collect();
    seen.sort();
    seen.dedup();
    seen.concat()
}

/// The ARP replies for the VIP the client gets while `action` runs (its cache flushed first).
fn arp_replies(client: &Netns, action: impl FnOnce()) -> String {
    let _ = client.ip(&["neigh", "flush", "all"]);
    let dump = Command::new("timeout")
        .args(["4", "ip", "netns", "exec", client.name()])
        .args(["tcpdump", "-l", "-n", "-i", "eth0", "arp and arp[6:2] = 2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump");
    std::thread::sleep(Duration::from_millis(800));
    action();
    let out = dump.wait_with_output().expect("tcpdump output");
    let mut seen: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("Reply ").nth(1))
        .filter(|r| r.starts_with("10.0.0.100 "))
        .map(|r| format!("{}\n", r.split(',').next().unwrap_or(r).trim()))
        .collect();
    seen.sort();
    seen.dedup();
    seen.concat()
}

fn run(kind: Kind, name: &str) -> (String, String, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let before = host_view(ns);
    let mut d = Director::start(
        kind,
        ns,
        &conf(&instances(), "global_defs {\n  vmac_prefix vrrp\n}\n"),
    );
    wait_for(
        "the lone MASTER holds both VIPs",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, "10.0.0.100") && topo.holds(0, "10.0.0.101"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let running = host_view(ns);
    let wire = advert_sources(topo.client(), ns, 3);
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    let after = host_view(ns);
    // keepalived 2.2.7 means to put eth0's arp_ignore/arp_filter back when its last
    // VMAC goes (reset_interface_parameters) but leaves them at 1; lvsd puts them back.
    let expected = match kind {
        Kind::Lvsd => before,
        Kind::Keepalived => before
            .replace("eth0 ipv4.arp_ignore=0", "eth0 ipv4.arp_ignore=1")
            .replace("eth0 ipv4.arp_filter=0", "eth0 ipv4.arp_filter=1"),
    };
    assert_eq!(expected, after, "{kind:?} left state behind:\n{}", d.log());
    (running, wire, after)
}

#[test]
fn vmac_as_keepalived() {
    let (theirs, theirs_wire, _) = run(Kind::Keepalived, "vmk");
    let (ours, ours_wire, _) = run(Kind::Lvsd, "vml");
    eprintln!("keepalived:\n{theirs}{theirs_wire}lvsd:\n{ours}{ours_wire}");
    assert!(
        theirs.contains("link vrrp.51@eth0 ether 00:00:5e:00:01:33 macvlan mode private"),
        "keepalived view:\n{theirs}"
    );
    assert_eq!(
        theirs, ours,
        "keepalived (left) and lvsd (right) differ:\n--- keepalived\n{theirs}--- lvsd\n{ours}"
    );
    assert_eq!(
        theirs_wire, "vrid 51 from 00:00:5e:00:01:33\nvrid 52 from eth0\n",
        "keepalived's adverts"
    );
    assert_eq!(theirs_wire, ours_wire, "adverts on the wire");
}

/// Interfaces that exist at start: a private macvlan on eth0 with VI_1's MAC under
/// another name (keepalived adopts it), and VI_2's configured name as a bridge-mode
/// macvlan (keepalived turns it private with VI_2's MAC). Returns the view while
/// running and after stop.
fn existing(kind: Kind, name: &str) -> (String, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let ip = |args: &str| {
        let argv: Vec<&str> = args.split_whitespace().collect();
        ns.ip(&argv).unwrap_or_else(|e| panic!("ip {args}: {e}"));
    };
    ip("link add old51 link eth0 address 00:00:5e:00:01:33 type macvlan mode private");
    // keepalived adopts an interface as it is: a down one puts the instance in FAULT.
    ip("link set old51 up");
    // Not private: keepalived ignores the configured name (and names it vrrp.52).
    ip("link add vmx52 link eth0 type macvlan mode bridge");
    // Private with another MAC: keepalived gives it VI_3's.
    ip("link add vmx53 link eth0 address 02:00:00:00:00:53 type macvlan mode private");
    let mut c = Inst::new(150);
    c.name = "VI_3";
    c.state = "MASTER";
    c.vrid = 53;
    c.vips = vec!["10.0.0.103/24".into()];
    c.extra = "  use_vmac vmx53\n".into();
    let mut all = instances();
    all.push(c);
    let mut d = Director::start(kind, ns, &conf(&all, ""));
    wait_for(
        "the lone MASTER holds the VIPs",
        Duration::from_secs(10),
        &[&d],
        || {
            ["10.0.0.100", "10.0.0.101", "10.0.0.103"]
                .iter()
                .all(|v| topo.holds(0, v))
        },
    );
    std::thread::sleep(Duration::from_millis(500));
    let running = host_view(ns);
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    (running, host_view(ns))
}

#[test]
fn existing_interfaces_as_keepalived() {
    let (theirs, theirs_after) = existing(Kind::Keepalived, "vek");
    let (ours, ours_after) = existing(Kind::Lvsd, "vel");
    eprintln!("keepalived:\n{theirs}after:\n{theirs_after}lvsd:\n{ours}after:\n{ours_after}");
    assert!(theirs.contains("addr old51 inet 10.0.0.100/24"), "{theirs}");
    assert_eq!(theirs, ours, "running: keepalived (left), lvsd (right)");
    // Both delete what they adopted or changed, and leave the bridge-mode one alone.
    let links = |view: &str| {
        view.lines()
            .filter(|l| l.starts_with("link "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(links(&theirs_after), links(&ours_after), "after stop");
    assert_eq!(links(&ours_after).len(), 1, "{ours_after}");
}

/// lvsd MASTER and keepalived BACKUP of one router, each over its VMAC (and the other
/// way round): one holder, the client reaches the VIP at the virtual MAC, and the
/// BACKUP takes over when the MASTER stops.
fn interop(master: Kind, backup: Kind, name: &str) {
    let topo = Topo::new(name);
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  use_vmac\n".into();
    let mut b = a.clone();
    b.state = "BACKUP";
    b.priority = 100;
    let mut dm = Director::start(master, topo.director(0), &conf(&[a], ""));
    wait_for(
        "the MASTER holds the VIP",
        Duration::from_secs(10),
        &[&dm],
        || topo.holds(0, "10.0.0.100"),
    );
    let db = Director::start(backup, topo.director(1), &conf(&[b], ""));
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        topo.sole_holder(0, &["10.0.0.100"]),
        "{master:?} MASTER and {backup:?} BACKUP:\n{}\n{}",
        dm.log(),
        db.log()
    );
    // Who answers the client's ARP request for the VIP (its replies may then come
    // from eth0, under both daemons: the kernel's route to the client decides).
    let client = topo.client();
    let answers = arp_replies(client, || {
        client
            .run(&["ping", "-c", "1", "-W", "2", "10.0.0.100"])
            .expect("the client reaches the VIP");
    });
    assert_eq!(
        answers, "10.0.0.100 is-at 00:00:5e:00:01:33\n",
        "ARP replies to the client"
    );
    assert!(dm.stop(), "{master:?} did not stop cleanly:\n{}", dm.log());
    wait_for(
        "the BACKUP takes over",
        Duration::from_secs(10),
        &[&db],
        || topo.holds(1, "10.0.0.100"),
    );
    client
        .run(&["ping", "-c", "1", "-W", "2", "10.0.0.100"])
        .expect("the client reaches the VIP on the new MASTER");
}

#[test]
fn lvsd_master_keepalived_backup_over_vmac() {
    interop(Kind::Lvsd, Kind::Keepalived, "vil");
}

#[test]
fn keepalived_master_lvsd_backup_over_vmac() {
    interop(Kind::Keepalived, Kind::Lvsd, "vik");
}

/// A reload that drops VI_2 and keeps VI_1: VI_2's VMAC goes, VI_1's stays (same
/// interface, its VIP never leaves). Returns the view after the reload.
fn reload(kind: Kind, name: &str) -> String {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let all = instances();
    let mut d = Director::start(kind, ns, &conf(&all, ""));
    wait_for(
        "the lone MASTER holds both VIPs",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, "10.0.0.100") && topo.holds(0, "10.0.0.101"),
    );
    let index = |dev: &str| ns.ip(&["-o", "link", "show", dev]).unwrap_or_default();
    let kept = index("vrrp.51");
    d.reload(&conf(&all[..1], ""));
    wait_for("VI_2's VMAC goes", Duration::from_secs(10), &[&d], || {
        !index("vmx52").contains("vmx52")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(topo.holds(0, "10.0.0.100"), "{kind:?}:\n{}", d.log());
    // The same interface (index and all), not a new one.
    let again = index("vrrp.51");
    assert_eq!(
        kept.split(':').next(),
        again.split(':').next(),
        "{kind:?}: {kept} / {again}"
    );
    let view = host_view(ns);
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    view
}

#[test]
fn reload_removes_a_dropped_instances_vmac_as_keepalived() {
    let theirs = reload(Kind::Keepalived, "vrk");
    let ours = reload(Kind::Lvsd, "vrl");
    assert!(!theirs.contains("vmx52"), "{theirs}");
    assert_eq!(
        theirs, ours,
        "after the reload: keepalived (left), lvsd (right)"
    );
}

/// An IPv6 instance with a VMAC: its name, MAC (00:00:5e:00:02:VRID), addresses
/// (the VIP and eth0's link-local address, which adverts are sent from), settings,
/// and the adverts' source MAC. Returns the view while running.
fn ipv6(kind: Kind, name: &str) -> String {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.vrid = 61;
    a.version = 3;
    a.auth = None;
    a.vips = vec!["fd00::100/64".into()];
    a.extra = "  use_vmac\n".into();
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    wait_for(
        "the lone MASTER holds the VIP",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, "fd00::100"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let base_ll = ns
        .ip(&["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])
        .unwrap_or_default()
        .split_whitespace()
        .nth(3)
        .unwrap_or("?")
        .to_string();
    let mut view = String::new();
    let links = ns
        .ip(&["-d", "-o", "link", "show", "vrrp.61"])
        .unwrap_or_default();
    view += &format!(
        "vrrp.61 private={} mac={}\n",
        links.contains("macvlan mode private"),
        links.contains("link/ether 00:00:5e:00:02:3d")
    );
    let addrs = ns
        .ip(&["-6", "-o", "addr", "show", "dev", "vrrp.61"])
        .unwrap_or_default();
    for line in addrs.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let addr = w.get(3).copied().unwrap_or("");
        let addr = if addr == base_ll {
            "eth0's link-local"
        } else {
            addr
        };
        view += &format!("addr {addr}\n");
    }
    view += &sysctls(ns, "vrrp.61");
    let gen_mode = ns
        .run(&["cat", "/proc/sys/net/ipv6/conf/vrrp.61/addr_gen_mode"])
        .unwrap_or_default();
    view += &format!("vrrp.61 ipv6.addr_gen_mode={}\n", gen_mode.trim());
    let dump = Command::new("timeout")
        .args(["3", "ip", "netns", "exec", topo.client().name()])
        .args(["tcpdump", "-l", "-n", "-e", "-i", "eth0", "ip6 proto 112"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("tcpdump");
    let text = String::from_utf8_lossy(&dump.stdout).to_string();
    let mut sources: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    sources.sort();
    sources.dedup();
    view += &format!("adverts from {sources:?}\n");
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    assert!(
        !ns.ip(&["-o", "link"])
            .unwrap_or_default()
            .contains("vrrp.61"),
        "{kind:?} left the VMAC"
    );
    view
}

#[test]
fn ipv6_vmac_as_keepalived() {
    let theirs = ipv6(Kind::Keepalived, "v6k");
    let ours = ipv6(Kind::Lvsd, "v6l");
    eprintln!("keepalived:\n{theirs}lvsd:\n{ours}");
    assert!(
        theirs.contains("adverts from [\"00:00:5e:00:02:3d\"]"),
        "{theirs}"
    );
    assert_eq!(theirs, ours, "keepalived (left), lvsd (right)");
}

/// With `net.ipv4.conf.all.rp_filter=1` (the kernel would apply it to the VMAC over
/// its own 0): keepalived moves it to `default` and the interfaces, sets `all` to 0,
/// and puts it back at stop. Returns rp_filter of all, default, eth0, lo and the VMAC
/// while running, then after stop.
fn rp_filter(kind: Kind, name: &str) -> (String, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    ns.sysctl("net.ipv4.conf.all.rp_filter", "1")
        .expect("sysctl");
    ns.sysctl("net.ipv4.conf.lo.rp_filter", "2")
        .expect("sysctl");
    let read = || {
        ["all", "default", "eth0", "lo", "vrrp.51"]
            .iter()
            .map(|dev| {
                let v = ns
                    .run(&["cat", &format!("/proc/sys/net/ipv4/conf/{dev}/rp_filter")])
                    .unwrap_or_else(|_| "-".into());
                format!("{dev}={} ", v.trim())
            })
            .collect::<String>()
    };
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  use_vmac\n".into();
    let mut d = Director::start(kind, ns, &conf(&[a], ""));
    wait_for(
        "the lone MASTER holds the VIP",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, "10.0.0.100"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let running = read();
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    (running, read())
}

#[test]
fn all_rp_filter_as_keepalived() {
    let theirs = rp_filter(Kind::Keepalived, "vpk");
    let ours = rp_filter(Kind::Lvsd, "vpl");
    eprintln!("keepalived: {theirs:?}\nlvsd: {ours:?}");
    assert!(
        theirs
            .0
            .starts_with("all=0 default=1 eth0=1 lo=2 vrrp.51=0"),
        "{theirs:?}"
    );
    assert_eq!(theirs, ours, "keepalived (left), lvsd (right)");
}

/// The VIPs' own VMACs side by side: `use_vmac_addr` (a VIP on eth1, an
/// IPv6 VIP of an IPv4 instance) and a VIP's own `use_vmac`, named with
/// `vmac_addr_prefix`, with `garp_extra_if 1` (without `all`: VMACs only).
/// Returns the host's view while running, the source MACs and addresses of
/// the gratuitous ARPs eth1 carried, and the view after stop.
fn own_vmacs(kind: Kind, name: &str) -> (String, String, String) {
    let topo = Topo::new(name);
    let ns = topo.director(0);
    for argv in [
        &[
            "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
        ][..],
        &["addr", "add", "10.1.0.1/24", "dev", "eth1"],
        &["link", "set", "eth1p", "up"],
        &["link", "set", "eth1", "up"],
    ] {
        ns.ip(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    }
    let view = |ns: &Netns| {
        let mut v = host_view(ns);
        v += &sysctls(ns, "eth1");
        for line in ns.ip(&["-o", "addr", "show"]).unwrap_or_default().lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let (Some(dev), Some(addr)) = (w.get(1), w.get(3)) {
                if addr.starts_with("10.1.0.10") || addr.starts_with("fd00::") {
                    v += &format!("holds {addr} on {dev}\n");
                }
            }
        }
        v
    };
    let before = view(ns);
    let mut a = Inst::new(150);
    a.state = "MASTER";
    a.extra = "  use_vmac_addr\n  garp_extra_if 1\n  virtual_ipaddress_excluded {\n    10.1.0.100/24 dev eth1\n    fd00::100/64\n  }\n".into();
    let mut b = Inst::new(150);
    b.name = "VI_2";
    b.state = "MASTER";
    b.vrid = 52;
    b.vips = vec!["10.1.0.102/24 dev eth1 use_vmac".into()];
    let dir = tempfile::tempdir().expect("tmp");
    let dump = Recorder::start(
        ns,
        &[
            "tcpdump", "-n", "-e", "-l", "-Q", "out", "-i", "eth1", "arp",
        ],
        dir.path().join("dump"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut d = Director::start(
        kind,
        ns,
        &conf(&[a, b], "global_defs {\n  vmac_addr_prefix va\n}\n"),
    );
    wait_for(
        "the lone MASTER holds every VIP",
        Duration::from_secs(10),
        &[&d],
        || {
            ["10.0.0.100", "10.1.0.100", "10.1.0.102", "fd00::100"]
                .iter()
                .all(|v| topo.holds(0, v))
        },
    );
    std::thread::sleep(Duration::from_millis(3_500));
    let running = view(ns);
    assert!(d.stop(), "{kind:?} did not stop cleanly:\n{}", d.log());
    // `SRC > ff:ff:ff:ff:ff:ff, ethertype ARP ... who-has A (...) tell A`:
    // each (source MAC, address) once, and how many there were.
    let text = dump.finish();
    let mut garps: Vec<String> = text
        .lines()
        .filter(|l| l.contains("who-has 10.1.0.10"))
        .filter_map(|l| {
            let src = l.split_whitespace().nth(1)?;
            let addr = l.split("tell ").nth(1)?.split(',').next()?;
            Some(format!("{src} {addr}\n"))
        })
        .collect();
    let count = garps.len();
    garps.sort();
    garps.dedup();
    let after = view(ns);
    // As for the instance's VMAC: keepalived leaves the base interface's ARP
    // settings at 1, lvsd puts them back.
    let expected = match kind {
        Kind::Lvsd => before,
        Kind::Keepalived => before
            .replace("eth1 ipv4.arp_ignore=0", "eth1 ipv4.arp_ignore=1")
            .replace("eth1 ipv4.arp_filter=0", "eth1 ipv4.arp_filter=1"),
    };
    assert_eq!(expected, after, "{kind:?} left state behind:\n{}", d.log());
    eprintln!("{kind:?}: {count} GARPs on eth1");
    (running, garps.concat(), format!("{count}"))
}

#[test]
fn own_vmacs_of_vips_as_keepalived() {
    let (theirs, their_garps, their_count) = own_vmacs(Kind::Keepalived, "ovk");
    let (ours, our_garps, our_count) = own_vmacs(Kind::Lvsd, "ovl");
    eprintln!("keepalived:\n{theirs}{their_garps}lvsd:\n{ours}{our_garps}");
    assert!(
        theirs.contains("link va.51@eth1"),
        "keepalived view:\n{theirs}"
    );
    assert_eq!(theirs, ours, "keepalived (left) and lvsd (right) differ");
    assert_eq!(
        their_garps, our_garps,
        "GARPs on eth1: keepalived (left), lvsd (right)"
    );
    // The takeover's bursts and one a second on each VMAC: the same, give or
    // take a second's round.
    let (a, b): (i64, i64) = (
        our_count.parse().unwrap_or(0),
        their_count.parse().unwrap_or(0),
    );
    assert!((a - b).abs() <= 3, "lvsd {a} GARPs on eth1, keepalived {b}");
}
