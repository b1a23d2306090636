//! SIGHUP reload of a running lvsd master in network namespaces, against a
//! real keepalived 2.2.7 backup: VIPs sampled throughout and watched with
//! `ip monitor address` on the master, lvsd's own counters read back.

use std::time::Duration;

use crate::harness::*;

const VIP: &str = "10.0.0.100";
const VIP2: &str = "10.0.0.101";

/// Both sides tolerate a VIP list that differs from their own (the master's
/// list changes under the backup's feet while only the master is reloaded).
const SKIP_ADDR_CHECK: &str = "  skip_check_adv_addr\n";

fn master(name: &'static str, vrid: u8, vip: &str) -> Inst {
    let mut i = Inst::new(150);
    i.name = name;
    i.state = "MASTER";
    i.vrid = vrid;
    i.vips = vec![format!("{vip}/24")];
    i.extra = SKIP_ADDR_CHECK.into();
    i
}

fn backup(name: &'static str, vrid: u8, vip: &str) -> Inst {
    let mut i = master(name, vrid, vip);
    i.state = "BACKUP";
    i.priority = 100;
    i
}

fn counter(d: &Director, inst: &str, name: &str) -> u64 {
    d.instance(inst)["counters"][name]
        .as_u64()
        .unwrap_or(u64::MAX)
}

fn wait_master_of(topo: &Topo, da: &Director, db: &Director, vips: &[&str]) {
    let what = "lvsd master holding its VIPs";
    topo.wait_sole_holder(what, 0, vips, Duration::from_secs(15), &[da, db]);
}

/// lvsd as master with `instances` on host 0, keepalived as backup of the
/// same instances on host 1, once lvsd holds `vips`.
fn lvsd_master_keepalived_backup(
    topo: &Topo,
    instances: &[Inst],
    script: &str,
    vips: &[&str],
) -> (Director, Director) {
    let backups: Vec<Inst> = instances
        .iter()
        .map(|i| {
            let mut b = i.clone();
            b.state = "BACKUP";
            b.priority = 100;
            b.extra = SKIP_ADDR_CHECK.into();
            b
        })
        .collect();
    let da = Director::start(Kind::Lvsd, topo.director(0), &conf(instances, script));
    let db = Director::start(Kind::Keepalived, topo.director(1), &conf(&backups, ""));
    wait_master_of(topo, &da, &db, vips);
    (da, db)
}

#[test]
fn sighup_adding_a_vip_keeps_the_old_one_and_the_mastership() {
    let topo = Topo::new("rla");
    let mut ia = master("VI_1", 51, VIP);
    let (da, db) = lvsd_master_keepalived_backup(&topo, &[ia.clone()], "", &[VIP]);
    let old = VipSampler::start(topo.director_names(), VIP);
    let new = VipSampler::start(topo.director_names(), VIP2);
    let monitor = AddrMonitor::start(topo.director(0).name());

    ia.vips.push(format!("{VIP2}/24"));
    da.reload(&conf(&[ia], ""));
    wait_for(
        "the added VIP on the master",
        Duration::from_secs(10),
        &[&da, &db],
        || topo.holds(0, VIP2),
    );
    // A few advert intervals for the backup to react if it would.
    std::thread::sleep(Duration::from_secs(6));

    assert!(old.sample_count() > 20, "too few samples");
    assert_eq!(old.missing_on(0), 0, "the old VIP left the master");
    assert!(
        monitor.deleted(VIP).is_empty(),
        "the old VIP was deleted and re-added:\n{}",
        monitor.text()
    );
    assert!(!old.ever_on(1) && !new.ever_on(1), "the backup took a VIP");
    assert!(da.log().contains("VI_1 kept in place"), "{}", da.log());
    assert_eq!(da.instance("VI_1")["state"], "Master");
    assert_eq!(counter(&da, "VI_1", "priority_zero_tx"), 0);
    assert_eq!(counter(&da, "VI_1", "became_master"), 1);
    assert_eq!(counter(&da, "VI_1", "released_master"), 0);
    assert!(!db.log().contains("Entering MASTER STATE"), "{}", db.log());
}

#[test]
fn sighup_lowering_the_priority_hands_over_by_the_protocol_without_priority_zero() {
    let topo = Topo::new("rlb");
    let mut ia = master("VI_1", 51, VIP);
    let (da, db) = lvsd_master_keepalived_backup(&topo, &[ia.clone()], "", &[VIP]);
    let sampler = VipSampler::start(topo.director_names(), VIP);

    ia.priority = 50;
    da.reload(&conf(&[ia], ""));
    // keepalived (100, preempt) sees adverts of priority 50 and takes over.
    let what = "keepalived preempting the lowered master";
    topo.wait_sole_holder(what, 1, &[VIP], Duration::from_secs(10), &[&da, &db]);
    wait_for(
        "lvsd in BACKUP",
        Duration::from_secs(5),
        &[&da, &db],
        || da.instance("VI_1")["state"] == "Backup",
    );
    assert_eq!(da.instance("VI_1")["effective_priority"], 50);
    assert_eq!(counter(&da, "VI_1", "priority_zero_tx"), 0);
    assert_eq!(counter(&da, "VI_1", "became_master"), 1);
    sampler.assert_no_split_brain();
}

#[test]
fn sighup_removing_an_instance_releases_its_vip_only() {
    let topo = Topo::new("rlc");
    let ia = master("VI_1", 51, VIP);
    let ia2 = master("VI_2", 52, VIP2);
    let (da, db) = lvsd_master_keepalived_backup(&topo, &[ia.clone(), ia2], "", &[VIP, VIP2]);
    let kept = VipSampler::start(topo.director_names(), VIP);
    let monitor = AddrMonitor::start(topo.director(0).name());

    da.reload(&conf(&[ia], ""));
    // Released with priority 0: keepalived takes it within its skew time.
    wait_for(
        "the removed instance's VIP on keepalived only",
        Duration::from_secs(5),
        &[&da, &db],
        || topo.holds(1, VIP2) && !topo.holds(0, VIP2),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(kept.missing_on(0), 0, "the kept instance's VIP left");
    assert!(!kept.ever_on(1), "the backup took the kept instance's VIP");
    assert!(monitor.deleted(VIP).is_empty(), "{}", monitor.text());
    assert!(!monitor.deleted(VIP2).is_empty(), "{}", monitor.text());
    assert!(da.instance("VI_2").is_null(), "VI_2 still reported");
    assert_eq!(counter(&da, "VI_1", "priority_zero_tx"), 0);
    assert_eq!(da.instance("VI_1")["state"], "Master");
}

#[test]
fn sighup_changing_a_vrid_restarts_that_instance_only() {
    let topo = Topo::new("rld");
    let ia = master("VI_1", 51, VIP);
    let mut ia2 = master("VI_2", 52, VIP2);
    let da = Director::start(
        Kind::Lvsd,
        topo.director(0),
        &conf(&[ia.clone(), ia2.clone()], ""),
    );
    let db = Director::start(
        Kind::Keepalived,
        topo.director(1),
        &conf(&[backup("VI_1", 51, VIP)], ""),
    );
    wait_master_of(&topo, &da, &db, &[VIP, VIP2]);
    let kept = VipSampler::start(topo.director_names(), VIP);
    let monitor = AddrMonitor::start(topo.director(0).name());

    ia2.vrid = 62;
    da.reload(&conf(&[ia, ia2], ""));
    wait_for(
        "VI_2 restarted with VRID 62",
        Duration::from_secs(10),
        &[&da, &db],
        || da.instance("VI_2")["vrid"] == 62,
    );
    // Restarted as at start-up: BACKUP, then MASTER after the down timer.
    wait_for(
        "VI_2 master again",
        Duration::from_secs(10),
        &[&da, &db],
        || da.instance("VI_2")["state"] == "Master" && topo.holds(0, VIP2),
    );
    assert!(
        da.log()
            .contains("VI_2 restarted: its virtual_router_id changed"),
        "{}",
        da.log()
    );
    // The restart released VI_2's VIP; VI_1 was not touched.
    assert!(!monitor.deleted(VIP2).is_empty(), "{}", monitor.text());
    assert!(monitor.deleted(VIP).is_empty(), "{}", monitor.text());
    assert_eq!(kept.missing_on(0), 0);
    assert!(!kept.ever_on(1));
    assert_eq!(counter(&da, "VI_1", "priority_zero_tx"), 0);
    assert_eq!(counter(&da, "VI_1", "became_master"), 1);
}

/// A failing track_script has weakened lvsd (150 − 60 = 90) and keepalived
/// (100) is master. A reload that keeps the script (and adds a VIP) keeps
/// the script's down state: lvsd stays at 90 and does not preempt back; a
/// reload changing the script keeps it down until it passes again.
#[test]
fn sighup_keeps_a_tracked_script_down_and_the_weakened_instance_backup() {
    let topo = Topo::new("rle");
    let dir = tempfile::tempdir().expect("tmp");
    let ok = dir.path().join("ok");
    std::fs::write(&ok, "").expect("flag");
    let script = format!(
        "vrrp_script chk {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  fall 2\n  rise 2\n  weight -60\n}}\n",
        ok.display()
    );
    let mut ia = master("VI_1", 51, VIP);
    ia.extra += "  track_script {\n    chk\n  }\n";
    let (da, db) = lvsd_master_keepalived_backup(&topo, &[ia.clone()], &script, &[VIP]);
    std::fs::remove_file(&ok).expect("rm flag");
    let what = "keepalived preempting the weakened master";
    topo.wait_sole_holder(what, 1, &[VIP], Duration::from_secs(15), &[&da, &db]);
    let sampler = VipSampler::start(topo.director_names(), VIP);
    // A change invisible on the wire (keepalived checks the VIP count).
    ia.extra += "  notify_master \"/bin/true\"\n";
    da.reload(&conf(&[ia.clone()], &script));
    wait_for(
        "the reload applied",
        Duration::from_secs(10),
        &[&da, &db],
        || da.log().contains("VI_1 kept in place"),
    );
    // Longer than lvsd's master-down interval: a reset script state (up,
    // priority 150) would have made it preempt by now.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(da.instance("VI_1")["effective_priority"], 90);
    assert_eq!(da.instance("VI_1")["state"], "Backup");
    assert!(!sampler.ever_on(0), "lvsd took the VIP back");
    assert_eq!(sampler.missing_on(1), 0, "keepalived lost the VIP");

    // Changed script settings restart the script from its last state
    // (down): when it passes again, lvsd recovers 150 and preempts back.
    let script = script.replace("fall 2", "fall 3");
    da.reload(&conf(&[ia], &script));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(da.instance("VI_1")["effective_priority"], 90);
    std::fs::write(&ok, "").expect("flag");
    let what = "lvsd preempting back once the script passes";
    topo.wait_sole_holder(what, 0, &[VIP], Duration::from_secs(15), &[&da, &db]);
    assert_eq!(da.instance("VI_1")["effective_priority"], 150);
}

#[test]
fn sighup_with_a_broken_file_keeps_the_running_configuration() {
    let topo = Topo::new("rlf");
    let (da, db) = lvsd_master_keepalived_backup(&topo, &[master("VI_1", 51, VIP)], "", &[VIP]);
    let sampler = VipSampler::start(topo.director_names(), VIP);
    da.reload("vrrp_instance VI_1 {\n  virtual_router_id 300\n");
    wait_for(
        "the refusal in the log",
        Duration::from_secs(10),
        &[&da, &db],
        || da.log().contains("reload refused"),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sampler.missing_on(0), 0);
    assert!(!sampler.ever_on(1));
    assert_eq!(da.instance("VI_1")["state"], "Master");
    assert_eq!(counter(&da, "VI_1", "priority_zero_tx"), 0);
}
