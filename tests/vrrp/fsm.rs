//! State machine rules under virtual time: no sockets, no sleeping.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use lvsd::vrrp::config::*;
use lvsd::vrrp::fsm::*;
use lvsd::vrrp::packet::{
    Advert, AuthType, Body, ChecksumKind, ChecksumMode, Family, RxMeta, Version, MCAST_V4,
};
use lvsd::vrrp::sync_group::{InstanceAction, SyncGroupConfig, VrrpSet};
use lvsd::vrrp::track::{ScriptOutcome, ScriptTracker};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const HIGH_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cfg(priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", "eth0", 51, priority);
    c.src_addr = Some(ME);
    c.vips = vec![VipConfig {
        addr: VIP,
        prefix_len: 24,
        dev: None,
        label: None,
        scope: None,
        brd: None,
        options: Default::default(),
    }];
    c
}

fn v3cfg(priority: u8, advert_int_cs: u32) -> InstanceConfig {
    let mut c = cfg(priority);
    c.version = Version::V3;
    c.advert_int_cs = advert_int_cs;
    c
}

/// An advert as a peer with the same configuration would send it.
fn advert_from(c: &InstanceConfig, priority: u8) -> Advert {
    let mut peer = c.clone();
    peer.priority = priority.max(1);
    Instance::new(peer).build_advert(priority)
}

fn has(actions: &[Action], f: impl Fn(&Action) -> bool) -> bool {
    actions.iter().any(f)
}

fn sent_priority(actions: &[Action]) -> Option<u8> {
    actions.iter().find_map(|a| match a {
        Action::Send(adv) => Some(adv.priority),
        _ => None,
    })
}

/// Start an instance and run its timers until `until`, returning actions with their instant.
fn run_until(inst: &mut Instance, until: Instant) -> Vec<(Instant, Action)> {
    let mut out = Vec::new();
    while let Some(t) = inst.deadline() {
        if t > until {
            break;
        }
        out.extend(inst.on_timer(t).into_iter().map(|a| (t, a)));
    }
    out
}

#[test]
fn master_down_interval_is_three_intervals_plus_skew() {
    let inst = Instance::new(cfg(100));
    // skew = (256 - 100) / 256 s = 609.375 ms
    assert_eq!(inst.skew_time(), Duration::from_micros(609_375));
    assert_eq!(
        inst.master_down_interval(),
        Duration::from_micros(3_609_375)
    );
    let v3 = Instance::new(v3cfg(200, 10));
    // v3, 0.1 s: 3 × 100 ms + (56 × 100 ms) / 256 = 321.875 ms
    assert_eq!(v3.master_down_interval(), Duration::from_micros(321_875));
}

#[test]
fn starts_in_backup_and_becomes_master_when_the_down_timer_expires() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(100));
    let acts = inst.on_start(t0);
    assert_eq!(inst.state(), State::Backup);
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Backup,
            ..
        }
    )));
    let down = t0 + inst.master_down_interval();
    assert!(has(&acts, |a| *a == Action::SetTimer(down)));
    assert!(inst.on_timer(down - ms(1)).is_empty());
    assert_eq!(inst.state(), State::Backup);
    let acts = inst.on_timer(down);
    assert_eq!(inst.state(), State::Master);
    let pos = |f: &dyn Fn(&Action) -> bool| acts.iter().position(f).expect("action present");
    // VIPs first, then the advert, then gratuitous ARP, then the notify.
    let add = pos(&|a| *a == Action::AddVips);
    let send = pos(&|a| matches!(a, Action::Send(adv) if adv.priority == 100));
    let garp = pos(&|a| *a == Action::Garp { repeat: 5 });
    let notify = pos(&|a| {
        matches!(
            a,
            Action::Notify {
                state: State::Master,
                priority: 100
            }
        )
    });
    assert!(add < send && send < garp && garp < notify, "{acts:?}");
}

#[test]
fn state_master_below_255_still_waits_for_the_down_timer() {
    let t0 = Instant::now();
    let mut c = cfg(150);
    c.initial_state = InitialState::Master;
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    assert_eq!(inst.state(), State::Backup);
}

#[test]
fn address_owner_priority_255_is_master_immediately() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(255));
    let acts = inst.on_start(t0);
    assert_eq!(inst.state(), State::Master);
    assert!(has(&acts, |a| *a == Action::AddVips));
    assert_eq!(sent_priority(&acts), Some(255));
}

#[test]
fn master_advertises_every_interval() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(255));
    inst.on_start(t0);
    let acts = run_until(&mut inst, t0 + ms(3500));
    let sends: Vec<Instant> = acts
        .iter()
        .filter(|(_, a)| matches!(a, Action::Send(_)))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(sends, vec![t0 + ms(1000), t0 + ms(2000), t0 + ms(3000)]);
}

#[test]
fn backup_hearing_a_higher_master_stays_backup() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv = advert_from(&c, 150);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    for s in 1..10u64 {
        inst.on_advert(t0 + ms(s * 1000), PEER, &adv, ChecksumKind::MessageOnly);
        inst.on_timer(t0 + ms(s * 1000 + 500));
    }
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.snapshot().master_addr, Some(PEER));
    assert_eq!(inst.snapshot().counters.adverts_rx, 9);
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_skew_time() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv0 = advert_from(&c, 0);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let acts = inst.on_advert(t0 + ms(1000), PEER, &adv0, ChecksumKind::MessageOnly);
    let at = t0 + ms(1000) + inst.skew_time();
    assert!(has(&acts, |a| *a == Action::SetTimer(at)));
    inst.on_timer(at);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(inst.snapshot().counters.priority_zero_rx, 1);
}

#[test]
fn shutdown_of_a_master_sends_priority_zero_and_removes_vips() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(255));
    inst.on_start(t0);
    let acts = inst.on_shutdown(t0 + ms(10));
    assert_eq!(sent_priority(&acts), Some(0));
    assert!(has(&acts, |a| *a == Action::RemoveVips));
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Initialize,
            ..
        }
    )));
    assert_eq!(State::Initialize.notify_word(), "STOP");
    assert_eq!(inst.deadline(), None);
}

#[test]
fn shutdown_of_a_backup_sends_nothing() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(100));
    inst.on_start(t0);
    let acts = inst.on_shutdown(t0);
    assert_eq!(sent_priority(&acts), None);
    assert!(!has(&acts, |a| *a == Action::RemoveVips));
}

#[test]
fn master_yields_to_a_higher_priority_advert() {
    let t0 = Instant::now();
    let c = cfg(255);
    let adv = advert_from(&cfg(100), 254);
    let mut c = c;
    c.priority = 200;
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let acts = inst.on_timer(t0 + inst.master_down_interval());
    assert!(has(&acts, |a| *a == Action::AddVips));
    let acts = inst.on_advert(t0 + ms(5000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Backup);
    assert!(has(&acts, |a| *a == Action::RemoveVips));
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Backup,
            ..
        }
    )));
}

#[test]
fn master_answers_a_lower_priority_master_at_once_and_stays() {
    let t0 = Instant::now();
    let c = cfg(200);
    let adv = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    assert_eq!(inst.state(), State::Master);
    let acts = inst.on_advert(t0 + ms(4000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(sent_priority(&acts), Some(200));
}

#[test]
fn lower_prio_no_advert_leaves_a_lower_master_unanswered() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.lower_prio_no_advert = true;
    let adv = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    let acts = inst.on_advert(t0 + ms(4000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Master);
    assert_eq!(sent_priority(&acts), None, "{acts:?}");
}

#[test]
fn higher_prio_send_advert_sends_one_last_advert_before_yielding() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.higher_prio_send_advert = true;
    let adv = advert_from(&cfg(100), 254);
    let mut inst = Instance::new(c.clone());
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    let acts = inst.on_advert(t0 + ms(5000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(sent_priority(&acts), Some(200), "{acts:?}");
    // The advert goes out before the VIPs are released.
    let send = acts.iter().position(|a| matches!(a, Action::Send(_)));
    let remove = acts.iter().position(|a| *a == Action::RemoveVips);
    assert!(send < remove, "{acts:?}");
    // Without the option a yielding master sends nothing.
    c.higher_prio_send_advert = false;
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    let acts = inst.on_advert(t0 + ms(5000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(sent_priority(&acts), None, "{acts:?}");
}

#[test]
fn down_timer_adverts_sets_the_number_of_missed_adverts() {
    let mut c = cfg(100);
    c.down_timer_adverts = 5;
    let inst = Instance::new(c);
    // 5 × 1 s + 609.375 ms skew
    assert_eq!(
        inst.master_down_interval(),
        Duration::from_micros(5_609_375)
    );
}

#[test]
fn equal_priority_is_won_by_the_higher_source_address() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    // PEER (10.0.0.1) < ME (10.0.0.2): we stay master.
    inst.on_advert(t0 + ms(4000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Master);
    // HIGH_PEER (10.0.0.3) > ME: we yield.
    inst.on_advert(t0 + ms(4100), HIGH_PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Backup);
}

#[test]
fn preempt_takes_over_from_a_lower_priority_master() {
    let t0 = Instant::now();
    let c = cfg(200);
    let low = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let mut t = t0;
    while inst.state() == State::Backup && t < t0 + ms(10_000) {
        t += ms(1000);
        inst.on_advert(t, PEER, &low, ChecksumKind::MessageOnly);
        run_until(&mut inst, t + ms(999));
    }
    assert_eq!(inst.state(), State::Master);
    // Lower adverts are ignored: takeover at the first down-timer expiry after start.
    assert_eq!(inst.snapshot().counters.became_master, 1);
    assert!(t <= t0 + ms(4000), "took over at {:?}", t - t0);
}

#[test]
fn nopreempt_keeps_a_lower_priority_master() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.preempt = false;
    let low = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    for s in 1..30u64 {
        inst.on_advert(t0 + ms(s * 1000), PEER, &low, ChecksumKind::MessageOnly);
        run_until(&mut inst, t0 + ms(s * 1000 + 999));
    }
    assert_eq!(inst.state(), State::Backup);
}

#[test]
fn preempt_delay_holds_back_preemption_of_a_lower_master() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.preempt_delay = Duration::from_secs(10);
    let low = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let mut t = t0;
    while inst.state() == State::Backup && t < t0 + ms(60_000) {
        t += ms(1000);
        inst.on_advert(t, PEER, &low, ChecksumKind::MessageOnly);
        run_until(&mut inst, t + ms(999));
    }
    assert_eq!(inst.state(), State::Master);
    let took = t - t0;
    // Not before preempt_delay (+ the startup down interval), not much later either.
    assert!(took >= Duration::from_secs(10), "took over after {took:?}");
    assert!(took <= Duration::from_secs(16), "took over after {took:?}");
}

#[test]
fn preempt_delay_delays_the_startup_takeover() {
    let t0 = Instant::now();
    let mut c = cfg(128);
    c.preempt_delay = Duration::from_secs(2);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    // keepalived.conf(5): priority 128, advert_int 1, preempt_delay 2 → about 5.5 s.
    assert_eq!(inst.deadline(), Some(t0 + ms(5500)));
}

#[test]
fn v3_backup_uses_the_masters_advertised_interval() {
    let t0 = Instant::now();
    let c = v3cfg(100, 100);
    let mut peer = c.clone();
    peer.advert_int_cs = 10; // master advertises 0.1 s
    let adv = Instance::new(peer).build_advert(200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_advert(t0 + ms(100), PEER, &adv, ChecksumKind::PseudoHeader);
    // 3 × 100 ms + (156 × 100 ms) / 256
    assert_eq!(inst.master_down_interval(), Duration::from_micros(360_937));
    assert_eq!(
        inst.deadline(),
        Some(t0 + ms(100) + Duration::from_micros(360_937))
    );
    assert_eq!(inst.snapshot().counters.dropped_advert_int, 0);
}

#[test]
fn v3_checksum_flavours_are_counted() {
    let t0 = Instant::now();
    let c = v3cfg(100, 10);
    let adv = advert_from(&c, 200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::PseudoHeader);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    let c = inst.snapshot().counters;
    assert_eq!(
        (c.checksum_pseudo_header_rx, c.checksum_message_only_rx),
        (1, 2)
    );
}

#[test]
fn v2_advert_interval_mismatch_is_dropped_counted_and_reported_once() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut peer = c.clone();
    peer.advert_int_cs = 300;
    let adv = Instance::new(peer).build_advert(200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let down = inst.deadline();
    let first = inst.on_advert(t0 + ms(10), PEER, &adv, ChecksumKind::MessageOnly);
    let second = inst.on_advert(t0 + ms(20), PEER, &adv, ChecksumKind::MessageOnly);
    assert!(has(&first, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::AdvertIntervalMismatch {
                ours_cs: 100,
                theirs_cs: 300
            },
            ..
        }
    )));
    assert!(second.is_empty(), "reported once: {second:?}");
    assert_eq!(
        inst.deadline(),
        down,
        "dropped advert must not reset the timer"
    );
    let snap = inst.snapshot();
    assert_eq!(snap.counters.dropped_advert_int, 2);
    assert_eq!(snap.conflicts.len(), 1);
    assert_eq!(snap.conflicts[0].count, 2);
    assert_eq!(snap.conflicts[0].peer, PEER);
}

#[test]
fn auth_mismatch_is_dropped_and_reported() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    c.auth_pass = Some(*b"s3cret\0\0");
    let mut adv = advert_from(&c, 200);
    if let Body::V2 { auth_data, .. } = &mut adv.body {
        *auth_data = *b"wrong\0\0\0";
    }
    let mut no_auth = advert_from(&c, 200);
    if let Body::V2 { auth_type, .. } = &mut no_auth.body {
        *auth_type = AuthType::None;
    }
    let good = advert_from(&c, 200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let acts = inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    assert!(has(&acts, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::AuthMismatch,
            ..
        }
    )));
    inst.on_advert(t0, PEER, &no_auth, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().counters.dropped_auth, 2);
    assert_eq!(inst.snapshot().master_addr, None);
    inst.on_advert(t0, PEER, &good, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().master_addr, Some(PEER));
}

#[test]
fn vip_list_mismatch_is_dropped_unless_skipped_or_from_the_owner() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut adv = advert_from(&c, 200);
    adv.addresses = vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101))];
    let mut inst = Instance::new(c.clone());
    inst.on_start(t0);
    let acts = inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    assert!(has(&acts, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::VipListMismatch { .. },
            ..
        }
    )));
    assert_eq!(inst.snapshot().counters.dropped_vips, 1);

    let mut owner = adv.clone();
    owner.priority = 255;
    inst.on_advert(t0, PEER, &owner, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().master_addr, Some(PEER));

    let mut skip = c;
    skip.skip_check_adv_addr = true;
    let mut inst = Instance::new(skip);
    inst.on_start(t0);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().counters.dropped_vips, 0);
    assert_eq!(inst.snapshot().master_addr, Some(PEER));
}

#[test]
fn version_mismatch_is_dropped() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv = advert_from(&v3cfg(100, 100), 200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let acts = inst.on_advert(t0, PEER, &adv, ChecksumKind::PseudoHeader);
    assert!(has(&acts, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::VersionMismatch { ours: 2, theirs: 3 },
            ..
        }
    )));
}

#[test]
fn own_adverts_are_ignored() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv = advert_from(&c, 200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_advert(t0, ME, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().counters.adverts_rx, 0);
}

fn tracked(c: &mut InstanceConfig, name: &str, weight: i32, reverse: bool) -> TrackId {
    track(c, TrackId::Script(name.to_string()), weight, reverse, 0)
}

fn track(c: &mut InstanceConfig, id: TrackId, weight: i32, reverse: bool, value: i32) -> TrackId {
    c.tracks.push(TrackConfig {
        id: id.clone(),
        weight,
        reverse,
        initially_up: true,
        initial_value: value,
    });
    id
}

#[test]
fn track_weights_follow_keepalived_semantics() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    let neg = tracked(&mut c, "neg", -30, false);
    let pos = tracked(&mut c, "pos", 20, false);
    let rev = tracked(&mut c, "rev", 5, true);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    // all up: +20 for "pos"; "rev" (+5, reverse) applies while down.
    assert_eq!(inst.effective_priority(), 120);
    inst.on_track(t0, &neg, false);
    assert_eq!(inst.effective_priority(), 90);
    inst.on_track(t0, &pos, false);
    assert_eq!(inst.effective_priority(), 70);
    inst.on_track(t0, &rev, false);
    assert_eq!(inst.effective_priority(), 75);
    assert_eq!(inst.state(), State::Backup);
    // The status shows the breakdown: 100 - 30 + 5 = 75.
    assert_eq!(
        inst.snapshot().priority_changes,
        vec![
            ("script neg".to_string(), -30),
            ("script rev".to_string(), 5)
        ]
    );
}

fn tracked_file(
    c: &mut InstanceConfig,
    name: &str,
    weight: i32,
    reverse: bool,
    value: i32,
) -> TrackId {
    track(c, TrackId::File(name.to_string()), weight, reverse, value)
}

#[test]
fn track_file_values_move_priority_and_fault_as_keepalived() {
    let t0 = Instant::now();
    let mut c = cfg(150);
    let prio = tracked_file(&mut c, "prio", -2, false, 5);
    let maint = tracked_file(&mut c, "maint", 0, false, 0);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    // 5 × -2 from the start.
    assert_eq!(inst.effective_priority(), 140);
    assert_eq!(inst.snapshot().track_files.get("prio"), Some(&5));
    inst.on_track_value(t0, &prio, 30);
    assert_eq!(inst.effective_priority(), 90);
    // -254 or less: FAULT, whatever the priority.
    inst.on_track_value(t0, &prio, 127);
    assert_eq!(inst.state(), State::Fault);
    assert_eq!(inst.snapshot().faults, vec![prio.clone()]);
    inst.on_track_value(t0, &prio, 0);
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(inst.effective_priority(), 150);
    // Weight 0: any non-zero value is FAULT; 0 clears it.
    inst.on_track_value(t0, &maint, 1);
    assert_eq!(inst.state(), State::Fault);
    inst.on_track_value(t0, &maint, 0);
    assert_eq!(inst.state(), State::Backup);
    // A value for a file this instance does not track changes nothing.
    assert!(inst
        .on_track_value(t0, &TrackId::File("other".into()), 9)
        .is_empty());
    assert_eq!(inst.effective_priority(), 150);
}

#[test]
fn a_track_file_that_faults_at_start_starts_in_fault() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    tracked_file(&mut c, "maint", 0, true, 0);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    assert_eq!(inst.state(), State::Fault, "reverse: 0 means FAULT");
}

#[test]
fn effective_priority_is_clamped_and_owner_is_never_changed() {
    let t0 = Instant::now();
    let mut c = cfg(250);
    tracked(&mut c, "up", 100, false);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    assert_eq!(inst.effective_priority(), 254);
    let mut c = cfg(255);
    let id = tracked(&mut c, "down", -100, false);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_track(t0, &id, false);
    assert_eq!(inst.effective_priority(), 255);
}

#[test]
fn lowered_priority_goes_into_the_masters_adverts() {
    let t0 = Instant::now();
    let mut c = cfg(150);
    let id = tracked(&mut c, "chk", -100, false);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    assert_eq!(inst.state(), State::Master);
    inst.on_track(t0 + ms(4000), &id, false);
    let acts = run_until(&mut inst, t0 + ms(5000));
    assert!(acts
        .iter()
        .any(|(_, a)| matches!(a, Action::Send(adv) if adv.priority == 50)));
}

#[test]
fn unweighted_track_down_is_fault_and_a_master_hands_over() {
    let t0 = Instant::now();
    let mut c = cfg(255);
    let id = TrackId::Interface("eth1".into());
    c.tracks.push(TrackConfig {
        id: id.clone(),
        weight: 0,
        reverse: false,
        initially_up: true,
        initial_value: 0,
    });
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    assert_eq!(inst.state(), State::Master);
    let acts = inst.on_track(t0 + ms(100), &id, false);
    assert_eq!(inst.state(), State::Fault);
    assert_eq!(sent_priority(&acts), Some(0));
    assert!(has(&acts, |a| *a == Action::RemoveVips));
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Fault,
            ..
        }
    )));
    assert_eq!(inst.snapshot().faults, vec![id.clone()]);
    assert_eq!(inst.deadline(), None, "a FAULT instance sends nothing");
    let acts = inst.on_track(t0 + ms(200), &id, true);
    assert_eq!(inst.state(), State::Backup);
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Backup,
            ..
        }
    )));
}

#[test]
fn track_down_at_start_is_fault() {
    let t0 = Instant::now();
    let mut c = cfg(100);
    c.tracks.push(TrackConfig {
        id: TrackId::Script("chk".into()),
        weight: 0,
        reverse: false,
        initially_up: false,
        initial_value: 0,
    });
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    assert_eq!(inst.state(), State::Fault);
}

#[test]
fn script_tracker_applies_fall_and_rise() {
    let mut t = ScriptTracker::new(2, 3, true);
    assert_eq!(t.record(ScriptOutcome::Failure), None);
    assert_eq!(t.record(ScriptOutcome::Success), None, "streak resets");
    assert_eq!(t.record(ScriptOutcome::Failure), None);
    assert_eq!(t.record(ScriptOutcome::TimedOut), Some(false));
    assert_eq!(t.record(ScriptOutcome::Success), None);
    assert_eq!(t.record(ScriptOutcome::Success), None);
    assert_eq!(t.record(ScriptOutcome::Success), Some(true));
    assert!(t.is_up());
}

#[test]
fn garp_second_burst_and_refresh() {
    let t0 = Instant::now();
    let mut c = cfg(255);
    c.garp = GarpConfig {
        master_delay: Duration::from_secs(5),
        master_repeat: 3,
        master_refresh: Duration::from_secs(60),
        master_refresh_repeat: 2,
        ..GarpConfig::default()
    };
    let mut inst = Instance::new(c);
    let acts = inst.on_start(t0);
    assert!(has(&acts, |a| *a == Action::Garp { repeat: 3 }));
    let later = run_until(&mut inst, t0 + Duration::from_secs(125));
    let garps: Vec<(Duration, u32)> = later
        .iter()
        .filter_map(|(t, a)| match a {
            Action::Garp { repeat } => Some((*t - t0, *repeat)),
            _ => None,
        })
        .collect();
    assert_eq!(
        garps,
        vec![
            (Duration::from_secs(5), 3),
            (Duration::from_secs(60), 2),
            (Duration::from_secs(120), 2)
        ]
    );
}

#[test]
fn garp_extra_if_announces_other_interfaces_while_master_only() {
    let t0 = Instant::now();
    let mut c = cfg(255);
    c.garp = GarpConfig {
        master_delay: Duration::ZERO,
        extra_if: Duration::from_secs(10),
        ..GarpConfig::default()
    };
    let mut inst = Instance::new(c.clone());
    inst.on_start(t0);
    let extra = |acts: &[(Instant, Action)]| -> Vec<Duration> {
        acts.iter()
            .filter(|(_, a)| *a == Action::GarpExtraInterfaces)
            .map(|(t, _)| *t - t0)
            .collect()
    };
    let master = run_until(&mut inst, t0 + Duration::from_secs(35));
    assert_eq!(
        extra(&master),
        vec![
            Duration::from_secs(10),
            Duration::from_secs(20),
            Duration::from_secs(30)
        ]
    );
    // A backup sends none.
    let mut b = cfg(100);
    b.garp = c.garp.clone();
    let mut backup = Instance::new(b);
    backup.on_start(t0);
    let peer = Instance::new(cfg(200)).build_advert(200);
    let mut acts = Vec::new();
    for s in 0..30 {
        let now = t0 + Duration::from_secs(s);
        acts.extend(backup.on_advert(now, PEER, &peer, ChecksumKind::MessageOnly));
        acts.extend(backup.on_timer(now));
    }
    assert!(!acts.contains(&Action::GarpExtraInterfaces), "{acts:?}");
}

#[test]
fn snapshot_serialises_state_counters_and_conflicts() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut peer = c.clone();
    peer.advert_int_cs = 200;
    let adv = Instance::new(peer).build_advert(200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    let json = serde_json::to_value(inst.snapshot()).expect("serialise");
    assert_eq!(json["state"], "Backup");
    assert_eq!(json["effective_priority"], 100);
    assert_eq!(json["counters"]["dropped_advert_int"], 1);
    assert_eq!(json["conflicts"][0]["peer"], "10.0.0.1");
    assert_eq!(
        json["conflicts"][0]["conflict"]["AdvertIntervalMismatch"]["theirs_cs"],
        200
    );
}

fn group_set(fault_track: bool) -> (VrrpSet, TrackId) {
    let mut a = cfg(100);
    a.name = "VI_A".into();
    let mut b = cfg(100);
    b.name = "VI_B".into();
    b.interface = "eth1".into();
    b.vrid = 52;
    let id = TrackId::Interface("eth1".into());
    if fault_track {
        b.tracks.push(TrackConfig {
            id: id.clone(),
            weight: 0,
            reverse: false,
            initially_up: true,
            initial_value: 0,
        });
    }
    let set = VrrpSet::new(
        vec![Instance::new(a), Instance::new(b)],
        &[SyncGroupConfig {
            name: "G1".into(),
            members: vec!["VI_A".into(), "VI_B".into()],
            notify: NotifyConfig::default(),
        }],
    )
    .expect("valid group");
    (set, id)
}

fn states(set: &VrrpSet) -> Vec<State> {
    set.instances().iter().map(Instance::state).collect()
}

#[test]
fn sync_group_members_become_master_and_backup_together() {
    let t0 = Instant::now();
    let (mut set, _) = group_set(false);
    set.on_start(t0);
    // Keep B's master alive so only A's timer can fire.
    let adv_b = advert_from(set.instances()[1].config(), 200);
    let t = t0 + ms(3000);
    set.on_advert(t, "eth1", PEER, &adv_b, ChecksumKind::MessageOnly);
    let acts = set.on_timer(t0 + set.instances()[0].master_down_interval());
    assert_eq!(states(&set), vec![State::Master, State::Master]);
    assert!(acts.contains(&InstanceAction {
        instance: 1,
        action: Action::AddVips
    }));
    let group_master = Action::GroupNotify {
        group: "G1".into(),
        state: State::Master,
    };
    assert_eq!(acts.iter().filter(|a| a.action == group_master).count(), 1);
    // A higher priority advert on A's VRID moves both back.
    let adv_a = advert_from(set.instances()[0].config(), 200);
    let acts = set.on_advert(
        t0 + ms(5000),
        "eth0",
        PEER,
        &adv_a,
        ChecksumKind::MessageOnly,
    );
    assert_eq!(states(&set), vec![State::Backup, State::Backup]);
    assert!(acts.iter().any(|a| a.action
        == Action::GroupNotify {
            group: "G1".into(),
            state: State::Backup
        }));
    assert_eq!(set.group_name(0), Some("G1"));
}

#[test]
fn sync_group_fault_of_one_member_faults_the_group_until_it_recovers() {
    let t0 = Instant::now();
    let (mut set, id) = group_set(true);
    set.on_start(t0);
    set.on_timer(t0 + set.instances()[0].master_down_interval());
    assert_eq!(states(&set), vec![State::Master, State::Master]);
    let acts = set.on_track(t0 + ms(5000), &id, false);
    assert_eq!(states(&set), vec![State::Fault, State::Fault]);
    assert!(acts.contains(&InstanceAction {
        instance: 0,
        action: Action::RemoveVips
    }));
    set.on_track(t0 + ms(6000), &id, true);
    assert_eq!(states(&set), vec![State::Backup, State::Backup]);
}

#[test]
fn sync_group_with_unknown_member_is_an_error_naming_both() {
    let err = VrrpSet::new(
        vec![Instance::new(cfg(100))],
        &[SyncGroupConfig {
            name: "G1".into(),
            members: vec!["VI_1".into(), "VI_X".into()],
            notify: NotifyConfig::default(),
        }],
    )
    .err()
    .expect("error");
    assert_eq!(
        err.to_string(),
        "vrrp_sync_group G1: instance VI_X does not exist"
    );
}

#[test]
fn adverts_are_routed_by_interface_vrid_and_family() {
    let t0 = Instant::now();
    let (mut set, _) = group_set(false);
    set.on_start(t0);
    let adv = advert_from(set.instances()[0].config(), 200);
    set.on_advert(t0, "eth1", PEER, &adv, ChecksumKind::MessageOnly); // VRID 51 is on eth0
    assert_eq!(set.instances()[0].snapshot().counters.adverts_rx, 0);
    set.on_advert(t0, "eth0", PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(set.instances()[0].snapshot().counters.adverts_rx, 1);
    let _ = Family::V4;
}

/// A unicast instance at ME with PEER as its one `unicast_peer`.
fn unicast_cfg(priority: u8, min_ttl: u8, max_ttl: u8) -> InstanceConfig {
    let mut c = cfg(priority);
    c.unicast_peers = vec![UnicastPeer {
        addr: PEER,
        min_ttl,
        max_ttl,
    }];
    c
}

/// The bytes `sender` puts on the wire from `src` to `dst`, and what the
/// receiver's IP layer reports about them after `hops` routers.
fn wire(sender: &Instance, src: IpAddr, dst: IpAddr, hops: u8) -> (Vec<u8>, RxMeta) {
    let bytes = sender
        .build_advert(sender.effective_priority())
        .to_bytes(sender.send_checksum(src, dst));
    let ttl = sender.config().unicast_ttl - hops;
    (bytes, RxMeta { src, dst, ttl })
}

/// Unicast adverts across a router (TTL 254) are obeyed: the backup stays
/// backup (keepalived 2.2.7 checks TTL 255 for multicast only).
#[test]
fn unicast_adverts_across_a_router_are_obeyed() {
    let t0 = Instant::now();
    let mut master = unicast_cfg(200, 0, 255);
    master.src_addr = Some(PEER);
    let master = Instance::new(master);
    let mut inst = Instance::new(unicast_cfg(100, 0, 255));
    inst.on_start(t0);
    let (bytes, meta) = wire(&master, PEER, ME, 1);
    for s in 1..10 {
        inst.on_packet(t0 + ms(s * 1000), &bytes, &meta);
        run_until(&mut inst, t0 + ms(s * 1000 + 999));
    }
    assert_eq!(inst.state(), State::Backup);
    let snap = inst.snapshot();
    assert_eq!(snap.master_addr, Some(PEER));
    assert_eq!(snap.counters.adverts_rx, 9);
    assert_eq!(snap.counters.dropped_ttl, 0);
}

#[test]
fn packet_drops_are_counted_by_reason_and_reported_once_per_peer() {
    let t0 = Instant::now();
    let sender = {
        let mut c = unicast_cfg(200, 0, 255);
        c.src_addr = Some(PEER);
        Instance::new(c)
    };
    // Multicast instance: a multicast advert with TTL 254, and a unicast one.
    let mut mcast = Instance::new(cfg(100));
    mcast.on_start(t0);
    let mut plain = cfg(200);
    plain.src_addr = Some(PEER);
    let (bytes, meta) = wire(&Instance::new(plain), PEER, IpAddr::V4(MCAST_V4), 1);
    let first = mcast.on_packet(t0, &bytes, &meta);
    mcast.on_packet(t0, &bytes, &meta);
    assert!(has(&first, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::Ttl {
                ttl: 254,
                min: 255,
                max: 255
            },
            ..
        }
    )));
    let (ubytes, umeta) = wire(&sender, PEER, ME, 0);
    mcast.on_packet(t0, &ubytes, &umeta);
    let snap = mcast.snapshot();
    assert_eq!(snap.counters.dropped_ttl, 2);
    assert_eq!(snap.counters.dropped_destination, 1);
    assert_eq!(snap.counters.adverts_rx, 0);
    let ttl = snap
        .conflicts
        .iter()
        .find(|r| matches!(r.conflict, Conflict::Ttl { .. }));
    assert_eq!(ttl.map(|r| r.count), Some(2));

    // Unicast instance with `min_ttl 255` for PEER (check_unicast_src as
    // keepalived turns it on): TTL 254 is dropped; another source too.
    let mut c = unicast_cfg(100, 255, 255);
    c.check_unicast_src = true;
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let (bytes, meta) = wire(&sender, PEER, ME, 1);
    inst.on_packet(t0, &bytes, &meta);
    let stranger = RxMeta {
        src: HIGH_PEER,
        ..meta
    };
    inst.on_packet(t0, &bytes, &stranger);
    let (bytes, meta) = wire(&sender, PEER, ME, 0);
    inst.on_packet(t0, &bytes, &meta);
    let counters = inst.snapshot().counters;
    assert_eq!(
        (
            counters.dropped_ttl,
            counters.dropped_unicast_src,
            counters.adverts_rx
        ),
        (1, 1, 1)
    );
}

/// keepalived 2.2.7 discards a VRRPv3 IPv4 advert without the pseudo-header
/// ("Invalid VRRPv3 checksum"); lvsd too, unless `v3_checksum_as_v2`.
#[test]
fn v3_message_only_checksum_needs_v3_checksum_as_v2() {
    let t0 = Instant::now();
    let mut peer = v3cfg(200, 100);
    peer.src_addr = Some(PEER);
    peer.v3_checksum_as_v2 = true;
    let peer = Instance::new(peer);
    let mcast = IpAddr::V4(MCAST_V4);
    assert_eq!(peer.send_checksum(PEER, mcast), ChecksumMode::MessageOnly);
    let (bytes, meta) = wire(&peer, PEER, mcast, 0);

    let mut strict = Instance::new(v3cfg(100, 100));
    strict.on_start(t0);
    let acts = strict.on_packet(t0, &bytes, &meta);
    assert!(has(&acts, |a| matches!(
        a,
        Action::ConflictDetected {
            conflict: Conflict::MessageOnlyChecksum,
            ..
        }
    )));
    let c = strict.snapshot().counters;
    assert_eq!((c.dropped_checksum_message_only, c.adverts_rx), (1, 0));

    let mut c = v3cfg(100, 100);
    c.v3_checksum_as_v2 = true;
    let mut lenient = Instance::new(c);
    lenient.on_start(t0);
    lenient.on_packet(t0, &bytes, &meta);
    let c = lenient.snapshot().counters;
    assert_eq!((c.checksum_message_only_rx, c.adverts_rx), (1, 1));
    assert_eq!(lenient.snapshot().master_addr, Some(PEER));
}

/// keepalived's `old_unicast_checksum`: without the keyword, the first advert
/// in the old form switches the instance to that form for good; `never`
/// refuses it; the bare keyword sends it from the start.
#[test]
fn old_unicast_checksum_is_detected_sent_and_configurable() {
    let t0 = Instant::now();
    let v3u = |prio: u8, old: OldUnicastChecksum| {
        let mut c = unicast_cfg(prio, 0, 255);
        c.version = Version::V3;
        c.old_unicast_checksum = old;
        c
    };
    let mut old_peer = v3u(200, OldUnicastChecksum::Always);
    old_peer.src_addr = Some(PEER);
    let old_peer = Instance::new(old_peer);
    assert_eq!(
        old_peer.send_checksum(PEER, ME),
        ChecksumMode::PseudoHeader {
            src: PEER,
            dst: IpAddr::V4(MCAST_V4)
        }
    );
    let (old_bytes, meta) = wire(&old_peer, PEER, ME, 0);

    let mut never = Instance::new(v3u(100, OldUnicastChecksum::Never));
    never.on_start(t0);
    never.on_packet(t0, &old_bytes, &meta);
    assert_eq!(never.snapshot().counters.dropped_checksum, 1);

    let mut auto = Instance::new(v3u(100, OldUnicastChecksum::Auto));
    auto.on_start(t0);
    let rfc = ChecksumMode::PseudoHeader { src: ME, dst: PEER };
    assert_eq!(auto.send_checksum(ME, PEER), rfc);
    let acts = auto.on_packet(t0, &old_bytes, &meta);
    assert!(has(&acts, |a| matches!(
        a,
        Action::OldUnicastChecksumDetected { peer } if *peer == PEER
    )));
    assert_eq!(auto.snapshot().counters.checksum_old_unicast_rx, 1);
    assert_eq!(
        auto.send_checksum(ME, PEER),
        ChecksumMode::PseudoHeader {
            src: ME,
            dst: IpAddr::V4(MCAST_V4)
        }
    );
    // From now on the RFC form is refused, as in keepalived.
    let mut rfc_peer = v3u(200, OldUnicastChecksum::Never);
    rfc_peer.src_addr = Some(PEER);
    let (rfc_bytes, meta) = wire(&Instance::new(rfc_peer), PEER, ME, 0);
    auto.on_packet(t0, &rfc_bytes, &meta);
    assert_eq!(auto.snapshot().counters.dropped_checksum, 1);
    // A reload starts over (keepalived builds the instance afresh).
    auto.reconfigure(t0, v3u(100, OldUnicastChecksum::Auto));
    assert_eq!(auto.send_checksum(ME, PEER), rfc);
}

fn garp_repeats(actions: &[Action]) -> Vec<u32> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Garp { repeat } => Some(*repeat),
            _ => None,
        })
        .collect()
}

#[test]
fn a_master_hearing_a_lower_priority_reannounces_and_reports_it() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.garp.lower_prio_repeat = 3;
    c.garp.lower_prio_delay = ms(5000);
    let adv = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    assert_eq!(inst.state(), State::Master);
    let t1 = t0 + ms(4000);
    let acts = inst.on_advert(t1, PEER, &adv, ChecksumKind::MessageOnly);
    // keepalived: answer, re-announce garp_lower_prio_repeat times, run
    // notify_master_rx_lower_pri (and its FIFO line).
    assert_eq!(sent_priority(&acts), Some(200));
    assert_eq!(garp_repeats(&acts), vec![3]);
    assert!(has(&acts, |a| matches!(
        a,
        Action::MasterRxLowerPri { peer, priority: 100 } if *peer == PEER
    )));
    // ... and once more garp_lower_prio_delay later.
    let later = run_until(&mut inst, t1 + ms(5000));
    let delayed: Vec<Instant> = later
        .iter()
        .filter(|(_, a)| matches!(a, Action::Garp { repeat: 3 }))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(delayed, vec![t1 + ms(5000)]);
}

#[test]
fn garp_lower_prio_repeat_zero_sends_nothing_extra() {
    let t0 = Instant::now();
    let mut c = cfg(200);
    c.garp.lower_prio_repeat = 0;
    let adv = advert_from(&c, 100);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_timer(t0 + inst.master_down_interval());
    let acts = inst.on_advert(t0 + ms(4000), PEER, &adv, ChecksumKind::MessageOnly);
    assert!(garp_repeats(&acts).is_empty());
    // The event is reported whatever the GARP settings.
    assert!(has(&acts, |a| matches!(a, Action::MasterRxLowerPri { .. })));
}

#[test]
fn priority_changes_are_reported_only_when_asked() {
    let t0 = Instant::now();
    for asked in [false, true] {
        let mut c = cfg(100);
        c.notify_priority_changes = asked;
        let neg = tracked(&mut c, "neg", -30, false);
        let mut inst = Instance::new(c);
        inst.on_start(t0);
        let acts = inst.on_track(t0, &neg, false);
        let reported = acts.iter().find_map(|a| match a {
            Action::PriorityChanged { state, priority } => Some((*state, *priority)),
            _ => None,
        });
        assert_eq!(
            reported,
            asked.then_some((State::Backup, 70)),
            "asked: {asked}"
        );
        // The same reading again changes nothing and reports nothing.
        let again = inst.on_track(t0, &neg, false);
        assert!(!has(&again, |a| matches!(
            a,
            Action::PriorityChanged { .. }
        )));
    }
}

#[test]
fn a_deleted_instance_reports_fault_or_deleted_as_keepalived() {
    let t0 = Instant::now();
    // Master, no notify_deleted: priority 0, VIPs released, FAULT notifies.
    let mut inst = Instance::new(cfg(255));
    inst.on_start(t0);
    assert_eq!(inst.state(), State::Master);
    let acts = inst.on_delete(t0);
    assert_eq!(sent_priority(&acts), Some(0));
    assert!(has(&acts, |a| matches!(a, Action::RemoveVips)));
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Fault,
            ..
        }
    )));
    // notify_deleted: DELETED instead.
    let mut c = cfg(100);
    c.notify_deleted = true;
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let acts = inst.on_delete(t0);
    assert!(has(&acts, |a| matches!(
        a,
        Action::NotifyDeleted { priority: 100 }
    )));
    assert!(!has(&acts, |a| matches!(a, Action::Notify { .. })));
    // Already in FAULT without notify_deleted: nothing to report.
    let mut c = cfg(100);
    let down = tracked(&mut c, "down", 0, false);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_track(t0, &down, false);
    assert_eq!(inst.state(), State::Fault);
    assert!(!has(&inst.on_delete(t0), |a| matches!(
        a,
        Action::Notify { .. } | Action::NotifyDeleted { .. }
    )));
}

#[test]
fn adverts_keep_a_fixed_schedule_when_the_timer_fires_late() {
    let t0 = Instant::now();
    let i = ms(100);
    // Woken 7 ms late: the next advert is still due on the schedule.
    assert_eq!(next_advert(t0, t0 + ms(7), i), t0 + ms(100));
    // Stalled past a whole interval: start again from now, no burst.
    assert_eq!(next_advert(t0, t0 + ms(250), i), t0 + ms(350));
    let mut inst = Instance::new(v3cfg(255, 10));
    inst.on_start(t0);
    // Every timer call 3 ms late: the adverts still come every 100 ms.
    let mut sent = Vec::new();
    for _ in 0..20 {
        let due = inst.deadline().expect("a master has a timer");
        let late = due + ms(3);
        if has(&inst.on_timer(late), |a| matches!(a, Action::Send(_))) {
            sent.push(late);
        }
    }
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g == ms(100)), "{gaps:?}");
}

#[test]
fn dropped_adverts_are_reported_at_most_every_interval_per_peer_and_reason() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut bad = advert_from(&c, 150);
    bad.addresses.clear(); // the VIP list differs
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    let reports = |acts: Vec<Action>| -> Vec<(u64, bool)> {
        acts.into_iter()
            .filter_map(|a| match a {
                Action::ConflictDetected { dropped, first, .. } => Some((dropped, first)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        reports(inst.on_advert(t0, PEER, &bad, ChecksumKind::MessageOnly)),
        vec![(1, true)]
    );
    for i in 1..1000u64 {
        let t = t0 + Duration::from_millis(i);
        assert!(reports(inst.on_advert(t, PEER, &bad, ChecksumKind::MessageOnly)).is_empty());
    }
    // Another peer is reported on its own.
    assert_eq!(
        reports(inst.on_advert(t0, HIGH_PEER, &bad, ChecksumKind::MessageOnly)),
        vec![(1, true)]
    );
    let later = t0 + DROP_REPORT_INTERVAL;
    assert_eq!(
        reports(inst.on_advert(later, PEER, &bad, ChecksumKind::MessageOnly)),
        vec![(1000, false)]
    );
    assert_eq!(inst.snapshot().counters.dropped_vips, 1002);
}

#[test]
fn spoofed_sources_do_not_grow_the_conflict_records_without_bound() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut bad = advert_from(&c, 150);
    bad.addresses.clear();
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    for i in 0..10_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 10 + i));
        inst.on_advert(t0, src, &bad, ChecksumKind::MessageOnly);
    }
    let snap = inst.snapshot();
    assert!(
        snap.conflicts.len() <= MAX_CONFLICT_RECORDS + 1,
        "{}",
        snap.conflicts.len()
    );
    assert_eq!(snap.counters.dropped_vips, 10_000);
    let total: u64 = snap.conflicts.iter().map(|c| c.count).sum();
    assert_eq!(total, 10_000, "every drop is in some record");
}

#[test]
fn takeovers_and_releases_are_counted_by_cause() {
    let t0 = Instant::now();
    let c = cfg(100);
    let from_master = advert_from(&c, 200);
    let stepping_down = advert_from(&c, 0);
    let lower = advert_from(&c, 50);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    // A master that goes silent: a timeout takeover.
    inst.on_advert(t0, PEER, &from_master, ChecksumKind::MessageOnly);
    run_until(&mut inst, t0 + ms(10_000));
    assert_eq!(inst.state(), State::Master);
    // A higher one appears: released for it.
    let t1 = t0 + ms(10_000);
    inst.on_advert(t1, HIGH_PEER, &from_master, ChecksumKind::MessageOnly);
    assert_eq!(inst.state(), State::Backup);
    // It steps down: a priority-zero takeover.
    inst.on_advert(
        t1 + ms(100),
        HIGH_PEER,
        &stepping_down,
        ChecksumKind::MessageOnly,
    );
    run_until(&mut inst, t1 + ms(2000));
    assert_eq!(inst.state(), State::Master);
    inst.on_shutdown(t1 + ms(3000));
    let mut inst2 = Instance::new(cfg(100));
    inst2.on_start(t0);
    // A lower master: we preempt it.
    inst2.on_advert(t0, PEER, &lower, ChecksumKind::MessageOnly);
    run_until(&mut inst2, t0 + ms(10_000));
    let c = inst.snapshot().counters;
    assert_eq!(
        (
            c.became_master_timeout,
            c.became_master_priority_zero,
            c.became_master
        ),
        (1, 1, 2)
    );
    assert_eq!(
        (
            c.released_master_higher_priority,
            c.released_master_stop,
            c.released_master
        ),
        (1, 1, 2)
    );
    assert_eq!(inst2.snapshot().counters.became_master_preempt, 1);
    let mut owner = Instance::new(cfg(255));
    owner.on_start(t0);
    assert_eq!(owner.snapshot().counters.became_master_owner, 1);
}

#[test]
fn an_advert_with_less_than_an_interval_to_spare_is_a_near_failover() {
    let t0 = Instant::now();
    let c = cfg(100);
    let adv = advert_from(&c, 200);
    let mut inst = Instance::new(c);
    inst.on_start(t0);
    inst.on_advert(t0, PEER, &adv, ChecksumKind::MessageOnly);
    // On time (1 s later, ~2.6 s to spare): nothing.
    inst.on_advert(t0 + ms(1000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().counters.near_failovers, 0);
    // 3 s late: the down timer (3 × 1 s + skew 0.61 s) had 0.61 s left.
    inst.on_advert(t0 + ms(4000), PEER, &adv, ChecksumKind::MessageOnly);
    assert_eq!(inst.snapshot().counters.near_failovers, 1);
    assert_eq!(inst.state(), State::Backup);
}

#[test]
fn a_master_whose_vip_was_deleted_steps_down_and_comes_back_after_skew() {
    let t0 = Instant::now();
    let mut inst = Instance::new(cfg(100));
    inst.on_start(t0);
    run_until(&mut inst, t0 + Duration::from_secs(5));
    assert_eq!(inst.state(), State::Master);
    let t1 = t0 + Duration::from_secs(5);
    let acts = inst.on_vip_deleted(t1);
    // As keepalived 2.2.7: BACKUP without a priority 0 advert, VIPs removed.
    assert_eq!(inst.state(), State::Backup);
    assert_eq!(sent_priority(&acts), None, "{acts:?}");
    assert!(has(&acts, |a| *a == Action::RemoveVips));
    assert!(has(&acts, |a| matches!(
        a,
        Action::Notify {
            state: State::Backup,
            ..
        }
    )));
    assert_eq!(inst.deadline(), Some(t1 + inst.skew_time()));
    let acts = inst.on_timer(t1 + inst.skew_time());
    assert_eq!(inst.state(), State::Master);
    assert!(has(&acts, |a| *a == Action::AddVips));
    assert_eq!(sent_priority(&acts), Some(100));
    let c = inst.snapshot().counters;
    assert_eq!(c.released_master_vip_deleted, 1);
    assert_eq!(c.became_master_vip_deleted, 1);
    // Not master: nothing happens.
    let mut backup = Instance::new(cfg(100));
    backup.on_start(t0);
    assert!(backup.on_vip_deleted(t0 + ms(10)).is_empty());
    assert_eq!(backup.state(), State::Backup);
}

#[test]
fn a_vip_deleted_in_a_sync_group_brings_the_group_back_together() {
    let t0 = Instant::now();
    let mut a = cfg(100);
    a.name = "VI_A".into();
    let mut b = cfg(100);
    b.name = "VI_B".into();
    b.vrid = 52;
    let groups = [SyncGroupConfig {
        name: "G".into(),
        members: vec!["VI_A".into(), "VI_B".into()],
        notify: NotifyConfig::default(),
    }];
    let mut set = VrrpSet::new(vec![Instance::new(a), Instance::new(b)], &groups).expect("set");
    set.on_start(t0);
    let mut now = t0;
    while let Some(t) = set.deadline() {
        if t > t0 + Duration::from_secs(5) {
            break;
        }
        now = t;
        set.on_timer(t);
    }
    assert!(set.instances().iter().all(|i| i.state() == State::Master));
    let acts = set.on_vip_deleted(now, 1);
    assert!(set.instances().iter().all(|i| i.state() == State::Backup));
    let removed: Vec<usize> = acts
        .iter()
        .filter(|a| a.action == Action::RemoveVips)
        .map(|a| a.instance)
        .collect();
    assert_eq!(removed.len(), 2, "{acts:?}");
    let back = now + set.instances()[0].skew_time();
    assert!(set.deadline().is_some_and(|d| d <= back));
    while let Some(t) = set.deadline() {
        if t > back {
            break;
        }
        set.on_timer(t);
    }
    assert!(set.instances().iter().all(|i| i.state() == State::Master));
}

#[test]
fn a_takeover_reports_how_long_the_old_master_was_silent() {
    let t0 = Instant::now();
    let c = cfg(100);
    let mut inst = Instance::new(c.clone());
    inst.on_start(t0);
    let heard = t0 + ms(500);
    inst.on_advert(
        heard,
        PEER,
        &advert_from(&c, 200),
        ChecksumKind::MessageOnly,
    );
    let down = inst.deadline().expect("down timer");
    assert_eq!(down, heard + inst.master_down_interval());
    let acts = inst.on_timer(down);
    assert_eq!(inst.state(), State::Master);
    // The phase marker comes before the actions it times.
    assert_eq!(
        acts.first(),
        Some(&Action::Takeover {
            detection: Some(inst.master_down_interval())
        }),
        "{acts:?}"
    );
    // Owner at start: no old master, no detection.
    let mut owner = Instance::new(cfg(255));
    let acts = owner.on_start(t0);
    assert!(has(&acts, |a| *a == Action::Takeover { detection: None }));
}

#[test]
fn takeover_log_keeps_the_recent_ones_and_a_histogram_per_phase() {
    use lvsd::vrrp::takeover::{Takeover, TakeoverLog, BUCKETS, PHASES, RECENT};
    let mut log = TakeoverLog::default();
    for k in 0..(RECENT + 3) {
        log.record(Takeover {
            at: k as f64,
            detection: (k % 2 == 0).then_some(3.6),
            vips_added: Some(0.0004),
            garp_sent: Some(0.0006),
            notify_done: Some(20.0),
        });
    }
    assert_eq!(log.recent.len(), RECENT);
    assert_eq!(log.recent.front().map(|t| t.at), Some(3.0));
    assert_eq!(log.phases.len(), PHASES.len());
    let detection = &log.phases[0];
    assert_eq!(detection.count(), 6, "only the takeovers that had one");
    let buckets = detection.per_bucket();
    assert_eq!(buckets.len(), BUCKETS.len() + 1);
    let five = BUCKETS.iter().position(|&b| b == 5.0).expect("5 s bucket");
    assert_eq!(buckets[five], (5.0, 6));
    // Past the last bound: only in +Inf.
    let notify = log.phases[3].per_bucket();
    assert_eq!(notify.last(), Some(&(f64::INFINITY, (RECENT + 3) as u64)));
    assert!(notify[..BUCKETS.len()].iter().all(|(_, n)| *n == 0));
    // As JSON and back (the state file carries it).
    let back: TakeoverLog =
        serde_json::from_value(serde_json::to_value(&log).expect("json")).expect("parse");
    assert_eq!(back, log);
}
