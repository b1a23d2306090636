//! Failover between real processes in network namespaces: lvsd ↔ lvsd and
//! lvsd ↔ keepalived 2.2.7, multicast and unicast, VRRPv2 and v3 (IPv4, IPv6).
//! Every test samples the VIP on both directors throughout and asserts it is
//! never on both in steady state.

use std::time::Duration;

use crate::harness::*;

const VIP: &str = "10.0.0.100";

/// RFC bound for a crash: 3 × advert_int + skew (priority 100, 1 s → 3.61 s).
fn crash_bound(advert_s: f64, backup_prio: u8) -> Duration {
    let skew = (256.0 - f64::from(backup_prio)) * advert_s / 256.0;
    Duration::from_secs_f64(3.0 * advert_s + skew)
}

fn skew(advert_s: f64, backup_prio: u8) -> Duration {
    Duration::from_secs_f64((256.0 - f64::from(backup_prio)) * advert_s / 256.0)
}

/// Master on host 0 (priority 150, state MASTER), backup on host 1 (100).
fn pair(topo: &Topo, a: Kind, b: Kind, tweak: impl Fn(&mut Inst)) -> (Director, Director) {
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    let mut ib = Inst::new(100);
    tweak(&mut ia);
    tweak(&mut ib);
    let da = Director::start(a, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(b, topo.director(1), &conf(&[ib], ""));
    (da, db)
}

/// A dies: off the LAN first when `isolate` (what the network sees of a
/// dead machine; a killed process alone leaves the VIP answering), then
/// SIGKILL of its whole process group. B must hold `vip` within the RFC
/// bound for `advert_s`; returns how long it took.
fn crash_a(
    topo: &Topo,
    (da, db): (&mut Director, &Director),
    sampler: &VipSampler,
    vip: &str,
    advert_s: f64,
    isolate: bool,
) -> Duration {
    if isolate {
        topo.isolate(0);
    }
    da.crash();
    sampler.set_alive(0, false);
    time_until(crash_bound(advert_s, 100) + SLACK, || topo.holds(1, vip))
        .unwrap_or_else(|| panic!("B did not take {vip} over after A's crash\n{}", db.log()))
}

/// The client's first answer after `at + in_flight` (skipping replies to
/// requests already on their way at `at`, epoch seconds) came less than
/// `within` seconds after `at`; prints the figures.
fn assert_client_answered(
    name: &str,
    what: &str,
    report: &PingReport,
    at: f64,
    in_flight: f64,
    within: f64,
) {
    let first = report.first_answer_after(at + in_flight);
    assert!(
        first.is_some_and(|f| f - at < within),
        "{name}: the client got no answer soon after {what}: {report:?}"
    );
    eprintln!(
        "{name}: first answer {:.3} s after {what}, {} of {} pings lost",
        first.unwrap_or(0.0) - at,
        report.lost(),
        report.sent
    );
}

fn crash_then_return(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let (mut da, db) = pair(&topo, a, b, |_| {});
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder(
        "VIP on the master",
        0,
        &[VIP],
        Duration::from_secs(15),
        &[&da, &db],
    );
    let pinger = Pinger::start(topo.client(), VIP);
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = now_epoch();
    let took = crash_a(&topo, (&mut da, &db), &sampler, VIP, 1.0, true);
    // The last advert left up to one interval before the crash.
    assert!(
        took >= crash_bound(1.0, 100) - Duration::from_secs(1),
        "took over too early: {took:?}"
    );
    std::thread::sleep(Duration::from_millis(800));
    eprintln!("{name}: VIP on backup after {took:?}");
    let report = pinger.finish();
    let within = took.as_secs_f64() + 1.5;
    assert_client_answered(name, "the crash", &report, killed_at, 0.2, within);
    // Return under preempt: the machine comes back (its crashed VIP still on
    // eth0) and the higher priority director takes over again.
    topo.rejoin(0);
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    let da2 = Director::start(a, topo.director(0), &conf(&[ia], ""));
    topo.wait_sole_holder(
        "the restarted master to preempt",
        0,
        &[VIP],
        crash_bound(1.0, 150) + SLACK * 2,
        &[&da2, &db],
    );
    sampler.set_alive(0, true);
    std::thread::sleep(Duration::from_secs(2));
    sampler.assert_no_split_brain();
}

// NOTE (measured): the crash above SIGKILLs the whole process group. keepalived's
// VRRP child survives a SIGKILL of its parent alone and still sends priority 0,
// which would make it a graceful stop.

#[test]
fn lvsd_pair_crash_failover_and_return_under_preempt() {
    crash_then_return(Kind::Lvsd, Kind::Lvsd, "vll");
}

#[test]
fn keepalived_master_crash_fails_over_to_lvsd_and_returns() {
    crash_then_return(Kind::Keepalived, Kind::Lvsd, "vkl");
}

#[test]
fn lvsd_master_crash_fails_over_to_keepalived_and_returns() {
    crash_then_return(Kind::Lvsd, Kind::Keepalived, "vlk");
}

fn graceful(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let (mut da, db) = pair(&topo, a, b, |_| {});
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder(
        "VIP on the master",
        0,
        &[VIP],
        Duration::from_secs(15),
        &[&da, &db],
    );
    let pinger = Pinger::start(topo.client(), VIP);
    std::thread::sleep(Duration::from_millis(500));
    let stopped_at = now_epoch();
    let t0 = std::time::Instant::now();
    let stopped_ok = da.stop();
    let took = time_until(skew(1.0, 100) + SLACK, || topo.holds(1, VIP));
    assert!(stopped_ok, "SIGTERM must exit 0\n{}", da.log());
    assert!(
        took.is_some(),
        "backup did not take over after priority 0\n{}",
        db.log()
    );
    assert!(!topo.holds(0, VIP), "stopped director must release the VIP");
    let handed_over = t0.elapsed();
    assert!(
        handed_over < crash_bound(1.0, 100),
        "graceful stop must beat the master-down timer (priority 0 → skew time)"
    );
    std::thread::sleep(Duration::from_millis(800));
    eprintln!("{name}: VIP on backup {handed_over:?} after SIGTERM");
    let report = pinger.finish();
    let within = handed_over.as_secs_f64() + 1.5;
    assert_client_answered(name, "SIGTERM", &report, stopped_at, 0.2, within);
    sampler.assert_no_split_brain();
}

#[test]
fn lvsd_pair_graceful_stop_hands_over_at_skew_time() {
    graceful(Kind::Lvsd, Kind::Lvsd, "vgl");
}

#[test]
fn keepalived_graceful_stop_hands_over_to_lvsd() {
    graceful(Kind::Keepalived, Kind::Lvsd, "vgk");
}

#[test]
fn lvsd_graceful_stop_hands_over_to_keepalived() {
    graceful(Kind::Lvsd, Kind::Keepalived, "vgm");
}

#[test]
fn nopreempt_keeps_the_lower_priority_master() {
    let topo = Topo::new("vnp");
    let mut ib = Inst::new(100);
    ib.nopreempt = true;
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[ib], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    wait_for("B master", Duration::from_secs(15), &[&db], || {
        topo.holds(1, VIP)
    });
    let mut ia = Inst::new(150);
    ia.nopreempt = true;
    let da = Director::start(Kind::Keepalived, topo.director(0), &conf(&[ia.clone()], ""));
    std::thread::sleep(crash_bound(1.0, 150) + Duration::from_secs(2));
    assert!(
        topo.holds(1, VIP) && !topo.holds(0, VIP),
        "nopreempt: B must stay master\n{}",
        da.log()
    );
    drop(da);
    // And lvsd as the higher priority nopreempt backup does not preempt either.
    let da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[ia], ""));
    std::thread::sleep(crash_bound(1.0, 150) + Duration::from_secs(2));
    assert!(
        topo.holds(1, VIP) && !topo.holds(0, VIP),
        "nopreempt: lvsd must not preempt\n{}",
        da.log()
    );
    assert_eq!(da.instance("VI_1")["state"], "Backup");
    sampler.assert_no_split_brain();
}

#[test]
fn preempt_delay_postpones_the_takeover() {
    let topo = Topo::new("vpd");
    let db = Director::start(
        Kind::Keepalived,
        topo.director(1),
        &conf(&[Inst::new(100)], ""),
    );
    let sampler = VipSampler::start(topo.director_names(), VIP);
    wait_for("B master", Duration::from_secs(15), &[&db], || {
        topo.holds(1, VIP)
    });
    let mut ia = Inst::new(150);
    ia.preempt_delay = Some(4);
    let t0 = std::time::Instant::now();
    let da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[ia], ""));
    topo.wait_sole_holder(
        "A to preempt after the delay",
        0,
        &[VIP],
        Duration::from_secs(20),
        &[&da, &db],
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "preempted after {took:?}, before preempt_delay"
    );
    sampler.assert_no_split_brain();
}

#[test]
fn failing_track_script_hands_over() {
    failing_track_script(Kind::Lvsd, Kind::Keepalived, "vts");
}

#[test]
fn failing_track_script_on_keepalived_hands_over_to_lvsd() {
    failing_track_script(Kind::Keepalived, Kind::Lvsd, "vtk");
}

/// A's track_script (weight −60) starts failing: its priority drops from 150
/// to 90, below B's 100, and B preempts.
fn failing_track_script(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let dir = tempfile::tempdir().expect("tmp");
    let ok = dir.path().join("ok");
    std::fs::write(&ok, "").expect("flag");
    let script = format!(
        "vrrp_script chk {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  fall 2\n  rise 2\n  weight -60\n}}\n",
        ok.display()
    );
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.extra = "  track_script {\n    chk\n  }\n".into();
    let da = Director::start(a, topo.director(0), &conf(&[ia], &script));
    let db = Director::start(b, topo.director(1), &conf(&[Inst::new(100)], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    std::fs::remove_file(&ok).expect("rm flag");
    topo.wait_sole_holder(
        "B to preempt the weakened master",
        1,
        &[VIP],
        Duration::from_secs(15),
        &[&da, &db],
    );
    if a == Kind::Lvsd {
        assert_eq!(da.instance("VI_1")["effective_priority"], 90);
    }
    sampler.assert_no_split_brain();
}

#[test]
fn insecure_and_missing_track_scripts_are_disabled_on_lvsd() {
    disabled_track_scripts(Kind::Lvsd, "vdl");
}

#[test]
fn insecure_and_missing_track_scripts_are_disabled_on_keepalived() {
    disabled_track_scripts(Kind::Keepalived, "vdk");
}

/// A (150) tracks two failing scripts with weight -60: one world-writable
/// (refused under enable_script_security), one that does not exist. keepalived
/// 2.2.7 disables both at load ("Disabling track script ... due to insecure",
/// "... since not found/accessible") and A stays master over B (100); lvsd
/// must do the same rather than run them and hand over.
fn disabled_track_scripts(a: Kind, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let topo = Topo::new(name);
    let dir = tempfile::tempdir().expect("tmp");
    let insecure = dir.path().join("insecure.sh");
    std::fs::write(&insecure, "#!/bin/sh\nexit 1\n").expect("script");
    std::fs::set_permissions(&insecure, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let scripts = format!(
        "vrrp_script insecure {{\n  script \"{}\"\n  interval 1\n  fall 1\n  weight -60\n}}\n\
         vrrp_script missing {{\n  script \"{}/missing.sh\"\n  interval 1\n  fall 1\n  weight -60\n}}\n",
        insecure.display(),
        dir.path().display()
    );
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.extra = "  track_script {\n    insecure\n    missing\n  }\n".into();
    let da = Director::start(a, topo.director(0), &conf(&[ia], &scripts));
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[Inst::new(100)], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    // Enough time for a running script to fail and B to preempt.
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        topo.sole_holder(0, &[VIP]),
        "A lost the VIP\n{}\n{}",
        da.log(),
        db.log()
    );
    if a == Kind::Lvsd {
        assert_eq!(
            da.instance("VI_1")["effective_priority"],
            150,
            "{}",
            da.log()
        );
        let log = da.log();
        assert!(log.contains("disabling vrrp_script insecure"), "{log}");
        assert!(log.contains("disabling vrrp_script missing"), "{log}");
    }
    sampler.assert_no_split_brain();
}

#[test]
fn multicast_group_lvsd_master_keepalived_backup() {
    multicast_group(Kind::Lvsd, Kind::Keepalived, "vgl");
}

#[test]
fn multicast_group_keepalived_master_lvsd_backup() {
    multicast_group(Kind::Keepalived, Kind::Lvsd, "vgk");
}

/// Both instances advertise to 224.0.0.19 (`mcast_dst_ip`), where keepalived
/// 2.2.7 sends and listens (its socket is bound to the group): one master,
/// the backup stays backup, and takes over when the master stops. lvsd used
/// to send to 224.0.0.18 whatever the config said: two masters.
fn multicast_group(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let group = "  mcast_dst_ip 224.0.0.19\n";
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.extra = group.into();
    let mut ib = Inst::new(100);
    ib.extra = group.into();
    let mut da = Director::start(a, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(b, topo.director(1), &conf(&[ib], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    std::thread::sleep(Duration::from_secs(5));
    assert!(topo.sole_holder(0, &[VIP]), "{}\n{}", da.log(), db.log());
    sampler.assert_no_split_brain();
    da.stop();
    topo.wait_sole_holder(
        "B takes over",
        1,
        &[VIP],
        Duration::from_secs(15),
        &[&da, &db],
    );
}

/// virtual_ipaddress options (peer, noprefixroute, home, -nodad, mngtmpaddr,
/// preferred_lft) end up on the interface as keepalived 2.2.7 puts them: the
/// same `ip addr` lines (without the lifetimes' running seconds) when each is
/// master alone on its own LAN. (keepalived ignores IPv6 addresses in an IPv4
/// instance's virtual_ipaddress; they go in virtual_ipaddress_excluded.)
#[test]
fn vip_options_match_keepalived() {
    let ours = [
        "10.0.0.100/24",
        "10.0.0.101/24",
        "10.0.0.102",
        "fd00::10/64",
        "fd00::11/64",
    ];
    let lines = |kind: Kind, name: &str| {
        let topo = Topo::new(name);
        let mut i = Inst::new(150);
        i.state = "MASTER";
        i.vips = vec![
            "10.0.0.100/24".into(),
            "10.0.0.101/24 noprefixroute".into(),
            "10.0.0.102 peer 10.0.0.202".into(),
        ];
        i.extra = "  virtual_ipaddress_excluded {\n    fd00::10/64 noprefixroute home -nodad preferred_lft 0\n    fd00::11/64 mngtmpaddr\n  }\n".into();
        let d = Director::start(kind, topo.director(0), &conf(&[i], ""));
        topo.wait_sole_holder("master", 0, &["10.0.0.100"], Duration::from_secs(15), &[&d]);
        std::thread::sleep(Duration::from_secs(1));
        let out = topo
            .director(0)
            .run(&["ip", "-o", "addr", "show", "dev", "eth0"])
            .expect("ip addr");
        let mut v: Vec<String> = out
            .lines()
            .filter_map(|l| {
                // Keep the address and its flags; drop the index, the name and the
                // lifetimes (their values count down).
                let words: Vec<String> = l
                    .split_whitespace()
                    .skip(2)
                    .map(|w| w.trim_end_matches('\\').to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                let addr = words.get(1)?;
                if !ours
                    .iter()
                    .any(|o| addr == o || addr.starts_with(&format!("{o}/")))
                {
                    return None;
                }
                let mut kept = Vec::new();
                let mut it = words.iter();
                while let Some(w) = it.next() {
                    match w.as_str() {
                        "valid_lft" | "preferred_lft" => {
                            let value = it.next().map(String::as_str).unwrap_or("");
                            // Only whether the address is deprecated counts.
                            if w == "preferred_lft" && value == "0sec" {
                                kept.push("preferred_lft 0".to_string());
                            }
                        }
                        _ => kept.push(w.clone()),
                    }
                }
                Some(kept.join(" "))
            })
            .collect();
        v.sort();
        (v, d.log())
    };
    let (k, klog) = lines(Kind::Keepalived, "vok");
    let (l, llog) = lines(Kind::Lvsd, "vol");
    assert_eq!(k.len(), 5, "{k:?}\n{klog}");
    assert_eq!(l, k, "lvsd\n{llog}");
}

#[test]
fn track_file_on_lvsd_moves_priority_and_faults() {
    track_file(Kind::Lvsd, Kind::Keepalived, "vfl");
}

#[test]
fn track_file_on_keepalived_moves_priority_and_faults() {
    track_file(Kind::Keepalived, Kind::Lvsd, "vfk");
}

/// A (150) tracks two files: `prio` (weight -2, created by init_file) and
/// `maint` (weight 0). 30 in `prio` lowers A to 90, below B's 100, and B
/// preempts; 0 gives A its 150 back and A preempts; 1 in `maint` puts A in
/// FAULT and B takes over; removing `maint` brings A back.
fn track_file(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let dir = tempfile::tempdir().expect("tmp");
    let prio = dir.path().join("prio");
    let maint = dir.path().join("maint");
    let files = format!(
        "track_file prio {{\n  file {}\n  weight -2\n  init_file 0 overwrite\n}}\ntrack_file maint {{\n  file {}\n  weight 0\n}}\n",
        prio.display(),
        maint.display()
    );
    std::fs::write(&prio, "7\n").expect("stale value, overwritten by init_file");
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.extra = "  track_file {\n    prio\n    maint\n  }\n".into();
    let da = Director::start(a, topo.director(0), &conf(&[ia], &files));
    let db = Director::start(b, topo.director(1), &conf(&[Inst::new(100)], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    let wait = |what: &str, holder: usize| {
        topo.wait_sole_holder(what, holder, &[VIP], Duration::from_secs(15), &[&da, &db])
    };
    wait("A master (init_file wrote 0)", 0);
    assert_eq!(std::fs::read_to_string(&prio).expect("prio").trim(), "0");
    // Written in place, as `echo 30 > file` does.
    std::fs::write(&prio, "30\n").expect("write prio");
    wait("B to preempt A lowered to 90", 1);
    if a == Kind::Lvsd {
        assert_eq!(da.instance("VI_1")["effective_priority"], 90);
        assert_eq!(da.instance("VI_1")["track_files"]["prio"], 30);
    }
    std::fs::write(&prio, "0\n").expect("write prio");
    wait("A back at 150 to preempt", 0);
    // Moved into place, as an atomic update does.
    let tmp = dir.path().join("maint.new");
    std::fs::write(&tmp, "1\n").expect("write maint");
    std::fs::rename(&tmp, &maint).expect("mv maint");
    wait("B while A is in FAULT", 1);
    if a == Kind::Lvsd {
        assert_eq!(da.instance("VI_1")["state"], "Fault");
    }
    std::fs::remove_file(&maint).expect("rm maint");
    wait("A back from FAULT", 0);
    sampler.assert_no_split_brain();
}

#[test]
fn unicast_keepalived_master_fails_over_to_lvsd() {
    unicast(Kind::Keepalived, Kind::Lvsd, "vuk");
}

#[test]
fn unicast_lvsd_master_fails_over_to_keepalived() {
    unicast(Kind::Lvsd, Kind::Keepalived, "vul");
}

/// Unicast adverts (`unicast_src_ip` + `unicast_peer`): the backup hears the
/// master's adverts, stays backup, and takes over after a crash.
fn unicast(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    ia.vrid = 54;
    ia.unicast = Some(("10.0.0.1".into(), "10.0.0.2".into()));
    let mut ib = Inst::new(100);
    ib.vrid = 54;
    ib.unicast = Some(("10.0.0.2".into(), "10.0.0.1".into()));
    let mut da = Director::start(a, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(b, topo.director(1), &conf(&[ib], ""));
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    // B hears A's unicast adverts and stays backup.
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !topo.holds(1, VIP),
        "{b:?} ignored {a:?}'s unicast adverts\n{}\n{}",
        db.log(),
        da.log()
    );
    crash_a(&topo, (&mut da, &db), &sampler, VIP, 1.0, false);
    sampler.assert_no_split_brain();
}

#[test]
fn vrrp3_ipv6_keepalived_master_fails_over_to_lvsd() {
    vrrp3_ipv6(Kind::Keepalived, Kind::Lvsd, "v6k");
}

#[test]
fn vrrp3_ipv6_lvsd_master_fails_over_to_keepalived() {
    vrrp3_ipv6(Kind::Lvsd, Kind::Keepalived, "v6l");
}

/// VRRPv3 over IPv6 at 0.1 s: the backup accepts the master's adverts
/// (checksum, hop limit, link-local source) and takes over after a crash.
fn vrrp3_ipv6(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let vip6 = "fd00::100";
    let tweak = |i: &mut Inst| {
        i.version = 3;
        i.advert_int = "0.1";
        i.auth = None;
        i.vrid = 60;
        i.vips = vec![format!("{vip6}/64")];
    };
    let (mut da, db) = pair(&topo, a, b, tweak);
    let sampler = VipSampler::start(topo.director_names(), vip6);
    topo.wait_sole_holder("A master", 0, &[vip6], Duration::from_secs(15), &[&da, &db]);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        !topo.holds(1, vip6),
        "backup ignored the master's v3 IPv6 adverts\n{}\n{}",
        db.log(),
        da.log()
    );
    // A client pings the VIP throughout: after the failover it must reach the
    // new master at once, which takes the backup's unsolicited neighbour
    // advertisement (else the client's stale neighbour entry needs ~5 s of
    // probing).
    let pinger = Pinger::start(topo.client(), vip6);
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = now_epoch();
    let took = crash_a(&topo, (&mut da, &db), &sampler, vip6, 0.1, true);
    std::thread::sleep(Duration::from_millis(1500));
    eprintln!("{name}: v3/IPv6 crash failover after {took:?}");
    let report = pinger.finish();
    let within = took.as_secs_f64() + 1.0;
    assert_client_answered(name, "the crash", &report, killed_at, 0.06, within);
    sampler.assert_no_split_brain();
}

#[test]
fn vrrp3_ipv4_lvsd_master_is_accepted_by_keepalived() {
    let topo = Topo::new("v3l");
    let tweak = |i: &mut Inst| {
        i.version = 3;
        i.advert_int = "0.1";
        i.auth = None;
        i.vrid = 53;
    };
    let (mut da, db) = pair(&topo, Kind::Lvsd, Kind::Keepalived, tweak);
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    // keepalived checks our pseudo-header checksum: it stays backup.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !topo.holds(1, VIP),
        "keepalived rejected lvsd's v3 adverts\n{}",
        db.log()
    );
    crash_a(&topo, (&mut da, &db), &sampler, VIP, 0.1, false);
    sampler.assert_no_split_brain();
}

#[test]
fn vrrp3_ipv4_interoperates_with_keepalived_checksums() {
    let topo = Topo::new("v3");
    let tweak = |i: &mut Inst| {
        i.version = 3;
        i.advert_int = "0.1";
        i.auth = None;
        i.vrid = 53;
    };
    let (mut da, db) = pair(&topo, Kind::Keepalived, Kind::Lvsd, tweak);
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    // The state file's counters lag by up to a second: wait for them.
    wait_for(
        "lvsd to count keepalived's pseudo-header checksums",
        Duration::from_secs(5),
        &[&da, &db],
        || {
            db.instance("VI_1")["counters"]["checksum_pseudo_header_rx"]
                .as_u64()
                .unwrap_or(0)
                > 5
        },
    );
    let inst = db.instance("VI_1");
    assert_eq!(inst["state"], "Backup", "{inst}");
    assert_eq!(inst["counters"]["checksum_message_only_rx"], 0);
    crash_a(&topo, (&mut da, &db), &sampler, VIP, 0.1, false);
    sampler.assert_no_split_brain();
    // lvsd timed its takeover: detection is the master-down interval
    // (3 × 0.1 s + skew ≈ 0.36 s), the other phases a few milliseconds.
    // (On a loaded machine lvsd may also have been master for a moment at
    // start, before it heard keepalived: that takeover has no detection.)
    let crash_takeover = || -> Option<serde_json::Value> {
        db.instance("VI_1")["takeovers"]["recent"]
            .as_array()
            .and_then(|r| r.last().cloned())
            .filter(|t| !t["detection"].is_null())
    };
    wait_for(
        "the takeover record",
        Duration::from_secs(3),
        &[&db],
        || crash_takeover().is_some(),
    );
    let t = &crash_takeover().unwrap_or_default();
    let phase = |name: &str| t[name].as_f64().unwrap_or(f64::NAN);
    assert!((0.3..0.6).contains(&phase("detection")), "{t}");
    for name in ["vips_added", "garp_sent", "notify_done"] {
        assert!((0.0..0.25).contains(&phase(name)), "{name}: {t}");
    }
    assert!(
        phase("vips_added") <= phase("garp_sent") && phase("garp_sent") <= phase("notify_done"),
        "{t}"
    );
}

#[test]
fn mismatched_auth_advert_int_and_vips_are_counted_and_reported() {
    let topo = Topo::new("vmm");
    let inst = |name: &'static str, vrid: u8, prio: u8, vip: &str| {
        let mut i = Inst::new(prio);
        i.name = name;
        i.vrid = vrid;
        i.vips = vec![vip.to_string()];
        i
    };
    // keepalived side: the reference configuration, master.
    let ka = [
        inst("VI_AUTH", 61, 200, "10.0.0.101/24"),
        inst("VI_INT", 62, 200, "10.0.0.102/24"),
        inst("VI_VIPS", 63, 200, "10.0.0.103/24"),
    ];
    // lvsd side: one mismatch per instance.
    let mut auth = inst("VI_AUTH", 61, 100, "10.0.0.101/24");
    auth.auth = Some("other");
    let mut int = inst("VI_INT", 62, 100, "10.0.0.102/24");
    int.advert_int = "2";
    let vips = inst("VI_VIPS", 63, 100, "10.0.0.113/24");
    let da = Director::start(Kind::Keepalived, topo.director(0), &conf(&ka, ""));
    let db = Director::start(Kind::Lvsd, topo.director(1), &conf(&[auth, int, vips], ""));
    wait_for(
        "lvsd to report all three conflicts",
        Duration::from_secs(15),
        &[&da, &db],
        || {
            let snap = db.snapshot();
            let Some(arr) = snap.as_array() else {
                return false;
            };
            arr.len() == 3
                && arr
                    .iter()
                    .all(|i| i["conflicts"].as_array().is_some_and(|c| !c.is_empty()))
        },
    );
    let a = db.instance("VI_AUTH");
    assert_eq!(a["conflicts"][0]["peer"], "10.0.0.1");
    assert_eq!(a["conflicts"][0]["conflict"], "AuthMismatch");
    assert!(a["counters"]["dropped_auth"].as_u64().unwrap_or(0) >= 1);
    let i = db.instance("VI_INT");
    assert_eq!(
        i["conflicts"][0]["conflict"]["AdvertIntervalMismatch"]["ours_cs"],
        200
    );
    assert_eq!(
        i["conflicts"][0]["conflict"]["AdvertIntervalMismatch"]["theirs_cs"],
        100
    );
    let v = db.instance("VI_VIPS");
    assert_eq!(
        v["conflicts"][0]["conflict"]["VipListMismatch"]["theirs"][0],
        "10.0.0.103"
    );
    // Logged once per peer, not per advert.
    std::thread::sleep(Duration::from_secs(2));
    let log = db.log();
    for conflict in ["AuthMismatch", "AdvertIntervalMismatch", "VipListMismatch"] {
        assert_eq!(log.matches(conflict).count(), 1, "{conflict}:\n{log}");
    }
    // The adverts were dropped, not obeyed, and every one is counted (each
    // conflict's count equals its drop counter). Observed with tcpdump:
    // keepalived 2.2.7 as master stops advertising VRIDs 61 and 63 after it
    // drops lvsd's mismatched adverts (it keeps the VIP), so one is enough.
    for (name, counter) in [
        ("VI_AUTH", "dropped_auth"),
        ("VI_INT", "dropped_advert_int"),
        ("VI_VIPS", "dropped_vips"),
    ] {
        let inst = db.instance(name);
        let dropped = inst["counters"][counter].as_u64().unwrap_or(0);
        assert!(dropped >= 1, "{name}: {inst}");
        assert_eq!(inst["conflicts"][0]["count"], dropped, "{name}: {inst}");
        assert_ne!(inst["master_addr"], "10.0.0.1", "{name} obeyed: {inst}");
    }
}

#[test]
fn sync_group_members_fail_together() {
    sync_group(Kind::Lvsd, Kind::Lvsd, "vsg");
}

#[test]
fn sync_group_on_lvsd_fails_over_together_to_keepalived() {
    sync_group(Kind::Lvsd, Kind::Keepalived, "vsl");
}

#[test]
fn sync_group_on_keepalived_fails_over_together_to_lvsd() {
    sync_group(Kind::Keepalived, Kind::Lvsd, "vsk");
}

/// A sync group of two instances; A's VI_1 tracks a link that goes down:
/// VI_1 goes to FAULT, VI_2 follows, and B takes both VIPs.
fn sync_group(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    // A tracked link on A (a veth pair: the host kernel may lack the dummy module).
    let host_a = topo.director(0);
    host_a
        .ip(&[
            "link", "add", "trk9", "type", "veth", "peer", "name", "trk9p",
        ])
        .expect("veth");
    host_a.ip(&["link", "set", "trk9", "up"]).expect("up");
    host_a.ip(&["link", "set", "trk9p", "up"]).expect("up");
    let group = "vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n}\n";
    let mk = |prio: u8, track: bool| {
        let mut i1 = Inst::new(prio);
        i1.state = if prio > 100 { "MASTER" } else { "BACKUP" };
        if track {
            i1.extra = "  track_interface {\n    trk9\n  }\n".into();
        }
        let mut i2 = Inst::new(prio);
        i2.name = "VI_2";
        i2.vrid = 52;
        i2.vips = vec!["10.0.0.101/24".into()];
        vec![i1, i2]
    };
    let da = Director::start(a, topo.director(0), &conf(&mk(150, true), group));
    let db = Director::start(b, topo.director(1), &conf(&mk(100, false), group));
    let s1 = VipSampler::start(topo.director_names(), VIP);
    let s2 = VipSampler::start(topo.director_names(), "10.0.0.101");
    let both = [VIP, "10.0.0.101"];
    topo.wait_sole_holder(
        "A master of both",
        0,
        &both,
        Duration::from_secs(15),
        &[&da, &db],
    );
    topo.director(0)
        .ip(&["link", "set", "trk9p", "down"])
        .expect("down");
    topo.wait_sole_holder(
        "B master of both",
        1,
        &both,
        Duration::from_secs(10),
        &[&da, &db],
    );
    if a == Kind::Lvsd {
        assert_eq!(da.instance("VI_2")["state"], "Fault");
    }
    s1.assert_no_split_brain();
    s2.assert_no_split_brain();
}

#[test]
fn healed_partition_settles_to_one_master_within_an_advert_interval() {
    healed_partition(Kind::Lvsd, Kind::Lvsd, "vhp");
}

#[test]
fn healed_partition_lvsd_steps_down_for_keepalived() {
    healed_partition(Kind::Keepalived, Kind::Lvsd, "vhk");
}

#[test]
fn healed_partition_keepalived_steps_down_for_lvsd() {
    healed_partition(Kind::Lvsd, Kind::Keepalived, "vhl");
}

/// B is cut off (its link stays up, so no FAULT) and turns master too; once
/// the LAN heals, B hears A's next advert and steps down: one master again
/// within one advert interval.
fn healed_partition(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let (da, db) = pair(&topo, a, b, |_| {});
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    topo.isolate(1);
    wait_for(
        "both masters while partitioned",
        Duration::from_secs(10),
        &[&da, &db],
        || topo.holds(0, VIP) && topo.holds(1, VIP),
    );
    topo.rejoin(1);
    let took = time_until(Duration::from_secs(1) + SLACK, || {
        topo.sole_holder(0, &[VIP])
    });
    let took = took.unwrap_or_else(|| panic!("still split after healing\n{}", db.log()));
    eprintln!("{name}: partition healed, one master after {took:?}");
    // One advert interval, plus the 10 ms polling and `ip` exec on a loaded box.
    assert!(
        took <= Duration::from_millis(1000 + 500),
        "one master only after {took:?}"
    );
    let sampler = VipSampler::start(topo.director_names(), VIP);
    std::thread::sleep(Duration::from_secs(3));
    sampler.assert_no_split_brain();
    assert!(sampler.sample_count() > 10);
}

#[test]
fn restart_after_a_crash_clears_the_stale_vip() {
    let topo = Topo::new("vst");
    let mut ia = Inst::new(150);
    ia.state = "MASTER";
    let mut da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[ia], ""));
    let db = Director::start(
        Kind::Keepalived,
        topo.director(1),
        &conf(&[Inst::new(100)], ""),
    );
    let sampler = VipSampler::start(topo.director_names(), VIP);
    topo.wait_sole_holder("A master", 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    // SIGKILL of lvsd's process group: nothing removes the VIP from eth0.
    crash_a(&topo, (&mut da, &db), &sampler, VIP, 1.0, false);
    assert!(topo.holds(0, VIP), "a crash leaves the VIP behind");
    // Restarted (now below the peer, so it stays backup), lvsd clears it.
    let da = Director::start(Kind::Lvsd, topo.director(0), &conf(&[Inst::new(50)], ""));
    wait_for(
        "stale VIP cleared on A",
        Duration::from_secs(5),
        &[&da, &db],
        || !topo.holds(0, VIP),
    );
    sampler.set_alive(0, true);
    assert!(
        da.log().contains("removed stale VIP 10.0.0.100/24"),
        "{}",
        da.log()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(topo.holds(1, VIP) && !topo.holds(0, VIP));
    assert_eq!(da.instance("VI_1")["state"], "Backup");
    sampler.assert_no_split_brain();
}

#[test]
fn notify_scripts_get_keepalived_arguments() {
    let topo = Topo::new("vnt");
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("notify.log");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let s = script.display();
    let mut i = Inst::new(150);
    i.extra = format!(
        "  notify_master \"{s} to-master\"\n  notify_backup \"{s} to-backup\"\n  notify_stop \"{s} to-stop\"\n  notify \"{s} any\"\n"
    );
    let mut d = Director::start(Kind::Lvsd, topo.director(0), &conf(&[i], ""));
    wait_for("master", Duration::from_secs(15), &[&d], || {
        topo.holds(0, VIP)
    });
    assert!(d.stop(), "exit 0 on SIGTERM");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("notify lines", Duration::from_secs(5), &[&d], || {
        read().contains("any INSTANCE VI_1 STOP")
    });
    let text = read();
    for line in [
        "to-backup",
        "any INSTANCE VI_1 BACKUP 150",
        "to-master",
        "any INSTANCE VI_1 MASTER 150",
        "to-stop",
        "any INSTANCE VI_1 STOP 150",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn vip_options_and_excluded_addresses_are_applied_and_released() {
    let topo = Topo::new("vvo");
    let mut i = Inst::new(255);
    i.state = "MASTER";
    i.vips = vec!["10.0.0.100/24 brd 10.0.0.255 dev eth0 label eth0:vip scope global".into()];
    i.extra = "  virtual_ipaddress_excluded {\n    10.0.1.100/24\n  }\n".into();
    let mut d = Director::start(Kind::Lvsd, topo.director(0), &conf(&[i], ""));
    wait_for(
        "address owner master at once",
        Duration::from_secs(5),
        &[&d],
        || topo.holds(0, VIP) && topo.holds(0, "10.0.1.100"),
    );
    let out = topo
        .director(0)
        .ip(&["-o", "-4", "addr", "show", "dev", "eth0"])
        .expect("ip addr");
    let line = out
        .lines()
        .find(|l| l.contains("10.0.0.100/24"))
        .expect("VIP line");
    assert!(line.contains("brd 10.0.0.255"), "{line}");
    assert!(line.contains("eth0:vip"), "{line}");
    assert!(line.contains("scope global"), "{line}");
    assert!(d.stop());
    assert!(
        !topo.holds(0, VIP) && !topo.holds(0, "10.0.1.100"),
        "released on stop"
    );
}

#[test]
fn run_reports_config_errors_and_manages_its_pid_file() {
    let topo = Topo::new("vcl");
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.conf");
    std::fs::write(
        &bad,
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 300\n}\n",
    )
    .expect("conf");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["run", "-P", "-f"])
        .arg(&bad)
        .output()
        .expect("run lvsd");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf:3"), "{err}");

    let good = dir.path().join("good.conf");
    std::fs::write(&good, conf(&[Inst::new(100)], "")).expect("conf");
    let pid = dir.path().join("lvsd.pid");
    let mut guard = topo
        .director(0)
        .spawn(
            &[
                env!("CARGO_BIN_EXE_lvsd"),
                "run",
                "-P",
                "-f",
                &good.to_string_lossy(),
                "-p",
                &pid.to_string_lossy(),
            ],
            std::process::Stdio::null(),
            std::process::Stdio::null(),
        )
        .expect("spawn");
    wait_for("pid file", Duration::from_secs(5), &[], || {
        std::fs::read_to_string(&pid).is_ok_and(|p| p.trim() == guard.pid().to_string())
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(guard.pid()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    );
    let status = guard.wait_timeout(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "SIGINT exits 0");
    assert!(!pid.exists(), "pid file removed on exit");
}

#[test]
fn virtual_routes_follow_mastership() {
    let topo = Topo::new("vrt");
    let mut i = Inst::new(255);
    i.state = "MASTER";
    i.extra = "  virtual_routes {\n    192.168.77.0/24 via 10.0.0.254 dev eth0\n    blackhole 192.168.78.0/24\n    192.168.79.0/24 dev eth0 table 100 metric 7\n  }\n".into();
    let mut d = Director::start(Kind::Lvsd, topo.director(0), &conf(&[i], ""));
    let ns = topo.director(0);
    let routes = || {
        let main = ns.ip(&["route", "show"]).unwrap_or_default();
        let t100 = ns
            .ip(&["route", "show", "table", "100"])
            .unwrap_or_default();
        format!("{main}{t100}")
    };
    wait_for(
        "routes added as master",
        Duration::from_secs(5),
        &[&d],
        || {
            let r = routes();
            r.contains("192.168.77.0/24 via 10.0.0.254 dev eth0")
                && r.contains("blackhole 192.168.78.0/24")
                && r.contains("192.168.79.0/24 dev eth0")
        },
    );
    let t100 = ns
        .ip(&["route", "show", "table", "100"])
        .expect("table 100");
    assert!(
        t100.contains("192.168.79.0/24 dev eth0") && t100.contains("metric 7"),
        "{t100}"
    );
    assert!(d.stop());
    let r = routes();
    assert!(!r.contains("192.168.7"), "routes removed on stop:\n{r}");
}

#[test]
fn scripts_run_as_the_configured_script_user() {
    let topo = Topo::new("vsu");
    let dir = tempfile::Builder::new()
        .prefix(&format!("lvsd-vsu-{}-", std::process::id()))
        .tempdir()
        .expect("tmp");
    // Writable by the unprivileged users the scripts run as.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let track_out = dir.path().join("track.uid");
    let notify_out = dir.path().join("notify.uid");
    let extra = format!(
        "vrrp_script chk {{\n  script \"/bin/sh -c 'id -un > {}'\"\n  interval 1\n  user daemon\n}}\n",
        track_out.display()
    );
    let master_out = dir.path().join("master.uid");
    let mut i = Inst::new(150);
    i.extra = format!(
        "  track_script {{\n    chk\n  }}\n  notify \"/bin/sh -c 'id -un > {}'\"\n  notify_master \"/bin/sh -c 'id -un > {}'\" daemon\n",
        notify_out.display(),
        master_out.display()
    );
    // global_defs (from `conf`) says `script_user root`: override it.
    let text = conf(&[i], &extra).replace("script_user root", "script_user nobody");
    let d = Director::start(Kind::Lvsd, topo.director(0), &text);
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    wait_for(
        "both scripts to run",
        Duration::from_secs(10),
        &[&d],
        || {
            !read(&track_out).is_empty()
                && !read(&notify_out).is_empty()
                && !read(&master_out).is_empty()
        },
    );
    assert_eq!(read(&track_out).trim(), "daemon", "vrrp_script's own user");
    assert_eq!(read(&notify_out).trim(), "nobody", "global script_user");
    assert_eq!(
        read(&master_out).trim(),
        "daemon",
        "notify_master's own user"
    );
}

/// keepalived 2.2.7 cannot set the script's uid ("Unable to set uid/gid for
/// script"), drops the vrrp_script ("track script chk not found, ignoring")
/// and runs the instance without it; so does lvsd, with a warning.
#[test]
fn an_unknown_script_user_disables_the_script_as_in_keepalived() {
    let topo = Topo::new("vsx");
    let extra =
        "vrrp_script chk {\n  script \"/bin/false\"\n  user no_such_user_lvsd\n  weight 0\n}\n";
    let mut i = Inst::new(150);
    i.state = "MASTER";
    i.extra = "  track_script {\n    chk\n  }\n".into();
    let d = Director::start(Kind::Lvsd, topo.director(0), &conf(&[i], extra));
    topo.wait_sole_holder(
        "master despite the failing script",
        0,
        &[VIP],
        Duration::from_secs(15),
        &[&d],
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(topo.sole_holder(0, &[VIP]), "{}", d.log());
    let log = d.log();
    assert!(
        log.contains("disabling vrrp_script chk") && log.contains("no_such_user_lvsd"),
        "{log}"
    );
}

#[test]
fn dont_release_vrrp_leaves_the_vips_on_stop() {
    let topo = Topo::new("vdr");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("keepalived.conf");
    let mut i = Inst::new(255);
    i.state = "MASTER";
    std::fs::write(&path, conf(&[i], "")).expect("conf");
    let mut guard = topo
        .director(0)
        .spawn(
            &[
                env!("CARGO_BIN_EXE_lvsd"),
                "run",
                "-P",
                "--dont-release-vrrp",
                "-f",
                &path.to_string_lossy(),
            ],
            std::process::Stdio::null(),
            std::process::Stdio::null(),
        )
        .expect("spawn");
    wait_for("address owner master", Duration::from_secs(5), &[], || {
        topo.holds(0, VIP)
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(guard.pid()).expect("pid")),
        nix::sys::signal::Signal::SIGTERM,
    );
    let status = guard.wait_timeout(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "SIGTERM exits 0");
    assert!(topo.holds(0, VIP), "--dont-release-vrrp keeps the VIP");
}

#[test]
fn vrrp_startup_delay_holds_the_instances_back() {
    let topo = Topo::new("vsd");
    let mut i = Inst::new(255);
    i.state = "MASTER";
    let t0 = std::time::Instant::now();
    let d = Director::start(
        Kind::Lvsd,
        topo.director(0),
        &conf(&[i], "global_defs {\n  vrrp_startup_delay 2\n}\n"),
    );
    wait_for(
        "address owner master",
        Duration::from_secs(10),
        &[&d],
        || topo.holds(0, VIP),
    );
    let took = t0.elapsed();
    assert!(took >= Duration::from_secs(2), "master after {took:?}");
}

#[test]
fn vrrp2_ipv6_keepalived_master_fails_over_to_lvsd() {
    vrrp2_ipv6(Kind::Keepalived, Kind::Lvsd, "v26k");
}

#[test]
fn vrrp2_ipv6_lvsd_master_fails_over_to_keepalived() {
    vrrp2_ipv6(Kind::Lvsd, Kind::Keepalived, "v26l");
}

/// `version 2` on an IPv6 instance: keepalived 2.2.7 sends VRRPv2 over IPv6
/// (no authentication data, pseudo-header checksum). lvsd used to switch such
/// an instance to version 3, which a keepalived peer drops: both masters.
fn vrrp2_ipv6(a: Kind, b: Kind, name: &str) {
    let topo = Topo::new(name);
    let vip6 = "fd00::102";
    let tweak = |i: &mut Inst| {
        i.version = 2;
        i.advert_int = "1";
        i.auth = None;
        i.vrid = 62;
        i.vips = vec![format!("{vip6}/64")];
    };
    let (mut da, db) = pair(&topo, a, b, tweak);
    let sampler = VipSampler::start(topo.director_names(), vip6);
    topo.wait_sole_holder("A master", 0, &[vip6], Duration::from_secs(15), &[&da, &db]);
    // Longer than the backup's master-down interval (3 × 1 s + skew).
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        !topo.holds(1, vip6),
        "backup ignored the master's VRRPv2 IPv6 adverts\n{}\n{}",
        db.log(),
        da.log()
    );
    crash_a(&topo, (&mut da, &db), &sampler, vip6, 1.0, false);
    sampler.assert_no_split_brain();
}

/// keepalived runs a configuration without virtual servers whole (no `-P`)
/// on a kernel without IPVS: it starts no checker process. So does lvsd:
/// VRRP only, saying why, instead of ending on the missing IPVS. (The host
/// kernel these tests run on has no IPVS; on one with IPVS both simply
/// run.) A reload that adds a virtual server then is refused by the
/// kernel, and lvsd says so and keeps the VIP.
#[test]
fn a_vrrp_only_config_runs_whole_without_ipvs_as_keepalived() {
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let topo = Topo::new(&format!("noipvs{}", kind as u8));
        let mut master = Inst::new(150);
        master.state = "MASTER";
        let config = conf(&[master], "");
        let d = Director::start_whole(kind, topo.director(0), &config);
        wait_for(
            &format!("{kind:?} to take the VIP"),
            Duration::from_secs(15),
            &[&d],
            || topo.holds(0, "10.0.0.100"),
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            topo.holds(0, "10.0.0.100"),
            "{kind:?} let the VIP go:\n{}",
            d.log()
        );
        assert!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid() as i32), None).is_ok(),
            "{kind:?} ended:\n{}",
            d.log()
        );
        let has_ipvs = std::fs::read_to_string("/proc/net/ip_vs").is_ok();
        if kind == Kind::Lvsd && !has_ipvs {
            assert!(
                d.log()
                    .contains("no virtual servers are configured, so VRRP runs without it"),
                "{}",
                d.log()
            );
            d.reload(&format!(
                "{config}virtual_server 10.0.0.100 80 {{\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server 10.0.0.7 80 {{\n  }}\n}}\n"
            ));
            wait_for(
                "the reload's IPVS error",
                Duration::from_secs(15),
                &[&d],
                || d.log().contains("connecting to IPVS"),
            );
            std::thread::sleep(Duration::from_secs(2));
            assert!(topo.holds(0, "10.0.0.100"), "{}", d.log());
            assert!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(d.pid() as i32), None).is_ok(),
                "lvsd ended on the reload:\n{}",
                d.log()
            );
        }
    }
}
