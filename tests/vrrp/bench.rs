//! Failover benchmark: an lvsd pair against a keepalived pair on the same
//! namespace topology, in one run, N trials each (default 10, env
//! `LVSD_BENCH_TRIALS`). Measures, from the master's death (crash: its host
//! leaves the LAN and its process group is SIGKILLed; graceful: SIGTERM), the time until the VIP is on
//! the backup and until the client's first answered ping (10 ms interval).
//!
//! Run: `cargo test -p lvsd --test vrrp bench_failover -- --ignored --nocapture`

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::harness::*;

const VIP: &str = "10.0.0.100";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Death {
    Crash,
    Graceful,
}

struct Trial {
    vip: Duration,
    answer: Option<Duration>,
}

fn stats(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "median {:7.1} ms  p90 {:7.1} ms  min {:7.1} ms  max {:7.1} ms  (n={})",
        pick(0.5),
        pick(0.9),
        v[0],
        v[v.len() - 1],
        v.len()
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn one_trial(topo: &Topo, kind: Kind, version: u8, death: Death) -> Trial {
    for i in 0..2 {
        let _ = topo
            .director(i)
            .ip(&["addr", "del", "10.0.0.100/24", "dev", "eth0"]);
    }
    let tweak = |i: &mut Inst| {
        if version == 3 {
            i.version = 3;
            i.advert_int = "0.1";
            i.auth = None;
            i.vrid = 53;
        }
    };
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    tweak(&mut ia);
    let mut ib = Inst::new(100);
    tweak(&mut ib);
    let mut da = Director::start(kind, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(kind, topo.director(1), &conf(&[ib], ""));
    wait_for("master up", Duration::from_secs(20), &[&da, &db], || {
        topo.holds(0, VIP) && !topo.holds(1, VIP)
    });
    // Let the backup hear a few adverts and the client's ARP settle.
    let settle = if version == 3 { 500 } else { 2000 };
    let pinger = Pinger::start_interval(topo.client(), VIP, "0.01");
    std::thread::sleep(Duration::from_millis(settle));
    let t_epoch = now_epoch();
    let t0 = Instant::now();
    match death {
        Death::Crash => {
            // The machine dies: off the LAN first, then the process group.
            topo.isolate(0);
            da.crash();
        }
        Death::Graceful => da.signal(Signal::SIGTERM),
    }
    let vip = time_until(Duration::from_secs(15), || topo.holds(1, VIP))
        .map(|_| t0.elapsed())
        .unwrap_or_else(|| panic!("no failover\n{}", db.log()));
    std::thread::sleep(Duration::from_millis(400));
    let report = pinger.finish();
    // Skip a reply already in flight at the moment of death (RTT < 1 ms here).
    let answer = report
        .first_answer_after(t_epoch + 0.02)
        .map(|t| Duration::from_secs_f64((t - t_epoch).max(0.0)));
    drop(db);
    drop(da);
    if death == Death::Crash {
        topo.rejoin(0);
    }
    Trial { vip, answer }
}

#[test]
#[ignore = "benchmark (minutes): run explicitly with --ignored --nocapture"]
fn bench_failover() {
    let trials: usize = std::env::var("LVSD_BENCH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let topo = Topo::new("vbn");
    println!("VRRP failover, {trials} trials per row, backup priority 100");
    for (version, advert) in [(2u8, 1.0f64), (3, 0.1)] {
        for death in [Death::Crash, Death::Graceful] {
            let skew = (256.0 - 100.0) * advert / 256.0;
            let bound = match death {
                Death::Crash => 3.0 * advert + skew,
                Death::Graceful => skew,
            } * 1000.0;
            let mut medians = Vec::new();
            for kind in [Kind::Keepalived, Kind::Lvsd] {
                let mut vip = Vec::new();
                let mut ans = Vec::new();
                for _ in 0..trials {
                    let t = one_trial(&topo, kind, version, death);
                    vip.push(t.vip.as_secs_f64() * 1000.0);
                    if let Some(a) = t.answer {
                        ans.push(a.as_secs_f64() * 1000.0);
                    }
                }
                println!(
                    "v{version} advert_int {advert} s {death:?} {kind:?}: RFC bound {bound:.1} ms\n  VIP on backup:   {}\n  first answer:    {}",
                    stats(vip.clone()),
                    stats(ans)
                );
                medians.push(median(vip));
            }
            println!(
                "  => median VIP time lvsd/keepalived = {:.3}; lvsd within 5% + 20 ms of the bound: {}",
                medians[1] / medians[0],
                medians[1] <= bound * 1.05 + 20.0
            );
        }
    }
}
