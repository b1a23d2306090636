//! SIGHUP reload of the VRRP core under virtual time: the plan (instances
//! matched by name), the minimal VIP diff of a kept master, and state kept
//! across the reload. No sockets, no sleeping.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use lvsd::vrrp::config::*;
use lvsd::vrrp::fsm::*;
use lvsd::vrrp::packet::{ChecksumKind, Family, Version};
use lvsd::vrrp::reload::{diff, plan, restart_reason, InstancePlan, RestartReason};
use lvsd::vrrp::sync_group::{InstanceAction, SyncGroupConfig, VrrpSet};

const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

fn vip(last: u8) -> VipConfig {
    VipConfig {
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        prefix_len: 24,
        dev: None,
        label: None,
        scope: None,
        brd: None,
        options: Default::default(),
    }
}

fn inst(name: &str, vrid: u8, priority: u8, vips: &[u8]) -> InstanceConfig {
    let mut c = InstanceConfig::new(name, "eth0", vrid, priority);
    c.src_addr = Some(ME);
    c.vips = vips.iter().map(|&v| vip(v)).collect();
    c
}

/// Start `cfgs` and run virtual time until every instance is MASTER (no peer).
fn all_master(cfgs: &[InstanceConfig], groups: &[SyncGroupConfig]) -> (VrrpSet, Instant) {
    let t0 = Instant::now();
    let instances = cfgs.iter().cloned().map(Instance::new).collect();
    let mut set = VrrpSet::new(instances, groups).expect("set");
    set.on_start(t0);
    let mut now = t0;
    while set.instances().iter().any(|i| i.state() != State::Master) {
        now = set.deadline().expect("a timer");
        set.on_timer(now);
        assert!(now < t0 + Duration::from_secs(30), "never became master");
    }
    (set, now)
}

fn of(actions: &[InstanceAction], i: usize) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| a.instance == i)
        .map(|a| a.action.clone())
        .collect()
}

fn priority_zero(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Send(adv) if adv.priority == 0))
}

fn drops_all_vips(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::RemoveVips))
}

#[test]
fn plan_matches_instances_by_name() {
    let old = vec![inst("A", 1, 100, &[101]), inst("B", 2, 100, &[102])];
    let new = vec![inst("C", 3, 100, &[103]), inst("A", 1, 150, &[101, 111])];
    assert_eq!(
        plan(&old, &new),
        vec![
            InstancePlan::Remove { old: 1 },
            InstancePlan::Add { new: 0 },
            InstancePlan::Keep { old: 0, new: 1 },
        ]
    );
}

#[test]
fn interface_vrid_family_or_version_changes_force_a_restart() {
    let a = inst("A", 1, 100, &[101]);
    let mut b = a.clone();
    b.priority = 200;
    b.advert_int_cs = 300;
    b.preempt = false;
    b.vips.push(vip(111));
    b.auth_pass = Some(*b"secret\0\0");
    assert_eq!(restart_reason(&a, &b), None);
    let mut c = a.clone();
    c.vrid = 9;
    assert_eq!(restart_reason(&a, &c), Some(RestartReason::Vrid));
    let mut c = a.clone();
    c.interface = "eth1".into();
    assert_eq!(restart_reason(&a, &c), Some(RestartReason::Interface));
    let mut c = a.clone();
    c.version = Version::V3;
    assert_eq!(restart_reason(&a, &c), Some(RestartReason::Version));
    let mut c = a.clone();
    c.family = Family::V6;
    assert_eq!(restart_reason(&a, &c), Some(RestartReason::Family));
    assert_eq!(
        plan(&[a], &[c]),
        vec![InstancePlan::Restart {
            old: 0,
            new: 0,
            reason: RestartReason::Family
        }]
    );
}

#[test]
fn diff_leaves_common_items_alone() {
    let d = diff(&[1, 2, 3, 3], &[3, 4, 2, 4]);
    assert_eq!(d.removed, vec![1]);
    assert_eq!(d.added, vec![4]);
    assert!(diff(&[1, 2], &[2, 1]).is_empty());
}

#[test]
fn kept_master_adds_a_vip_without_touching_the_others() {
    let old = inst("VI_1", 51, 100, &[100]);
    let (mut set, now) = all_master(std::slice::from_ref(&old), &[]);
    let before = set.instances()[0].snapshot().counters;
    let new = inst("VI_1", 51, 100, &[100, 101]);
    let r = set.reload(now, vec![new], &[]).expect("reload");
    assert!(r.stopped.is_empty());
    let acts = of(&r.actions, 0);
    assert_eq!(set.instances()[0].state(), State::Master);
    assert!(!priority_zero(&acts));
    assert!(!drops_all_vips(&acts));
    assert!(!acts.iter().any(|a| matches!(a, Action::AddVips)));
    assert!(acts.contains(&Action::ChangeVips {
        removed: vec![],
        added: vec![vip(101)],
        removed_routes: vec![],
        added_routes: vec![],
        removed_rules: vec![],
        added_rules: vec![],
    }));
    // GARP for the new VIP only.
    assert!(acts.contains(&Action::GarpAddrs {
        addrs: vec![vip(101).addr],
        repeat: GarpConfig::default().master_repeat,
    }));
    assert!(!acts.iter().any(|a| matches!(a, Action::Garp { .. })));
    // The peers hear the new VIP list at once, with the normal priority.
    assert!(acts.iter().any(
        |a| matches!(a, Action::Send(adv) if adv.priority == 100 && adv.addresses.len() == 2)
    ));
    // Virtual time goes on: still master, no hand-over, no re-election.
    let mut t = now;
    while t < now + Duration::from_secs(20) {
        t = set.deadline().expect("timer");
        let acts: Vec<Action> = set.on_timer(t).into_iter().map(|a| a.action).collect();
        assert!(!priority_zero(&acts) && !drops_all_vips(&acts));
    }
    let after = set.instances()[0].snapshot().counters;
    assert_eq!(set.instances()[0].state(), State::Master);
    assert_eq!(after.priority_zero_tx, before.priority_zero_tx);
    assert_eq!(after.became_master, before.became_master);
    assert_eq!(after.released_master, before.released_master);
}

#[test]
fn kept_master_removes_only_the_removed_vip() {
    let (mut set, now) = all_master(&[inst("VI_1", 51, 100, &[100, 101, 102])], &[]);
    let r = set
        .reload(now, vec![inst("VI_1", 51, 100, &[102, 100])], &[])
        .expect("reload");
    let acts = of(&r.actions, 0);
    assert!(acts.contains(&Action::ChangeVips {
        removed: vec![vip(101)],
        added: vec![],
        removed_routes: vec![],
        added_routes: vec![],
        removed_rules: vec![],
        added_rules: vec![],
    }));
    assert!(!acts.iter().any(|a| matches!(a, Action::GarpAddrs { .. })));
    assert!(!priority_zero(&acts) && !drops_all_vips(&acts));
}

#[test]
fn unchanged_config_reload_does_nothing_visible() {
    let c = inst("VI_1", 51, 100, &[100]);
    let (mut set, now) = all_master(std::slice::from_ref(&c), &[]);
    let r = set.reload(now, vec![c], &[]).expect("reload");
    assert!(r
        .actions
        .iter()
        .all(|a| matches!(a.action, Action::SetTimer(_))));
}

#[test]
fn kept_master_changes_routes_minimally() {
    let route = |last: u8| RouteConfig {
        kind: RouteKind::Unicast,
        dst: IpAddr::V4(Ipv4Addr::new(192, 168, last, 0)),
        prefix_len: 24,
        via: None,
        dev: None,
        src: None,
        table: None,
        metric: None,
        scope: None,
        no_track: false,
    };
    let mut a = inst("VI_1", 51, 100, &[100]);
    a.routes = vec![route(1), route(2)];
    let (mut set, now) = all_master(std::slice::from_ref(&a), &[]);
    let mut b = a.clone();
    b.routes = vec![route(2), route(3)];
    let r = set.reload(now, vec![b], &[]).expect("reload");
    assert!(of(&r.actions, 0).contains(&Action::ChangeVips {
        removed: vec![],
        added: vec![],
        removed_routes: vec![route(1)],
        added_routes: vec![route(3)],
        removed_rules: vec![],
        added_rules: vec![],
    }));
}

#[test]
fn changed_priority_is_advertised_and_the_protocol_decides() {
    let (mut set, now) = all_master(&[inst("VI_1", 51, 100, &[100])], &[]);
    let r = set
        .reload(now, vec![inst("VI_1", 51, 50, &[100])], &[])
        .expect("reload");
    let acts = of(&r.actions, 0);
    assert_eq!(set.instances()[0].state(), State::Master);
    assert_eq!(set.instances()[0].effective_priority(), 50);
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Send(adv) if adv.priority == 50)));
    assert!(!priority_zero(&acts));
    // A peer with priority 80 now wins by the normal rules.
    let mut peer = inst("VI_1", 51, 80, &[100]);
    peer.src_addr = Some(PEER);
    let advert = Instance::new(peer).build_advert(80);
    let t = now + Duration::from_millis(10);
    let acts: Vec<Action> = set
        .on_advert(t, "eth0", PEER, &advert, ChecksumKind::MessageOnly)
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert_eq!(set.instances()[0].state(), State::Backup);
    assert!(drops_all_vips(&acts));
}

#[test]
fn raised_priority_lets_a_backup_preempt_the_lower_master() {
    let t0 = Instant::now();
    let c = inst("VI_1", 51, 100, &[100]);
    let mut set = VrrpSet::new(vec![Instance::new(c.clone())], &[]).expect("set");
    set.on_start(t0);
    let mut peer = c.clone();
    peer.priority = 150;
    let advert = Instance::new(peer).build_advert(150);
    let mut t = t0;
    for _ in 0..5 {
        t += Duration::from_secs(1);
        set.on_advert(t, "eth0", PEER, &advert, ChecksumKind::MessageOnly);
    }
    assert_eq!(set.instances()[0].state(), State::Backup);
    let mut higher = c.clone();
    higher.priority = 200;
    set.reload(t, vec![higher], &[]).expect("reload");
    assert_eq!(set.instances()[0].state(), State::Backup);
    // The 150 master's adverts no longer hold it back: it takes over.
    for _ in 0..5 {
        t += Duration::from_secs(1);
        set.on_advert(t, "eth0", PEER, &advert, ChecksumKind::MessageOnly);
        while let Some(d) = set.deadline().filter(|d| *d <= t) {
            set.on_timer(d);
        }
    }
    assert_eq!(set.instances()[0].state(), State::Master);
}

#[test]
fn removed_instance_hands_over_and_releases_its_vips() {
    let (mut set, now) = all_master(
        &[inst("VI_1", 51, 100, &[100]), inst("VI_2", 52, 100, &[102])],
        &[],
    );
    let r = set
        .reload(now, vec![inst("VI_2", 52, 100, &[102])], &[])
        .expect("reload");
    assert_eq!(r.stopped.len(), 1);
    let s = &r.stopped[0];
    assert_eq!((s.old_index, s.instance.name()), (0, "VI_1"));
    assert!(priority_zero(&s.actions) && drops_all_vips(&s.actions));
    // VI_2 is index 0 now and untouched.
    assert_eq!(set.instances().len(), 1);
    assert_eq!(set.instances()[0].state(), State::Master);
    let acts = of(&r.actions, 0);
    assert!(!priority_zero(&acts) && !drops_all_vips(&acts));
}

#[test]
fn changed_vrid_restarts_that_instance_only() {
    let (mut set, now) = all_master(
        &[inst("VI_1", 51, 100, &[100]), inst("VI_2", 52, 100, &[102])],
        &[],
    );
    let r = set
        .reload(
            now,
            vec![inst("VI_1", 61, 100, &[100]), inst("VI_2", 52, 100, &[102])],
            &[],
        )
        .expect("reload");
    assert!(r.plan.contains(&InstancePlan::Restart {
        old: 0,
        new: 0,
        reason: RestartReason::Vrid
    }));
    assert_eq!(r.stopped.len(), 1);
    assert!(priority_zero(&r.stopped[0].actions));
    // Restarted as at start-up: BACKUP, waiting for the down timer.
    assert_eq!(set.instances()[0].state(), State::Backup);
    assert_eq!(set.instances()[0].config().vrid, 61);
    assert_eq!(set.instances()[1].state(), State::Master);
    let acts = of(&r.actions, 1);
    assert!(!priority_zero(&acts) && !drops_all_vips(&acts));
}

#[test]
fn added_instance_starts_as_at_start_up() {
    let (mut set, now) = all_master(&[inst("VI_1", 51, 100, &[100])], &[]);
    let r = set
        .reload(
            now,
            vec![inst("VI_1", 51, 100, &[100]), inst("VI_2", 52, 100, &[102])],
            &[],
        )
        .expect("reload");
    assert_eq!(set.instances()[1].state(), State::Backup);
    assert!(r.plan.contains(&InstancePlan::Add { new: 1 }));
    assert_eq!(set.instances()[0].state(), State::Master);
}

#[test]
fn tracked_script_state_survives_and_new_weights_apply() {
    let track = |weight: i32| TrackConfig {
        id: TrackId::Script("chk".into()),
        weight,
        reverse: false,
        initially_up: true,
        initial_value: 0,
    };
    let mut a = inst("VI_1", 51, 100, &[100]);
    a.tracks = vec![track(-30)];
    let (mut set, now) = all_master(std::slice::from_ref(&a), &[]);
    set.on_track(now, &TrackId::Script("chk".into()), false);
    assert_eq!(set.instances()[0].effective_priority(), 70);
    let mut b = a.clone();
    b.tracks = vec![track(-40)];
    set.reload(now, vec![b.clone()], &[]).expect("reload");
    // Still down (not reset to `initially_up`), with the new weight.
    assert_eq!(set.instances()[0].effective_priority(), 60);
    assert_eq!(set.instances()[0].state(), State::Master);
    // Weight 0 on a down script means FAULT: the normal rules apply.
    let mut c = b.clone();
    c.tracks = vec![track(0)];
    let r = set.reload(now, vec![c], &[]).expect("reload");
    assert_eq!(set.instances()[0].state(), State::Fault);
    assert!(drops_all_vips(&of(&r.actions, 0)));
}

#[test]
fn sync_group_members_keep_state_and_a_new_member_follows_the_master() {
    let group = |members: &[&str]| SyncGroupConfig {
        name: "G".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        notify: NotifyConfig::default(),
    };
    let a = inst("VI_1", 51, 100, &[100]);
    let (mut set, now) = all_master(std::slice::from_ref(&a), &[group(&["VI_1"])]);
    let r = set
        .reload(
            now,
            vec![a.clone(), inst("VI_2", 52, 100, &[102])],
            &[group(&["VI_1", "VI_2"])],
        )
        .expect("reload");
    assert_eq!(set.instances()[0].state(), State::Master);
    assert_eq!(set.instances()[1].state(), State::Master);
    assert!(!priority_zero(&of(&r.actions, 0)));
    assert_eq!(set.group_name(1), Some("G"));
}

#[test]
fn bad_sync_group_refuses_the_reload_and_changes_nothing() {
    let a = inst("VI_1", 51, 100, &[100]);
    let (mut set, now) = all_master(std::slice::from_ref(&a), &[]);
    let bad = SyncGroupConfig {
        name: "G".into(),
        members: vec!["nope".into()],
        notify: NotifyConfig::default(),
    };
    assert!(set
        .reload(now, vec![inst("VI_1", 51, 100, &[100, 101])], &[bad])
        .is_err());
    assert_eq!(set.instances()[0].state(), State::Master);
    assert_eq!(set.instances()[0].config().vips.len(), 1);
}

#[test]
fn kept_backup_touches_no_address() {
    let t0 = Instant::now();
    let c = inst("VI_1", 51, 100, &[100]);
    let mut set = VrrpSet::new(vec![Instance::new(c)], &[]).expect("set");
    set.on_start(t0);
    assert_eq!(set.instances()[0].state(), State::Backup);
    let r = set
        .reload(t0, vec![inst("VI_1", 51, 100, &[100, 101])], &[])
        .expect("reload");
    assert_eq!(set.instances()[0].state(), State::Backup);
    assert!(r
        .actions
        .iter()
        .all(|a| matches!(a.action, Action::SetTimer(_))));
    assert_eq!(set.instances()[0].config().vips.len(), 2);
}

#[test]
fn kept_master_adverts_at_the_new_interval() {
    let (mut set, now) = all_master(&[inst("VI_1", 51, 100, &[100])], &[]);
    let mut c = inst("VI_1", 51, 100, &[100]);
    c.advert_int_cs = 300;
    set.reload(now, vec![c], &[]).expect("reload");
    // The advert already scheduled goes out, then every 3 s.
    let first = set.deadline().expect("timer");
    set.on_timer(first);
    let second = set.deadline().expect("timer");
    assert_eq!(second - first, Duration::from_secs(3));
    let acts: Vec<Action> = set.on_timer(second).into_iter().map(|a| a.action).collect();
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Send(adv) if adv.priority == 100)));
    assert_eq!(set.instances()[0].state(), State::Master);
}

#[test]
fn kept_master_sends_with_the_new_authentication() {
    let mut a = inst("VI_1", 51, 100, &[100]);
    a.auth_pass = Some(*b"old\0\0\0\0\0");
    let (mut set, now) = all_master(std::slice::from_ref(&a), &[]);
    let mut b = a.clone();
    b.auth_pass = Some(*b"new\0\0\0\0\0");
    set.reload(now, vec![b], &[]).expect("reload");
    let advert = set.instances()[0].build_advert(100);
    assert!(matches!(
        advert.body,
        lvsd::vrrp::packet::Body::V2 { auth_data, .. } if &auth_data[..3] == b"new"
    ));
}
