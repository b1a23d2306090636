//! Unicast VRRP across a router and the receive checks that go with it
//! (`unicast_ttl`, `unicast_peer ... min_ttl/max_ttl`, `check_unicast_src`),
//! and VRRPv3 checksum forms, side by side with keepalived 2.2.7.
//!
//! The routed topology: director 0 on 10.1.0.0/24, director 1 on
//! 10.2.0.0/24, a router namespace (ip_forward=1) between them, so a unicast
//! advert arrives with TTL 254.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lvsd::vrrp::packet::{Advert, AdvertType, Body, ChecksumMode, IPPROTO_VRRP, MCAST_V4};

use crate::harness::*;
use crate::netns::Netns;

const VIP: &str = "10.9.9.100";
const A: &str = "10.1.0.1";
const B: &str = "10.2.0.1";

/// Two directors on two subnets with a router between them.
struct Routed {
    // Directors first: dropping a namespace kills what runs in it.
    directors: [Netns; 2],
    _router: Netns,
}

impl Routed {
    fn new(name: &str) -> Routed {
        let router = Netns::new(&format!("{name}-r")).expect("router ns");
        router
            .sysctl("net.ipv4.ip_forward", "1")
            .expect("ip_forward");
        let director = |i: usize| {
            let ns = Netns::new(&format!("{name}-d{i}")).expect("director ns");
            let port = format!("r{i}");
            ns.ip(&[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &port,
                "netns",
                router.name(),
            ])
            .expect("veth");
            let net = i + 1;
            ns.ip(&["link", "set", "eth0", "up"]).expect("up");
            ns.ip(&["addr", "add", &format!("10.{net}.0.1/24"), "dev", "eth0"])
                .expect("addr");
            ns.ip(&["route", "add", "default", "via", &format!("10.{net}.0.254")])
                .expect("route");
            router.ip(&["link", "set", &port, "up"]).expect("up");
            router
                .ip(&["addr", "add", &format!("10.{net}.0.254/24"), "dev", &port])
                .expect("addr");
            ns
        };
        let directors = [director(0), director(1)];
        Routed {
            directors,
            _router: router,
        }
    }

    fn names(&self) -> Vec<String> {
        self.directors
            .iter()
            .map(|n| n.name().to_string())
            .collect()
    }

    fn holds(&self, i: usize) -> bool {
        holds(self.directors[i].name(), VIP)
    }
}

/// The instance on director `i` (0: 10.1.0.1, 1: 10.2.0.1), unicast to the
/// other; `peer_opts` follows the peer's address (`min_ttl 255`, ...).
fn routed_inst(i: usize, priority: u8, peer_opts: &str) -> Inst {
    let (me, peer) = if i == 0 { (A, B) } else { (B, A) };
    let mut inst = Inst::new(priority);
    if i == 0 {
        inst.state = "MASTER";
    }
    inst.vrid = 71;
    inst.vips = vec![format!("{VIP}/32")];
    inst.unicast = Some((me.into(), format!("{peer} {peer_opts}").trim_end().into()));
    inst
}

/// A (priority 150) and B (100) peer by unicast across the router: B hears
/// A's adverts (TTL 254) and stays backup, one master throughout; after A
/// crashes B takes over.
fn across_router(a: Kind, b: Kind, name: &str) {
    let net = Routed::new(name);
    let mut da = Director::start(a, &net.directors[0], &conf(&[routed_inst(0, 150, "")], ""));
    let db = Director::start(b, &net.directors[1], &conf(&[routed_inst(1, 100, "")], ""));
    wait_for("A master", Duration::from_secs(15), &[&da, &db], || {
        net.holds(0) && !net.holds(1)
    });
    // Sampled from here on: at start-up both may be master for an instant.
    let sampler = VipSampler::start(net.names(), VIP);
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !sampler.ever_on(1),
        "{b:?} did not hear {a:?}'s unicast adverts across the router\n{}\n{}",
        db.log(),
        da.log()
    );
    if b == Kind::Lvsd {
        let inst = db.instance("VI_1");
        assert_eq!(inst["state"], "Backup", "{inst}");
        assert_eq!(inst["master_addr"], A, "{inst}");
        assert!(inst["counters"]["adverts_rx"].as_u64() > Some(3), "{inst}");
        assert_eq!(inst["counters"]["dropped_ttl"], 0, "{inst}");
    }
    da.crash();
    sampler.set_alive(0, false);
    wait_for(
        "B to take over after A's crash",
        Duration::from_secs(6),
        &[&db],
        || net.holds(1),
    );
    sampler.assert_no_split_brain();
}

#[test]
fn unicast_lvsd_pair_across_a_router() {
    across_router(Kind::Lvsd, Kind::Lvsd, "urll");
}

#[test]
fn unicast_keepalived_master_across_a_router_to_lvsd() {
    across_router(Kind::Keepalived, Kind::Lvsd, "urkl");
}

#[test]
fn unicast_lvsd_master_across_a_router_to_keepalived() {
    across_router(Kind::Lvsd, Kind::Keepalived, "urlk");
}

/// `unicast_ttl` is what the peer sees before the router: lvsd master sends
/// with TTL 7, the lvsd backup accepts exactly 6 (`min_ttl 6 max_ttl 6`).
#[test]
fn unicast_ttl_is_sent_and_a_peer_ttl_range_accepts_it() {
    let net = Routed::new("urtl");
    let mut ia = routed_inst(0, 150, "");
    ia.extra = "  unicast_ttl 7\n".into();
    let da = Director::start(Kind::Lvsd, &net.directors[0], &conf(&[ia], ""));
    let ib = routed_inst(1, 100, "min_ttl 6 max_ttl 6");
    let db = Director::start(Kind::Lvsd, &net.directors[1], &conf(&[ib], ""));
    wait_for("A master", Duration::from_secs(15), &[&da, &db], || {
        net.holds(0) && !net.holds(1)
    });
    // Sampled from here on: at start-up both may be master for an instant.
    let sampler = VipSampler::start(net.names(), VIP);
    std::thread::sleep(Duration::from_secs(6));
    assert!(!sampler.ever_on(1), "B took the VIP\n{}", db.log());
    let inst = db.instance("VI_1");
    assert_eq!(inst["state"], "Backup", "{inst}");
    assert_eq!(inst["counters"]["dropped_ttl"], 0, "{inst}");
    sampler.assert_no_split_brain();
}

/// B's `unicast_peer { 10.1.0.1 min_ttl 255 }` refuses A's adverts, which
/// crossed a router (TTL 254): B becomes master as well. keepalived 2.2.7
/// does this ("TTL/HL 254 not in range 255 - 255"); lvsd does the same and
/// counts the drops. `check_unicast_src` with A not listed has the same
/// effect ("not a unicast peer").
#[test]
fn peer_ttl_range_and_check_unicast_src_drop_adverts_like_keepalived() {
    let net = Routed::new("urmt");
    let da = Director::start(
        Kind::Lvsd,
        &net.directors[0],
        &conf(&[routed_inst(0, 150, "")], ""),
    );
    wait_for("A master", Duration::from_secs(15), &[&da], || net.holds(0));
    let mut stranger = routed_inst(1, 100, "");
    // A listed under another address: A's adverts fail the source check.
    stranger.unicast = Some((B.into(), "10.1.0.9".into()));
    stranger.extra = "  check_unicast_src\n".into();
    let cases = [
        (
            routed_inst(1, 100, "min_ttl 255"),
            "not in range",
            "dropped_ttl",
        ),
        (stranger, "not a unicast peer", "dropped_unicast_src"),
    ];
    for (inst, keepalived_says, counter) in cases {
        for kind in [Kind::Keepalived, Kind::Lvsd] {
            let db = Director::start(
                kind,
                &net.directors[1],
                &conf(std::slice::from_ref(&inst), ""),
            );
            wait_for(
                &format!("{kind:?} B to refuse A's adverts and take the VIP ({counter})"),
                Duration::from_secs(15),
                &[&da, &db],
                || net.holds(1),
            );
            match kind {
                Kind::Keepalived => assert!(db.log().contains(keepalived_says), "{}", db.log()),
                Kind::Lvsd => {
                    let i = db.instance("VI_1");
                    assert!(i["counters"][counter].as_u64() > Some(0), "{i}");
                    assert_eq!(i["counters"]["adverts_rx"], 0, "{i}");
                }
            }
            drop(db);
            // The next B starts clean: no VIP left from this one.
            net.directors[1]
                .ip(&["addr", "flush", "dev", "eth0", "to", &format!("{VIP}/32")])
                .expect("flush VIP");
        }
    }
}

/// keepalived master with `unicast_ttl 1` on the same segment (TTL 1
/// cannot cross a router): the lvsd backup hears it, stays backup, and
/// never takes the VIP.
#[test]
fn keepalived_master_with_unicast_ttl_1_keeps_lvsd_backup() {
    let topo = Topo::new("uttl");
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.vrid = 72;
    ia.unicast = Some(("10.0.0.1".into(), "10.0.0.2".into()));
    ia.extra = "  unicast_ttl 1\n".into();
    let mut ib = Inst::new(100);
    ib.vrid = 72;
    ib.unicast = Some(("10.0.0.2".into(), "10.0.0.1".into()));
    let da = Director::start(Kind::Keepalived, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[ib], ""));
    let vip = "10.0.0.100";
    topo.wait_sole_holder("A master", 0, &[vip], Duration::from_secs(15), &[&da, &db]);
    // Sampled from here on: at start-up both may be master for an instant.
    let sampler = VipSampler::start(topo.director_names(), vip);
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !sampler.ever_on(1),
        "lvsd took the VIP from a TTL 1 master\n{}",
        db.log()
    );
    let inst = db.instance("VI_1");
    assert_eq!(inst["state"], "Backup", "{inst}");
    assert_eq!(inst["master_addr"], "10.0.0.1", "{inst}");
    assert_eq!(inst["counters"]["dropped_ttl"], 0, "{inst}");
    sampler.assert_no_split_brain();
}

/// Sends VRRPv3 adverts from `ns` to the VRRP group, every 100 ms, until dropped.
struct Injector {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Injector {
    fn start(ns: &Netns, src: Ipv4Addr, bytes: Vec<u8>) -> Injector {
        let path = format!("{}/{}", crate::netns::NETNS_RUN_DIR, ns.name());
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            // This thread alone moves into the namespace; its socket stays there.
            let f = std::fs::File::open(&path).expect("netns file");
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let s = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(i32::from(IPPROTO_VRRP))),
            )
            .expect("raw socket");
            s.set_multicast_ttl_v4(255).expect("ttl");
            s.set_multicast_if_v4(&src).expect("mcast if");
            s.bind(&std::net::SocketAddr::new(IpAddr::V4(src), 0).into())
                .expect("bind");
            let dst: socket2::SockAddr = std::net::SocketAddr::new(IpAddr::V4(MCAST_V4), 0).into();
            while !stop2.load(Ordering::Relaxed) {
                let _ = s.send_to(&bytes, &dst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Injector {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A VRRPv3 IPv4 advert (VRID 73, priority 200, 0.1 s) whose checksum leaves
/// out the pseudo-header, as Cisco and `v3_checksum_as_v2` peers send it.
fn message_only_v3(vip: &str) -> Vec<u8> {
    Advert {
        kind: AdvertType::Advertisement,
        vrid: 73,
        priority: 200,
        body: Body::V3 {
            reserved: 0,
            max_advert_int_cs: 10,
        },
        checksum: 0,
        addresses: vec![vip.parse().expect("vip")],
    }
    .to_bytes(ChecksumMode::MessageOnly)
}

/// A "master" (host 0) sends VRRPv3 adverts without the pseudo-header in
/// the checksum. keepalived 2.2.7 and lvsd discard them ("Invalid VRRPv3
/// checksum") and take the VIP; lvsd counts the drops. With
/// `v3_checksum_as_v2` lvsd accepts them and stays backup.
#[test]
fn v3_message_only_checksum_is_discarded_unless_configured() {
    let topo = Topo::new("ucks");
    let vip = "10.0.0.100";
    let _injector = Injector::start(
        topo.director(0),
        Ipv4Addr::new(10, 0, 0, 1),
        message_only_v3(vip),
    );
    let backup = |extra: &str| {
        let mut i = Inst::new(100);
        i.vrid = 73;
        i.version = 3;
        i.auth = None;
        i.advert_int = "0.1";
        i.extra = extra.into();
        i
    };
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let d = Director::start(kind, topo.director(1), &conf(&[backup("")], ""));
        wait_for(
            &format!("{kind:?} to discard the adverts and take the VIP"),
            Duration::from_secs(10),
            &[&d],
            || topo.holds(1, vip),
        );
        match kind {
            Kind::Keepalived => assert!(d.log().contains("Invalid VRRPv3 checksum"), "{}", d.log()),
            Kind::Lvsd => {
                // It took over within a few adverts: wait for a few more drops.
                wait_for("drops counted", Duration::from_secs(5), &[&d], || {
                    d.instance("VI_1")["counters"]["dropped_checksum_message_only"].as_u64()
                        > Some(3)
                });
                let i = d.instance("VI_1");
                let c = &i["counters"];
                assert_eq!(c["adverts_rx"], 0, "{i}");
                assert_eq!(i["conflicts"][0]["conflict"], "MessageOnlyChecksum", "{i}");
            }
        }
        drop(d);
        topo.director(1)
            .ip(&["addr", "flush", "dev", "eth0", "to", &format!("{vip}/32")])
            .expect("flush VIP");
    }
    let d = Director::start(
        Kind::Lvsd,
        topo.director(1),
        &conf(&[backup("  v3_checksum_as_v2\n")], ""),
    );
    wait_for(
        "lvsd to follow the master",
        Duration::from_secs(10),
        &[&d],
        || d.instance("VI_1")["master_addr"] == "10.0.0.1",
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(!topo.holds(1, vip), "{}", d.log());
    let i = d.instance("VI_1");
    assert_eq!(i["state"], "Backup", "{i}");
    assert!(
        i["counters"]["checksum_message_only_rx"].as_u64() > Some(10),
        "{i}"
    );
    assert_eq!(i["counters"]["dropped_checksum_message_only"], 0, "{i}");
}

/// VRRPv3 IPv4 unicast instance `vrid` 74 on the LAN, `old` appended.
fn old_csum_inst(i: usize, priority: u8, extra: &str) -> Inst {
    let (me, peer) = if i == 0 {
        ("10.0.0.1", "10.0.0.2")
    } else {
        ("10.0.0.2", "10.0.0.1")
    };
    let mut inst = Inst::new(priority);
    if i == 0 {
        inst.state = "MASTER";
    }
    inst.vrid = 74;
    inst.version = 3;
    inst.auth = None;
    inst.advert_int = "0.1";
    inst.unicast = Some((me.into(), peer.into()));
    inst.extra = extra.into();
    inst
}

/// keepalived's `old_unicast_checksum` (vrrp.c, OLD_CHKSUM_COMPAT, built
/// into Debian's 2.2.7): the master puts 224.0.0.18 in the pseudo-header of
/// its unicast adverts. A backup with no keyword detects it and follows; a
/// backup with `old_unicast_checksum never` discards it and takes the VIP.
/// lvsd and keepalived behave alike in both roles.
#[test]
fn old_unicast_checksum_detected_or_refused_like_keepalived() {
    let topo = Topo::new("uold");
    let vip = "10.0.0.100";
    for (a, b) in [
        (Kind::Keepalived, Kind::Lvsd),
        (Kind::Lvsd, Kind::Keepalived),
        (Kind::Keepalived, Kind::Keepalived),
    ] {
        let ia = old_csum_inst(0, 150, "  old_unicast_checksum\n");
        let da = Director::start(a, topo.director(0), &conf(&[ia], ""));
        wait_for("A master", Duration::from_secs(15), &[&da], || {
            topo.holds(0, vip)
        });
        // No keyword: the backup switches to the old form and follows A.
        let db = Director::start(b, topo.director(1), &conf(&[old_csum_inst(1, 100, "")], ""));
        let sampler = VipSampler::start(topo.director_names(), vip);
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !sampler.ever_on(1),
            "{b:?} did not accept {a:?}'s old unicast checksum\n{}\n{}",
            db.log(),
            da.log()
        );
        match b {
            Kind::Keepalived => assert!(
                db.log()
                    .contains("Setting unicast VRRPv3 checksum to old version"),
                "{}",
                db.log()
            ),
            Kind::Lvsd => {
                let i = db.instance("VI_1");
                assert!(
                    i["counters"]["checksum_old_unicast_rx"].as_u64() > Some(5),
                    "{i}"
                );
                assert_eq!(i["state"], "Backup", "{i}");
                assert!(db.log().contains("uses the old unicast VRRPv3 checksum"));
            }
        }
        drop(sampler);
        drop(db);
        // `never`: discarded, so B takes the VIP as well.
        let never = old_csum_inst(1, 100, "  old_unicast_checksum never\n");
        let db = Director::start(b, topo.director(1), &conf(&[never], ""));
        wait_for(
            &format!("{b:?} with `never` to refuse A's adverts"),
            Duration::from_secs(10),
            &[&da, &db],
            || topo.holds(1, vip),
        );
        match b {
            Kind::Keepalived => {
                assert!(db.log().contains("Invalid VRRPv3 checksum"), "{}", db.log())
            }
            Kind::Lvsd => {
                // The VIP is added before the state file is written: wait
                // for the file (CI once read it in between).
                let dropped =
                    || db.instance("VI_1")["counters"]["dropped_checksum"].as_u64() > Some(0);
                let seen = time_until(Duration::from_secs(5), dropped).is_some();
                assert!(seen, "{}", db.instance("VI_1"));
            }
        }
        drop(db);
        drop(da);
        for i in 0..2 {
            topo.director(i)
                .ip(&["addr", "flush", "dev", "eth0", "to", &format!("{vip}/32")])
                .expect("flush VIP");
        }
        assert!(!topo.holds(0, vip) && !topo.holds(1, vip), "VIP left over");
    }
}

/// IPv6 unicast on one LAN: keepalived 2.2.7 leaves the hop limit of its
/// IPv6 unicast adverts to the kernel (64) unless `unicast_ttl` is set, so
/// a receiver that wanted 255 would turn master too. lvsd accepts them and
/// stays backup; keepalived accepts lvsd's.
fn ipv6_unicast(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let vip6 = "fd00::100";
    let inst = |i: usize, priority: u8| {
        let (me, peer) = if i == 0 {
            ("fd00::1", "fd00::2")
        } else {
            ("fd00::2", "fd00::1")
        };
        let mut inst = Inst::new(priority);
        if i == 0 {
            inst.state = "MASTER";
        }
        inst.vrid = 75;
        inst.version = 3;
        inst.auth = None;
        inst.advert_int = "0.1";
        inst.vips = vec![format!("{vip6}/64")];
        inst.unicast = Some((me.into(), peer.into()));
        inst
    };
    let mut da = Director::start(a, topo.director(0), &conf(&[inst(0, 150)], ""));
    let db = Director::start(b, topo.director(1), &conf(&[inst(1, 100)], ""));
    topo.wait_sole_holder("A master", 0, &[vip6], Duration::from_secs(15), &[&da, &db]);
    // Sampled from here on: at start-up both may be master for an instant.
    let sampler = VipSampler::start(topo.director_names(), vip6);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !sampler.ever_on(1),
        "{b:?} ignored {a:?}'s IPv6 unicast adverts\n{}\n{}",
        db.log(),
        da.log()
    );
    if b == Kind::Lvsd {
        let i = db.instance("VI_1");
        assert_eq!(i["state"], "Backup", "{i}");
        assert_eq!(i["counters"]["dropped_ttl"], 0, "{i}");
    }
    da.crash();
    sampler.set_alive(0, false);
    wait_for("B to take over", Duration::from_secs(5), &[&db], || {
        topo.holds(1, vip6)
    });
    sampler.assert_no_split_brain();
}

#[test]
fn ipv6_unicast_keepalived_master_keeps_lvsd_backup() {
    ipv6_unicast(Kind::Keepalived, Kind::Lvsd, "u6kl");
}

#[test]
fn ipv6_unicast_lvsd_master_keeps_keepalived_backup() {
    ipv6_unicast(Kind::Lvsd, Kind::Keepalived, "u6lk");
}
