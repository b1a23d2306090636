//! A flood of broken adverts must not make lvsd's master miss its own
//! (issue #16; keepalived's master, measured earlier, lost most of its
//! adverts under ~85,000 broken adverts a second and its backup took over).
//! A client in the test's LAN sends VRRPv2 adverts for the pair's VRID with
//! a wrong checksum as fast as Python can, for a bounded time and count;
//! the backup must never take the VIP, the master's adverts (seen by
//! tcpdump on the backup) must keep their interval, and the drops must be
//! counted and reported rate-limited.

use std::time::Duration;

use crate::harness::*;

const FLOODER: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
# No multicast route in the namespace: send from the LAN address.
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[3]))
# VRRPv2 advert, VRID 51, priority 200, one address, simple auth, interval 1,
# checksum 0 (wrong), 10.0.0.100, 8 bytes of auth data.
pkt = bytes([0x21, 51, 200, 1, 1, 1, 0, 0]) + socket.inet_aton("10.0.0.100") + b"s3cret\0\0"
n, end, sent = int(sys.argv[1]), time.time() + float(sys.argv[2]), 0
while sent < n and time.time() < end:
    try:
        s.sendto(pkt, ("224.0.0.18", 0))
        sent += 1
    except OSError:
        pass
print(sent)
"#;

/// The master's adverts as the backup heard them (epoch seconds).
fn adverts_from_master(dump: &str) -> Vec<f64> {
    dump.lines()
        .filter(|l| l.contains("10.0.0.1 > 224.0.0.18") && l.contains("VRRP"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn a_flood_of_broken_adverts_does_not_delay_the_master() {
    let topo = Topo::new("fld");
    let mut a = Inst::new(150);
    a.state = "MASTER";
    let b = Inst::new(100);
    let da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[a], ""));
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[b], ""));
    topo.wait_sole_holder(
        "A is master",
        0,
        &["10.0.0.100"],
        Duration::from_secs(20),
        &[&da, &db],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let dump = Recorder::start(
        topo.director(1),
        &[
            "tcpdump", "-tt", "-n", "-l", "-i", "eth0", "ip", "proto", "112", "and", "src",
            "10.0.0.1",
        ],
        dir.path().join("dump"),
    );
    let sampler = VipSampler::start(topo.director_names(), "10.0.0.100");
    std::thread::sleep(Duration::from_secs(2));
    // At most 1,000,000 packets or 8 s.
    let out = topo
        .client()
        .run(&[
            "/usr/bin/python3",
            "-c",
            FLOODER,
            "1000000",
            "8",
            "10.0.0.3",
        ])
        .expect("flooder");
    let sent: f64 = out.trim().parse().unwrap_or(0.0);
    std::thread::sleep(Duration::from_secs(2));
    let heard = adverts_from_master(&dump.finish());
    let rate = sent / 8.0;
    eprintln!(
        "flood: {sent} broken adverts ({rate:.0}/s); the backup heard {} adverts",
        heard.len()
    );
    assert!(
        rate > 10_000.0,
        "the flood was too slow to test anything: {rate:.0}/s"
    );
    let worst = heard.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(heard.len() >= 10, "the master's adverts: {heard:?}");
    assert!(
        worst < 1.5,
        "an advert gap of {worst:.3} s under the flood: {heard:?}"
    );
    assert!(
        !sampler.ever_on(1),
        "the backup took the VIP during the flood"
    );
    // Counted, and reported at the default log level without a line per packet.
    let drops = da.instance("VI_1")["counters"]["dropped_checksum"]
        .as_u64()
        .unwrap_or(0)
        + db.instance("VI_1")["counters"]["dropped_checksum"]
            .as_u64()
            .unwrap_or(0);
    assert!(
        drops as f64 > sent * 0.5,
        "{drops} checksum drops counted of {sent} sent"
    );
    let lines = da.log().lines().filter(|l| l.contains("dropped")).count();
    assert!(
        (1..=20).contains(&lines),
        "{lines} drop lines in the master's log"
    );
}
