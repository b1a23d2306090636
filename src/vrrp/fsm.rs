//! The VRRP state machine of one instance, sans I/O: events in, actions out,
//! time passed in by the caller (so tests drive it with virtual time).
//!
//! RFC 3768 / RFC 5798 section 6, plus keepalived's extensions with
//! keepalived's semantics: nopreempt, preempt_delay, tracking weights and
//! FAULT, gratuitous ARP bursts, notify events.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::config::{
    InitialState, InstanceConfig, OldUnicastChecksum, RouteConfig, RuleConfig, TrackId, VipConfig,
};
use super::packet::{
    self, Advert, AdvertType, AuthType, Body, ChecksumAccept, ChecksumKind, ChecksumMode, Family,
    PacketError, RxMeta, RxPolicy, Version, MCAST_V4,
};
use super::track::FileEffect;

/// When the advert after one due at `due` (and sent at `now`) is due: on a
/// fixed schedule, so a late wake-up does not push every later advert back
/// (the interval would drift); after a stall longer than an interval the
/// schedule restarts from `now` instead of sending a burst to catch up.
pub fn next_advert(due: Instant, now: Instant, interval: Duration) -> Instant {
    let next = due + interval;
    if next > now {
        next
    } else {
        now + interval
    }
}

/// Why an instance became master (see `Counters::became_master_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MasterCause {
    Timeout,
    PriorityZero,
    Preempt,
    SyncGroup,
    Owner,
    /// Back after stepping down because a VIP was deleted behind our back.
    VipDeleted,
}

/// Why an instance stopped being master (see `Counters::released_master_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleaseCause {
    HigherPriority,
    Fault,
    SyncGroup,
    Stop,
    /// One of our VIPs was deleted by someone else (keepalived steps down to
    /// BACKUP and comes back after Skew_Time, which puts the VIPs back).
    VipDeleted,
}

/// How often dropped adverts of one kind from one peer are logged, at most.
pub const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Peers × kinds of conflict an instance remembers; past this (spoofed
/// sources) drops are still counted and reported, under the unspecified
/// address, so memory stays bounded.
pub const MAX_CONFLICT_RECORDS: usize = 256;

/// Delayed re-announcements pending after adverts of lower priority, at most.
pub const MAX_LOWER_PRIO_BURSTS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    /// The word keepalived passes to notify scripts.
    pub fn notify_word(self) -> &'static str {
        match self {
            State::Initialize => "STOP",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

/// Why a received advert was not acted upon (RFC "MUST be discarded" cases and
/// keepalived's instance checks). Each peer's first occurrence is reported once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Conflict {
    VersionMismatch {
        ours: u8,
        theirs: u8,
    },
    AuthMismatch,
    AdvertIntervalMismatch {
        ours_cs: u32,
        theirs_cs: u32,
    },
    VipListMismatch {
        ours: Vec<IpAddr>,
        theirs: Vec<IpAddr>,
    },
    /// TTL / hop limit outside what the instance accepts: 255 for a
    /// multicast advert, the peer's `min_ttl`..=`max_ttl` for a unicast one.
    Ttl {
        ttl: u8,
        min: u8,
        max: u8,
    },
    /// A unicast advert from an address that is no `unicast_peer`, with
    /// `check_unicast_src` on.
    NotUnicastPeer,
    /// A multicast advert for a unicast instance (`multicast: true`) or the reverse.
    WrongDestination {
        multicast: bool,
    },
    /// VRRPv3 IPv4 checksum without the pseudo-header, and no `v3_checksum_as_v2`.
    MessageOnlyChecksum,
    BadChecksum,
    /// Anything else the codec refused (length, type, VRID 0, ...).
    Malformed {
        error: String,
    },
}

impl Conflict {
    fn key(&self) -> &'static str {
        match self {
            Conflict::VersionMismatch { .. } => "version",
            Conflict::AuthMismatch => "auth",
            Conflict::AdvertIntervalMismatch { .. } => "advert_int",
            Conflict::VipListMismatch { .. } => "vips",
            Conflict::Ttl { .. } => "ttl",
            Conflict::NotUnicastPeer => "unicast_src",
            Conflict::WrongDestination { .. } => "destination",
            Conflict::MessageOnlyChecksum => "checksum_message_only",
            Conflict::BadChecksum => "checksum",
            Conflict::Malformed { .. } => "malformed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement (the runner computes the checksum for the wire).
    Send(Advert),
    /// Call `on_timer` at (or after) this instant; replaces any earlier request.
    SetTimer(Instant),
    /// About to become master (the actions of that follow): the runner times
    /// the takeover's phases. `detection`: since the old master's last advert
    /// (none heard: `None`).
    Takeover {
        detection: Option<Duration>,
    },
    AddVips,
    RemoveVips,
    /// Send `repeat` gratuitous ARPs / unsolicited NAs for every VIP.
    Garp {
        repeat: u32,
    },
    /// A reload changed a master's addresses: delete `removed`, add `added`,
    /// leave every other VIP and route untouched.
    ChangeVips {
        removed: Vec<VipConfig>,
        added: Vec<VipConfig>,
        removed_routes: Vec<RouteConfig>,
        added_routes: Vec<RouteConfig>,
        removed_rules: Vec<RuleConfig>,
        added_rules: Vec<RuleConfig>,
    },
    /// One gratuitous ARP / unsolicited NA on each interface other than the
    /// instance's that holds a VIP (`garp_extra_if`).
    GarpExtraInterfaces,
    /// Gratuitous ARPs / unsolicited NAs for these addresses only (VIPs a reload added).
    GarpAddrs {
        addrs: Vec<IpAddr>,
        repeat: u32,
    },
    Notify {
        state: State,
        priority: u8,
    },
    /// The instance's sync group as a whole entered `state` (emitted by `VrrpSet`).
    GroupNotify {
        group: String,
        state: State,
    },
    /// A reload removed the instance and `notify_deleted` asks for DELETED
    /// notifies (without it the instance reports FAULT, as keepalived does).
    NotifyDeleted {
        priority: u8,
    },
    /// While master, an advert of lower priority arrived from `peer`
    /// (keepalived's `notify_master_rx_lower_pri` script and FIFO line).
    MasterRxLowerPri {
        peer: IpAddr,
        priority: u8,
    },
    /// The effective priority changed and `notify_priority_changes` is on.
    PriorityChanged {
        state: State,
        priority: u8,
    },
    /// Adverts from `peer` were dropped for `conflict`: log it. The first
    /// drop of a kind from a peer is reported at once, later ones at most
    /// every [`DROP_REPORT_INTERVAL`], as `dropped` since the last report
    /// (a flood gives one line per peer and reason per interval, not one
    /// per packet).
    ConflictDetected {
        peer: IpAddr,
        conflict: Conflict,
        dropped: u64,
        first: bool,
    },
    /// `peer` sent keepalived's old unicast VRRPv3 checksum: from now on
    /// this instance sends and accepts only that form (keepalived's auto-detect).
    OldUnicastChecksumDetected {
        peer: IpAddr,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub adverts_rx: u64,
    pub adverts_tx: u64,
    pub priority_zero_rx: u64,
    pub priority_zero_tx: u64,
    pub became_master: u64,
    pub released_master: u64,
    /// `became_master` by cause: the master fell silent (down timer), it
    /// stepped down (priority 0), we preempted a lower one, the sync group
    /// moved us, or we are the address owner (priority 255).
    pub became_master_timeout: u64,
    pub became_master_priority_zero: u64,
    pub became_master_preempt: u64,
    pub became_master_sync_group: u64,
    pub became_master_owner: u64,
    pub became_master_vip_deleted: u64,
    /// `released_master` by cause: a higher priority master, FAULT, the
    /// sync group, or a stop (lvsd stopping, a reload removing the instance).
    pub released_master_higher_priority: u64,
    pub released_master_fault: u64,
    pub released_master_sync_group: u64,
    pub released_master_stop: u64,
    /// A tracked VIP was deleted by someone else while master: lvsd stepped
    /// down and came back (`became_master_vip_deleted`), as keepalived does.
    pub released_master_vip_deleted: u64,
    /// As backup, the master's advert arrived with less than one advert
    /// interval left on the down timer: a failover nearly happened.
    pub near_failovers: u64,
    /// Gratuitous ARPs / unsolicited NAs asked for (bursts × VIPs).
    pub announcements: u64,
    pub dropped_version: u64,
    pub dropped_auth: u64,
    pub dropped_advert_int: u64,
    pub dropped_vips: u64,
    /// Multicast adverts with a TTL other than 255, unicast ones outside the
    /// peer's `min_ttl`..=`max_ttl`.
    pub dropped_ttl: u64,
    /// Unicast adverts from no `unicast_peer` (`check_unicast_src`).
    pub dropped_unicast_src: u64,
    /// Multicast adverts for a unicast instance, or the reverse.
    pub dropped_destination: u64,
    /// Checksum wrong in every form the instance accepts.
    pub dropped_checksum: u64,
    /// VRRPv3 IPv4 checksum without the pseudo-header, not enabled by `v3_checksum_as_v2`.
    pub dropped_checksum_message_only: u64,
    /// Refused by the codec for another reason (length, type, VRID 0, ...).
    pub dropped_malformed: u64,
    /// VRRPv3 IPv4 adverts whose checksum covered the pseudo-header (RFC 5798).
    pub checksum_pseudo_header_rx: u64,
    /// VRRPv3 IPv4 adverts checksummed like v2 (`v3_checksum_as_v2` peers).
    pub checksum_message_only_rx: u64,
    /// VRRPv3 IPv4 unicast adverts with the multicast group in the
    /// pseudo-header (keepalived's `old_unicast_checksum`).
    pub checksum_old_unicast_rx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConflictRecord {
    pub peer: IpAddr,
    pub conflict: Conflict,
    pub count: u64,
    /// When the last log line about it went out, and `count` then.
    #[serde(skip)]
    reported_at: Option<Instant>,
    #[serde(skip)]
    reported_count: u64,
}

/// Serialisable view of an instance for `lvsd list`/state files and tests.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub name: String,
    pub vrid: u8,
    pub state: State,
    pub priority: u8,
    pub effective_priority: u8,
    pub master_addr: Option<IpAddr>,
    pub master_advert_int_cs: u32,
    pub counters: Counters,
    pub conflicts: Vec<ConflictRecord>,
    pub faults: Vec<TrackId>,
    /// Each tracked file's last value.
    pub track_files: BTreeMap<String, i32>,
    /// The priority in the current master's last advert (ours while MASTER).
    pub master_priority: Option<u8>,
    /// Each tracked interface and script: up (after `reverse`)?
    pub tracks_up: Vec<TrackUp>,
    /// What each tracked object adds to (or takes from) the configured
    /// priority now, those that change it only: "script chk_nginx" → -10.
    /// Their sum, clamped to 1..=254, is the effective priority (an address
    /// owner's stays 255).
    #[serde(default)]
    pub priority_changes: Vec<(String, i32)>,
    /// When the instance entered its state (Unix seconds); stamped by the
    /// runner, which has the wall clock (this module is pure).
    pub state_since: Option<f64>,
    /// The phase times of its takeovers, kept by the runner.
    pub takeovers: super::takeover::TakeoverLog,
}

/// "script chk_nginx", "file weights", "interface eth1": how the status
/// names a tracked object.
fn track_label(id: &TrackId) -> String {
    match id {
        TrackId::Interface(n) => format!("interface {n}"),
        TrackId::Script(n) => format!("script {n}"),
        TrackId::File(n) => format!("file {n}"),
        TrackId::Address(a) => format!("address {a}"),
        TrackId::Process(n) => format!("process {n}"),
    }
}

/// A tracked interface or script and whether it is up now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackUp {
    /// "interface" or "script".
    pub kind: &'static str,
    pub name: String,
    pub up: bool,
    /// A script's runs, filled in by the runner (which runs them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<super::track::ScriptRuns>,
}

struct TrackState {
    weight: i32,
    reverse: bool,
    reading: Reading,
}

/// What was last reported of a tracked object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Interfaces and scripts.
    Up(bool),
    /// Files: the number in it.
    Value(i32),
}

impl Reading {
    /// The reading a tracked object starts with.
    fn initial(t: &super::config::TrackConfig) -> Reading {
        match t.id {
            TrackId::File(_) => Reading::Value(t.initial_value),
            _ => Reading::Up(t.initially_up),
        }
    }
}

impl TrackState {
    fn demands_fault(&self) -> bool {
        match self.reading {
            Reading::Value(v) => {
                super::track::file_effect(v, self.weight, self.reverse) == FileEffect::Fault
            }
            Reading::Up(up) => self.weight == 0 && (up == self.reverse),
        }
    }

    fn priority_change(&self) -> i32 {
        match self.reading {
            Reading::Value(v) => match super::track::file_effect(v, self.weight, self.reverse) {
                FileEffect::Adjust(d) => d,
                FileEffect::Fault => 0,
            },
            Reading::Up(up) => {
                // `reverse` swaps the condition (up/down), not the sign of the weight.
                let up = up != self.reverse;
                if (self.weight > 0 && up) || (self.weight < 0 && !up) {
                    self.weight
                } else {
                    0
                }
            }
        }
    }
}

pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    effective_priority: u8,
    tracks: BTreeMap<TrackId, TrackState>,
    /// Sync group says FAULT although our own tracks are fine.
    group_fault: bool,
    master_addr: Option<IpAddr>,
    /// The priority the current master last advertised (BACKUP).
    master_priority: Option<u8>,
    master_adv_int_cs: u32,
    adver_at: Option<Instant>,
    master_down_at: Option<Instant>,
    garp_at: Option<Instant>,
    refresh_at: Option<Instant>,
    /// The next `garp_extra_if` round.
    extra_if_at: Option<Instant>,
    /// The delayed bursts after adverts of lower priority
    /// (`garp_lower_prio_delay`), oldest first: one per advert, as keepalived,
    /// at most [`MAX_LOWER_PRIO_BURSTS`] (a flood of such adverts must not
    /// grow this without bound).
    lower_prio_garp_at: std::collections::VecDeque<Instant>,
    /// Why the down timer runs: what a takeover at its end is counted as.
    down_cause: MasterCause,
    /// When the last advert from a master arrived (BACKUP), for the
    /// takeover's detection time.
    last_master_heard: Option<Instant>,
    /// preempt_delay: until this instant a lower priority master is still accepted.
    preempt_until: Option<Instant>,
    last_timer: Option<Instant>,
    counters: Counters,
    conflicts: BTreeMap<(IpAddr, &'static str), ConflictRecord>,
    /// A peer's old unicast checksum switched this instance to that form
    /// (`OldUnicastChecksum::Auto`); a reload starts over, as in keepalived.
    old_checksum_detected: bool,
}

impl Instance {
    pub fn new(cfg: InstanceConfig) -> Instance {
        let tracks = cfg
            .tracks
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    TrackState {
                        weight: t.weight,
                        reverse: t.reverse,
                        reading: Reading::initial(t),
                    },
                )
            })
            .collect();
        let mut inst = Instance {
            master_adv_int_cs: cfg.advert_int_cs,
            effective_priority: cfg.priority,
            cfg,
            state: State::Initialize,
            tracks,
            group_fault: false,
            master_addr: None,
            master_priority: None,
            adver_at: None,
            master_down_at: None,
            garp_at: None,
            refresh_at: None,
            extra_if_at: None,
            lower_prio_garp_at: Default::default(),
            down_cause: MasterCause::Timeout,
            last_master_heard: None,
            preempt_until: None,
            last_timer: None,
            counters: Counters::default(),
            conflicts: BTreeMap::new(),
            old_checksum_detected: false,
        };
        inst.effective_priority = inst.compute_priority();
        inst
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            name: self.cfg.name.clone(),
            vrid: self.cfg.vrid,
            state: self.state,
            priority: self.cfg.priority,
            effective_priority: self.effective_priority,
            master_addr: match self.state {
                State::Master => self.cfg.src_addr,
                _ => self.master_addr,
            },
            master_advert_int_cs: self.master_adv_int_cs,
            counters: self.counters.clone(),
            conflicts: self.conflicts.values().cloned().collect(),
            faults: self.own_faults(),
            track_files: self
                .tracks
                .iter()
                .filter_map(|(id, t)| match (id, t.reading) {
                    (TrackId::File(name), Reading::Value(v)) => Some((name.clone(), v)),
                    _ => None,
                })
                .collect(),
            master_priority: match self.state {
                State::Master => Some(self.effective_priority),
                State::Backup => self.master_priority,
                _ => None,
            },
            tracks_up: self
                .tracks
                .iter()
                .filter_map(|(id, t)| {
                    let Reading::Up(up) = t.reading else {
                        return None;
                    };
                    let (kind, name) = match id {
                        TrackId::Interface(name) => ("interface", name.clone()),
                        TrackId::Process(name) => ("process", name.clone()),
                        TrackId::Address(addr) => ("address", addr.to_string()),
                        TrackId::Script(name) => ("script", name.clone()),
                        _ => return None,
                    };
                    Some(TrackUp {
                        kind,
                        name,
                        up,
                        runs: None,
                    })
                })
                .collect(),
            priority_changes: self
                .tracks
                .iter()
                .filter(|(_, t)| t.priority_change() != 0)
                .map(|(id, t)| (track_label(id), t.priority_change()))
                .collect(),
            state_since: None,
            takeovers: Default::default(),
        }
    }

    /// Start the instance: FAULT if a tracked object is down, MASTER at once as
    /// address owner (priority 255), otherwise BACKUP waiting for the master
    /// down timer (keepalived does this for `state MASTER` too).
    pub fn on_start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.in_fault() {
            self.enter_fault(now, &mut out);
        } else if self.cfg.priority == 255 {
            self.enter_master(now, MasterCause::Owner, &mut out);
        } else {
            self.enter_backup(now, &mut out);
            if !self.cfg.preempt_delay.is_zero() && self.cfg.initial_state == InitialState::Backup {
                let until = now + self.master_down_interval() + self.cfg.preempt_delay;
                self.preempt_until = Some(until);
                self.master_down_at = Some(until);
            }
        }
        self.finish(&mut out);
        out
    }

    /// SIGHUP with this instance still configured (same name, interface,
    /// VRID, family and version; see `reload::restart_reason`): take the new
    /// settings and keep the state. A master sends no priority 0 advert and
    /// changes only the VIPs and routes that differ; tracked objects still
    /// configured keep their up/down state; priority is recomputed and the
    /// protocol's normal rules decide from the next advert on.
    pub fn reconfigure(&mut self, now: Instant, cfg: InstanceConfig) -> Vec<Action> {
        let mut out = Vec::new();
        let old = std::mem::replace(&mut self.cfg, cfg);
        self.old_checksum_detected = false;
        self.tracks = self
            .cfg
            .tracks
            .iter()
            .map(|t| {
                // Interfaces and scripts keep their state; the runner read files again.
                let reading = match (
                    self.tracks.get(&t.id).map(|s| s.reading),
                    Reading::initial(t),
                ) {
                    (Some(kept @ Reading::Up(_)), Reading::Up(_)) => kept,
                    (_, fresh) => fresh,
                };
                let state = TrackState {
                    weight: t.weight,
                    reverse: t.reverse,
                    reading,
                };
                (t.id.clone(), state)
            })
            .collect();
        let before_priority = self.effective_priority;
        self.effective_priority = self.compute_priority();
        if self.state == State::Backup && self.cfg.version == Version::V2 {
            self.master_adv_int_cs = self.cfg.advert_int_cs;
        }
        if !self.cfg.preempt || self.cfg.preempt_delay.is_zero() {
            self.preempt_until = None;
        }
        let fault = self.in_fault();
        if self.state == State::Master {
            let all = |c: &InstanceConfig| -> Vec<VipConfig> {
                c.vips.iter().chain(&c.excluded_vips).cloned().collect()
            };
            let vips = super::reload::diff(&all(&old), &all(&self.cfg));
            let routes = super::reload::diff(&old.routes, &self.cfg.routes);
            let rules = super::reload::diff(&old.rules, &self.cfg.rules);
            let added_addrs: Vec<IpAddr> = vips.added.iter().map(|v| v.addr).collect();
            let advertised_changed = old.vips != self.cfg.vips;
            if !vips.is_empty() || !routes.is_empty() || !rules.is_empty() {
                out.push(Action::ChangeVips {
                    removed: vips.removed,
                    added: vips.added,
                    removed_routes: routes.removed,
                    added_routes: routes.added,
                    removed_rules: rules.removed,
                    added_rules: rules.added,
                });
            }
            if !added_addrs.is_empty() && !fault {
                out.push(Action::GarpAddrs {
                    addrs: added_addrs,
                    repeat: self.cfg.garp.master_repeat,
                });
            }
            if self.cfg.garp.master_refresh.is_zero() {
                self.refresh_at = None;
            } else if old.garp.master_refresh != self.cfg.garp.master_refresh {
                self.refresh_at = Some(now + self.cfg.garp.master_refresh);
            }
            if self.cfg.garp.extra_if.is_zero() {
                self.extra_if_at = None;
            } else if old.garp.extra_if != self.cfg.garp.extra_if {
                self.extra_if_at = Some(now + self.cfg.garp.extra_if);
            }
            // Tell the peers at once what changed (never priority 0).
            if (advertised_changed || before_priority != self.effective_priority) && !fault {
                self.send_advert(self.effective_priority, &mut out);
                self.adver_at = Some(now + self.cfg.advert_interval());
            }
        }
        match (self.state, fault) {
            (State::Master | State::Backup, true) => self.enter_fault(now, &mut out),
            (State::Fault, false) => self.enter_backup(now, &mut out),
            _ => {}
        }
        self.finish(&mut out);
        out
    }

    /// Graceful stop: a master hands over with priority 0 and drops its VIPs.
    pub fn on_shutdown(&mut self, _now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.count_release(ReleaseCause::Stop);
            self.send_advert(0, &mut out);
            out.push(Action::RemoveVips);
        }
        self.state = State::Initialize;
        self.clear_timers();
        out.push(Action::Notify {
            state: State::Initialize,
            priority: self.effective_priority,
        });
        out
    }

    /// A reload removes this instance (or replaces it by one that differs in
    /// VRID, interface or family, which keepalived also treats as removed):
    /// hand over like a stop, but report as keepalived 2.2.7 does: DELETED
    /// with `notify_deleted`, else FAULT (nothing if already in FAULT).
    pub fn on_delete(&mut self, _now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.count_release(ReleaseCause::Stop);
            self.send_advert(0, &mut out);
            out.push(Action::RemoveVips);
        }
        let before = self.state;
        self.state = State::Initialize;
        self.clear_timers();
        let priority = self.effective_priority;
        if self.cfg.notify_deleted {
            out.push(Action::NotifyDeleted { priority });
        } else if before != State::Fault {
            out.push(Action::Notify {
                state: State::Fault,
                priority,
            });
        }
        out
    }

    /// A tracked object went up or down.
    pub fn on_track(&mut self, now: Instant, id: &TrackId, up: bool) -> Vec<Action> {
        self.on_reading(now, id, Reading::Up(up))
    }

    /// A tracked file now holds `value`.
    pub fn on_track_value(&mut self, now: Instant, id: &TrackId, value: i32) -> Vec<Action> {
        self.on_reading(now, id, Reading::Value(value))
    }

    /// A new reading of the same kind as the tracked object's changes it.
    fn on_reading(&mut self, now: Instant, id: &TrackId, reading: Reading) -> Vec<Action> {
        let mut out = Vec::new();
        match self.tracks.get_mut(id) {
            Some(t)
                if t.reading != reading
                    && std::mem::discriminant(&t.reading) == std::mem::discriminant(&reading) =>
            {
                t.reading = reading
            }
            _ => return out,
        }
        self.reevaluate(now, &mut out);
        self.finish(&mut out);
        out
    }

    /// The sync group forces FAULT (or releases it) because of another member.
    pub fn set_group_fault(&mut self, now: Instant, fault: bool) -> Vec<Action> {
        let mut out = Vec::new();
        if self.group_fault != fault {
            self.group_fault = fault;
            self.reevaluate(now, &mut out);
            self.finish(&mut out);
        }
        out
    }

    /// The sync group moves this member to MASTER because another member became master.
    pub fn force_master(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Backup {
            self.enter_master(now, MasterCause::SyncGroup, &mut out);
            self.finish(&mut out);
        }
        out
    }

    /// The sync group moves this member to BACKUP because another member lost mastership.
    pub fn force_backup(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.leave_master(now, ReleaseCause::SyncGroup, &mut out);
            self.finish(&mut out);
        }
        out
    }

    fn reevaluate(&mut self, now: Instant, out: &mut Vec<Action>) {
        let before = self.effective_priority;
        self.effective_priority = self.compute_priority();
        if before != self.effective_priority && self.cfg.notify_priority_changes {
            out.push(Action::PriorityChanged {
                state: self.state,
                priority: self.effective_priority,
            });
        }
        let fault = self.in_fault();
        match (self.state, fault) {
            (State::Master | State::Backup, true) => self.enter_fault(now, out),
            (State::Fault, false) => self.enter_backup(now, out),
            _ => {}
        }
    }

    fn own_faults(&self) -> Vec<TrackId> {
        self.tracks
            .iter()
            .filter(|(_, t)| t.demands_fault())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A tracked object of this instance (not its sync group) demands FAULT.
    pub fn has_own_fault(&self) -> bool {
        self.cfg.config_fault || !self.own_faults().is_empty()
    }

    fn in_fault(&self) -> bool {
        self.cfg.config_fault || self.group_fault || !self.own_faults().is_empty()
    }

    fn compute_priority(&self) -> u8 {
        if self.cfg.priority == 255 {
            return 255; // address owner: tracking never changes it
        }
        let mut p = i32::from(self.cfg.priority);
        for t in self.tracks.values() {
            p = p.saturating_add(t.priority_change());
        }
        p.clamp(1, 254) as u8
    }

    /// RFC 3768/5798: Master_Down_Interval = 3 × interval + Skew_Time (3 is
    /// keepalived's `down_timer_adverts`),
    /// Skew_Time = ((256 − Priority) × interval) / 256. VRRPv3 uses the master's interval.
    pub fn master_down_interval(&self) -> Duration {
        let int_cs = match self.cfg.version {
            Version::V2 => self.cfg.advert_int_cs,
            Version::V3 => self.master_adv_int_cs,
        };
        let interval = Duration::from_millis(u64::from(int_cs) * 10);
        self.cfg.down_timer_adverts * interval + self.skew_time()
    }

    /// The interval the master advertises at (VRRPv3: its own; v2: ours).
    fn master_advert_interval(&self) -> Duration {
        let int_cs = match self.cfg.version {
            Version::V2 => self.cfg.advert_int_cs,
            Version::V3 => self.master_adv_int_cs,
        };
        Duration::from_millis(u64::from(int_cs) * 10)
    }

    pub fn skew_time(&self) -> Duration {
        let int_cs = match self.cfg.version {
            Version::V2 => self.cfg.advert_int_cs,
            Version::V3 => self.master_adv_int_cs,
        };
        let us = u64::from(int_cs) * 10_000 * (256 - u64::from(self.effective_priority)) / 256;
        Duration::from_micros(us)
    }

    fn clear_timers(&mut self) {
        self.adver_at = None;
        self.master_down_at = None;
        self.garp_at = None;
        self.refresh_at = None;
        self.extra_if_at = None;
        self.lower_prio_garp_at.clear();
    }

    fn enter_master(&mut self, now: Instant, cause: MasterCause, out: &mut Vec<Action>) {
        let detection = match cause {
            MasterCause::Timeout | MasterCause::PriorityZero => self
                .last_master_heard
                .map(|t| now.saturating_duration_since(t)),
            _ => None,
        };
        self.last_master_heard = None;
        out.push(Action::Takeover { detection });
        self.state = State::Master;
        self.clear_timers();
        self.preempt_until = None;
        self.master_addr = None;
        self.counters.became_master += 1;
        let c = &mut self.counters;
        *match cause {
            MasterCause::Timeout => &mut c.became_master_timeout,
            MasterCause::PriorityZero => &mut c.became_master_priority_zero,
            MasterCause::Preempt => &mut c.became_master_preempt,
            MasterCause::SyncGroup => &mut c.became_master_sync_group,
            MasterCause::Owner => &mut c.became_master_owner,
            MasterCause::VipDeleted => &mut c.became_master_vip_deleted,
        } += 1;
        out.push(Action::AddVips);
        self.send_advert(self.effective_priority, out);
        out.push(Action::Garp {
            repeat: self.cfg.garp.master_repeat,
        });
        out.push(Action::Notify {
            state: State::Master,
            priority: self.effective_priority,
        });
        self.adver_at = Some(now + self.cfg.advert_interval());
        if !self.cfg.garp.master_delay.is_zero() {
            self.garp_at = Some(now + self.cfg.garp.master_delay);
        }
        if !self.cfg.garp.master_refresh.is_zero() {
            self.refresh_at = Some(now + self.cfg.garp.master_refresh);
        }
        if !self.cfg.garp.extra_if.is_zero() {
            self.extra_if_at = Some(now + self.cfg.garp.extra_if);
        }
    }

    fn enter_backup(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.state = State::Backup;
        self.clear_timers();
        self.master_adv_int_cs = self.cfg.advert_int_cs;
        self.master_down_at = Some(now + self.master_down_interval());
        out.push(Action::Notify {
            state: State::Backup,
            priority: self.effective_priority,
        });
    }

    fn count_release(&mut self, cause: ReleaseCause) {
        let c = &mut self.counters;
        c.released_master += 1;
        *match cause {
            ReleaseCause::HigherPriority => &mut c.released_master_higher_priority,
            ReleaseCause::Fault => &mut c.released_master_fault,
            ReleaseCause::SyncGroup => &mut c.released_master_sync_group,
            ReleaseCause::Stop => &mut c.released_master_stop,
            ReleaseCause::VipDeleted => &mut c.released_master_vip_deleted,
        } += 1;
    }

    fn leave_master(&mut self, now: Instant, cause: ReleaseCause, out: &mut Vec<Action>) {
        self.count_release(cause);
        out.push(Action::RemoveVips);
        self.enter_backup(now, out);
    }

    fn enter_fault(&mut self, _now: Instant, out: &mut Vec<Action>) {
        if self.state == State::Master {
            // Hand over at once instead of making the backup wait out its timer.
            self.send_advert(0, out);
            self.count_release(ReleaseCause::Fault);
            out.push(Action::RemoveVips);
        }
        self.state = State::Fault;
        self.clear_timers();
        self.master_addr = None;
        out.push(Action::Notify {
            state: State::Fault,
            priority: self.effective_priority,
        });
    }

    fn send_advert(&mut self, priority: u8, out: &mut Vec<Action>) {
        self.counters.adverts_tx += 1;
        if priority == 0 {
            self.counters.priority_zero_tx += 1;
        }
        out.push(Action::Send(self.build_advert(priority)));
    }

    /// The advert this instance sends with the given priority.
    pub fn build_advert(&self, priority: u8) -> Advert {
        let body = match self.cfg.version {
            Version::V2 => Body::V2 {
                auth_type: if self.cfg.auth_pass.is_some() {
                    AuthType::SimpleText
                } else {
                    AuthType::None
                },
                advert_int_s: u8::try_from(self.cfg.advert_int_cs / 100)
                    .unwrap_or(u8::MAX)
                    .max(1),
                auth_data: self.cfg.auth_pass.unwrap_or_default(),
            },
            Version::V3 => Body::V3 {
                reserved: 0,
                max_advert_int_cs: u16::try_from(self.cfg.advert_int_cs.min(0x0fff))
                    .unwrap_or(0x0fff),
            },
        };
        Advert {
            kind: AdvertType::Advertisement,
            vrid: self.cfg.vrid,
            priority,
            body,
            checksum: 0,
            addresses: self.cfg.vips.iter().map(|v| v.addr).collect(),
        }
    }

    /// Timers that are due fire; call at (or after) the last `SetTimer`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            State::Master => {
                if let Some(due) = self.adver_at.filter(|t| *t <= now) {
                    self.send_advert(self.effective_priority, &mut out);
                    self.adver_at = Some(next_advert(due, now, self.cfg.advert_interval()));
                }
                if self.garp_at.is_some_and(|t| t <= now) {
                    out.push(Action::Garp {
                        repeat: self.cfg.garp.master_repeat,
                    });
                    self.garp_at = None;
                }
                if self.refresh_at.is_some_and(|t| t <= now) {
                    out.push(Action::Garp {
                        repeat: self.cfg.garp.master_refresh_repeat,
                    });
                    self.refresh_at = Some(now + self.cfg.garp.master_refresh);
                }
                if self.extra_if_at.is_some_and(|t| t <= now) {
                    out.push(Action::GarpExtraInterfaces);
                    self.extra_if_at = Some(now + self.cfg.garp.extra_if);
                }
                while self.lower_prio_garp_at.front().is_some_and(|t| *t <= now) {
                    self.lower_prio_garp_at.pop_front();
                    out.push(Action::Garp {
                        repeat: self.cfg.garp.lower_prio_repeat,
                    });
                }
            }
            State::Backup => {
                if self.master_down_at.is_some_and(|t| t <= now) {
                    self.enter_master(now, self.down_cause, &mut out);
                }
            }
            State::Initialize | State::Fault => {}
        }
        self.finish(&mut out);
        out
    }

    /// Instance-level checks of an advert that passed `packet::validate_received`.
    fn check_advert(&mut self, src: IpAddr, advert: &Advert) -> Option<Conflict> {
        if advert.version() != self.cfg.version {
            self.counters.dropped_version += 1;
            return Some(Conflict::VersionMismatch {
                ours: self.cfg.version.number(),
                theirs: advert.version().number(),
            });
        }
        if let Body::V2 {
            auth_type,
            advert_int_s,
            auth_data,
        } = advert.body
        {
            // Over IPv6 (keepalived's VRRPv2 there) no password is carried:
            // only the type can be compared.
            let ipv6 = self.cfg.family == Family::V6;
            let auth_ok = match self.cfg.auth_pass {
                Some(pass) => auth_type == AuthType::SimpleText && (ipv6 || auth_data == pass),
                None => auth_type == AuthType::None,
            };
            if !auth_ok {
                self.counters.dropped_auth += 1;
                return Some(Conflict::AuthMismatch);
            }
            let theirs_cs = u32::from(advert_int_s) * 100;
            if theirs_cs != self.cfg.advert_int_cs {
                self.counters.dropped_advert_int += 1;
                return Some(Conflict::AdvertIntervalMismatch {
                    ours_cs: self.cfg.advert_int_cs,
                    theirs_cs,
                });
            }
        }
        // RFC 3768 7.1: a list that differs is dropped unless the sender owns the addresses.
        if !self.cfg.skip_check_adv_addr && advert.priority != 255 {
            let mut ours: Vec<IpAddr> = self.cfg.vips.iter().map(|v| v.addr).collect();
            let mut theirs = advert.addresses.clone();
            ours.sort();
            theirs.sort();
            if ours != theirs {
                self.counters.dropped_vips += 1;
                return Some(Conflict::VipListMismatch { ours, theirs });
            }
        }
        let _ = src;
        None
    }

    fn record_conflict(
        &mut self,
        now: Instant,
        peer: IpAddr,
        conflict: Conflict,
        out: &mut Vec<Action>,
    ) {
        let mut key = (peer, conflict.key());
        if !self.conflicts.contains_key(&key) && self.conflicts.len() >= MAX_CONFLICT_RECORDS {
            let unspecified = match peer {
                IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            };
            key = (unspecified, conflict.key());
        }
        let rec = self.conflicts.entry(key).or_insert_with(|| ConflictRecord {
            peer: key.0,
            conflict: conflict.clone(),
            count: 0,
            reported_at: None,
            reported_count: 0,
        });
        rec.count += 1;
        rec.conflict = conflict.clone();
        let due = rec
            .reported_at
            .is_none_or(|t| now.saturating_duration_since(t) >= DROP_REPORT_INTERVAL);
        if due {
            out.push(Action::ConflictDetected {
                peer: rec.peer,
                conflict,
                dropped: rec.count - rec.reported_count,
                first: rec.reported_at.is_none(),
            });
            rec.reported_at = Some(now);
            rec.reported_count = rec.count;
        }
    }

    /// The receive checks that depend on this instance's configuration.
    pub fn rx_policy(&self) -> RxPolicy<'_> {
        let unicast = !self.cfg.unicast_peers.is_empty();
        // keepalived's old form exists only for VRRPv3 IPv4 unicast.
        let old_applies =
            unicast && self.cfg.version == Version::V3 && self.cfg.family == Family::V4;
        let (pseudo_header, old_unicast) = match (old_applies, self.cfg.old_unicast_checksum) {
            (false, _) | (true, OldUnicastChecksum::Never) => (true, false),
            (true, OldUnicastChecksum::Always) => (false, true),
            (true, OldUnicastChecksum::Auto) => (!self.old_checksum_detected, true),
        };
        RxPolicy {
            unicast,
            group: (!unicast).then(|| self.cfg.group()),
            check_src: (unicast && self.cfg.check_unicast_src).then_some(&self.cfg.unicast_peers),
            checksum: ChecksumAccept {
                pseudo_header,
                old_unicast,
                message_only: self.cfg.v3_checksum_as_v2,
            },
        }
    }

    /// How an advert from `src` to `dst` is checksummed on the wire.
    pub fn send_checksum(&self, src: IpAddr, dst: IpAddr) -> ChecksumMode {
        let old = match self.cfg.old_unicast_checksum {
            OldUnicastChecksum::Always => true,
            OldUnicastChecksum::Auto => self.old_checksum_detected,
            OldUnicastChecksum::Never => false,
        };
        match (self.cfg.version, self.cfg.family) {
            (Version::V2, Family::V4) => ChecksumMode::MessageOnly,
            (Version::V2, Family::V6) => ChecksumMode::PseudoHeader { src, dst },
            (Version::V3, Family::V4) if self.cfg.v3_checksum_as_v2 => ChecksumMode::MessageOnly,
            (Version::V3, Family::V4) if old && !dst.is_multicast() => ChecksumMode::PseudoHeader {
                src,
                dst: IpAddr::V4(MCAST_V4),
            },
            (Version::V3, _) => ChecksumMode::PseudoHeader { src, dst },
        }
    }

    /// A VRRP message for our VRID arrived: the packet checks with this
    /// instance's policy (a drop is counted by reason and reported once per
    /// peer), then [`Instance::on_advert`].
    pub fn on_packet(&mut self, now: Instant, bytes: &[u8], meta: &RxMeta) -> Vec<Action> {
        let mut out = Vec::new();
        if Some(meta.src) == self.cfg.src_addr {
            return out;
        }
        match packet::validate_received(bytes, meta, &self.rx_policy()) {
            Ok((advert, kind)) => {
                if kind == ChecksumKind::OldUnicast
                    && self.cfg.old_unicast_checksum == OldUnicastChecksum::Auto
                    && !self.old_checksum_detected
                {
                    self.old_checksum_detected = true;
                    out.push(Action::OldUnicastChecksumDetected { peer: meta.src });
                }
                out.extend(self.on_advert(now, meta.src, &advert, kind));
            }
            Err(e) => {
                let conflict = self.count_drop(&e);
                self.record_conflict(now, meta.src, conflict, &mut out);
            }
        }
        out
    }

    fn count_drop(&mut self, e: &PacketError) -> Conflict {
        let c = &mut self.counters;
        match *e {
            PacketError::BadTtl(ttl) => {
                c.dropped_ttl += 1;
                Conflict::Ttl {
                    ttl,
                    min: packet::VRRP_TTL,
                    max: packet::VRRP_TTL,
                }
            }
            PacketError::TtlOutOfRange { ttl, min, max } => {
                c.dropped_ttl += 1;
                Conflict::Ttl { ttl, min, max }
            }
            PacketError::NotUnicastPeer => {
                c.dropped_unicast_src += 1;
                Conflict::NotUnicastPeer
            }
            PacketError::OtherGroup(_) => {
                c.dropped_destination += 1;
                Conflict::WrongDestination { multicast: true }
            }
            PacketError::UnexpectedMulticast | PacketError::UnexpectedUnicast => {
                c.dropped_destination += 1;
                Conflict::WrongDestination {
                    multicast: *e == PacketError::UnexpectedMulticast,
                }
            }
            PacketError::BadChecksum { .. } => {
                c.dropped_checksum += 1;
                Conflict::BadChecksum
            }
            PacketError::MessageOnlyChecksum { .. } => {
                c.dropped_checksum_message_only += 1;
                Conflict::MessageOnlyChecksum
            }
            _ => {
                c.dropped_malformed += 1;
                Conflict::Malformed {
                    error: e.to_string(),
                }
            }
        }
    }

    /// A validated advert for our VRID arrived from `src`.
    pub fn on_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &Advert,
        checksum: ChecksumKind,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if advert.vrid != self.cfg.vrid || Some(src) == self.cfg.src_addr {
            return out;
        }
        self.counters.adverts_rx += 1;
        if advert.version() == Version::V3 && src.is_ipv4() {
            match checksum {
                ChecksumKind::PseudoHeader => self.counters.checksum_pseudo_header_rx += 1,
                ChecksumKind::MessageOnly => self.counters.checksum_message_only_rx += 1,
                ChecksumKind::OldUnicast => self.counters.checksum_old_unicast_rx += 1,
            }
        }
        if let Some(conflict) = self.check_advert(src, advert) {
            self.record_conflict(now, src, conflict, &mut out);
            return out;
        }
        if advert.priority == 0 {
            self.counters.priority_zero_rx += 1;
        }
        match self.state {
            State::Backup => self.backup_rx(now, src, advert),
            State::Master => self.master_rx(now, src, advert, &mut out),
            State::Initialize | State::Fault => {}
        }
        self.finish(&mut out);
        out
    }

    fn backup_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert) {
        self.last_master_heard = Some(now);
        if advert.priority == 0 {
            // The master is leaving: take over after Skew_Time.
            self.master_down_at = Some(now + self.skew_time());
            self.down_cause = MasterCause::PriorityZero;
            return;
        }
        let lower = advert.priority < self.effective_priority;
        if lower && self.cfg.preempt {
            // Preempt: ignore a lower priority master and let the timer run out,
            // unless preempt_delay still holds us back.
            if self.cfg.preempt_delay.is_zero() {
                self.down_cause = MasterCause::Preempt;
                return;
            }
            let until = *self
                .preempt_until
                .get_or_insert(now + self.cfg.preempt_delay);
            if now >= until {
                self.down_cause = MasterCause::Preempt;
                return;
            }
        }
        // The master's advert came with less than an interval to spare.
        if self
            .master_down_at
            .is_some_and(|t| t.saturating_duration_since(now) < self.master_advert_interval())
        {
            self.counters.near_failovers += 1;
        }
        self.down_cause = MasterCause::Timeout;
        if let Version::V3 = self.cfg.version {
            if let Body::V3 {
                max_advert_int_cs, ..
            } = advert.body
            {
                self.master_adv_int_cs = u32::from(max_advert_int_cs).max(1);
            }
        }
        self.master_addr = Some(src);
        self.master_priority = Some(advert.priority);
        self.master_down_at = Some(now + self.master_down_interval());
    }

    fn master_rx(&mut self, now: Instant, src: IpAddr, advert: &Advert, out: &mut Vec<Action>) {
        if advert.priority == 0 {
            // Another router is stopping: reassert ourselves at once.
            self.send_advert(self.effective_priority, out);
            self.adver_at = Some(now + self.cfg.advert_interval());
            return;
        }
        let ours = self.effective_priority;
        let higher = advert.priority > ours
            || (advert.priority == ours && self.cfg.src_addr.is_some_and(|mine| src > mine));
        if higher {
            if self.cfg.higher_prio_send_advert {
                // One last advert at our (lower) priority, so the other
                // master re-announces its addresses (keepalived's option).
                self.send_advert(ours, out);
            }
            self.leave_master(now, ReleaseCause::HigherPriority, out);
            if let (
                Version::V3,
                Body::V3 {
                    max_advert_int_cs, ..
                },
            ) = (self.cfg.version, &advert.body)
            {
                self.master_adv_int_cs = u32::from(*max_advert_int_cs).max(1);
                self.master_down_at = Some(now + self.master_down_interval());
            }
            self.master_addr = Some(src);
            self.master_priority = Some(advert.priority);
        } else {
            if !self.cfg.lower_prio_no_advert {
                // keepalived's default: answer a lower priority master at once so a
                // healed split brain settles within one round trip.
                self.send_advert(ours, out);
                self.adver_at = Some(now + self.cfg.advert_interval());
            }
            self.lower_prio_garp(now, out);
            out.push(Action::MasterRxLowerPri {
                peer: src,
                priority: advert.priority,
            });
        }
    }

    /// While master, after an advert of lower priority (to this instance or,
    /// through its sync group, to another member): re-announce the VIPs
    /// `garp_lower_prio_repeat` times now and again `garp_lower_prio_delay`
    /// later (one delayed burst per advert, as keepalived).
    pub fn lower_prio_garp(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Master || self.cfg.garp.lower_prio_repeat == 0 {
            return;
        }
        out.push(Action::Garp {
            repeat: self.cfg.garp.lower_prio_repeat,
        });
        if !self.cfg.garp.lower_prio_delay.is_zero()
            && self.lower_prio_garp_at.len() < MAX_LOWER_PRIO_BURSTS
        {
            self.lower_prio_garp_at
                .push_back(now + self.cfg.garp.lower_prio_delay);
        }
    }

    /// One of this instance's tracked VIPs was deleted by someone else (an
    /// operator, a network manager). As keepalived 2.2.7: a master steps down
    /// to BACKUP (its other VIPs go too) and takes over again after Skew_Time,
    /// which puts every VIP back and announces them; the peers see no priority
    /// 0 advert. Not master: nothing (the VIPs are not ours to hold).
    pub fn on_vip_deleted(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.leave_master(now, ReleaseCause::VipDeleted, &mut out);
            self.master_down_at = Some(now + self.skew_time());
            self.down_cause = MasterCause::VipDeleted;
        }
        self.finish(&mut out);
        out
    }

    /// Forced to BACKUP by a sibling that lost a VIP: as
    /// [`Self::on_vip_deleted`], back after Skew_Time.
    pub fn on_sibling_vip_deleted(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.leave_master(now, ReleaseCause::SyncGroup, &mut out);
            self.master_down_at = Some(now + self.skew_time());
            self.down_cause = MasterCause::SyncGroup;
        }
        self.finish(&mut out);
        out
    }

    /// [`Self::lower_prio_garp`] for a sync group sibling, with the timer call.
    pub fn on_sibling_lower_prio(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.lower_prio_garp(now, &mut out);
        self.finish(&mut out);
        out
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.adver_at,
            self.master_down_at,
            self.garp_at,
            self.refresh_at,
            self.extra_if_at,
            self.lower_prio_garp_at.front().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn finish(&mut self, out: &mut Vec<Action>) {
        let vips = self.cfg.vips.len() as u64;
        for a in out.iter() {
            match a {
                Action::Garp { repeat } => {
                    self.counters.announcements += u64::from(*repeat) * vips;
                }
                Action::GarpAddrs { addrs, repeat } => {
                    self.counters.announcements += u64::from(*repeat) * addrs.len() as u64;
                }
                _ => {}
            }
        }
        let next = self.next_deadline();
        if next != self.last_timer {
            self.last_timer = next;
            if let Some(t) = next {
                out.push(Action::SetTimer(t));
            }
        }
    }

    /// The instant the caller should next call `on_timer`, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.next_deadline()
    }
}
