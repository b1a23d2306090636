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
start = time.time()
n, end, sent = int(sys.argv[1]), start + float(sys.argv[2]), 0
while sent < n and time.time() < end:
    try:
        s.sendto(pkt, ("224.0.0.18", 0))
        sent += 1
    except OSError:
        pass
print(sent, start, time.time())
"#;

/// The longest time the test's own thread waited for a 20 ms sleep: when the
/// host itself stalls (a CI machine paused under its hypervisor), every
/// process stops, lvsd included, and a gap says nothing about lvsd.
struct StallWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Duration>,
}

impl StallWatch {
    fn start() -> StallWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut last = std::time::Instant::now();
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let now = std::time::Instant::now();
                worst = worst.max(now - last);
                last = now;
            }
            worst
        });
        StallWatch { stop, thread }
    }

    fn finish(self) -> Duration {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(Duration::MAX)
    }
}

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
    // A round whose host stalled (the test's own thread slept for more than
    // 0.5 s where it asked for 20 ms) is repeated, up to three rounds: CI once
    // saw a 17 s gap in a round that itself took 25 s instead of 12.
    let mut sent = 0.0;
    for round in 1..=3 {
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
        let stalls = StallWatch::start();
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
        let fields: Vec<f64> = out
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [n, start, end] = fields[..] else {
            panic!("the flooder's output: {out:?}")
        };
        sent = n;
        std::thread::sleep(Duration::from_secs(2));
        let stalled = stalls.finish();
        let heard = adverts_from_master(&dump.finish());
        let rate = sent / (end - start).max(0.001);
        eprintln!(
            "flood round {round}: {sent} broken adverts in {:.2} s ({rate:.0}/s); the backup heard {} adverts; \
             the test's longest sleep overrun {stalled:?}",
            end - start,
            heard.len()
        );
        if stalled > Duration::from_millis(500) && round < 3 {
            eprintln!(
                "the host stalled for {stalled:?}: this round says nothing about lvsd; again"
            );
            continue;
        }
        assert!(
            rate > 10_000.0,
            "the flood was too slow to test anything: {rate:.0}/s"
        );
        // The gaps that matter: from the advert before the flood to the one after.
        let around: Vec<f64> = heard
            .iter()
            .copied()
            .filter(|t| *t > start - 1.5 && *t < end + 1.5)
            .collect();
        let worst = around.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        assert!(
            around.len() as f64 >= (end - start).floor(),
            "the master's adverts: {heard:?} (flood from {start:.3} to {end:.3})"
        );
        assert!(
            worst < 1.5,
            "an advert gap of {worst:.3} s under the flood: {heard:?} (flood from {start:.3} to \
             {end:.3}; the backup {} the VIP)",
            if sampler.ever_on(1) {
                "took"
            } else {
                "never took"
            }
        );
        assert!(
            !sampler.ever_on(1),
            "the backup took the VIP during the flood"
        );
        break;
    }
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
