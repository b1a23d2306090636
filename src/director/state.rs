//! The director's state machine: real-server verdicts, quorum per virtual
//! server, draining of removed real servers, and the desired IPVS table that
//! follows from them. Pure: events in, actions and tables out, virtual time.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ipvs::model::{Destination, ServiceKey, Table};
use serde::Serialize;

use super::admin::{AdminOverride, AdminState};
use super::spec::{DirectorSpec, RealServerKey, RealServerSpec, VirtualServerSpec};
use crate::config::model::ScriptCommand;

/// How long a real server removed by a reload is kept with weight 0 at most
/// while its connections finish.
pub const DRAIN_BOUND: Duration = Duration::from_secs(60);

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a notify / quorum script; `why` is for the log.
    /// (Boxed, as `AdminDropped`'s override: a start-up holds one action
    /// per real server, nearly all of them `StartChecks`.)
    RunScript {
        script: Box<ScriptCommand>,
        why: String,
    },
    /// Start checking this real server (its checks carry no id yet).
    StartChecks {
        key: RealServerKey,
        checks: Arc<checkers::RealServerChecks>,
    },
    /// Stop checking this real server.
    StopChecks { key: RealServerKey },
    /// A reload removed this real server: its admin override is dropped
    /// (log it, rewrite the state file).
    AdminDropped {
        key: RealServerKey,
        admin: Box<AdminOverride>,
    },
}

/// What the director knows about one real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RealServerState {
    /// In service: its checkers say up and no FILE_CHECK takes it down.
    pub up: bool,
    /// What its checkers say (up without checkers).
    #[serde(skip)]
    checked_up: bool,
    /// Weight to program while up (misc_dynamic may have moved it).
    pub weight: u32,
    /// Why it last changed state ("" before any check).
    pub reason: String,
    /// The weight the checker runner was started with, to tell misc_dynamic
    /// weights from the configured one after a reload changed it.
    #[serde(skip)]
    runner_weight: u32,
    /// When `up` last changed (Unix seconds), for status and metrics only:
    /// the one wall-clock read of the director, never used in a decision.
    #[serde(skip)]
    pub since: u64,
    /// Times it went down (status and metrics only).
    #[serde(skip)]
    pub down_transitions: u64,
    /// Seconds spent down before the current state (status and metrics only;
    /// add `now - since` while down).
    #[serde(skip)]
    pub downtime_before: u64,
}

/// Now, in Unix seconds (see [`RealServerState::since`]).
fn wall_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl RealServerState {
    /// Sets `up`, stamping `since` with `now` (Unix seconds) when it changes.
    fn set_up(&mut self, up: bool, now: u64) {
        if self.up != up {
            if up {
                self.downtime_before += now.saturating_sub(self.since);
            } else {
                self.down_transitions += 1;
            }
            self.since = now;
        }
        self.up = up;
    }

    /// Seconds spent down so far, the current spell included, at `now`.
    pub fn downtime(&self, now: u64) -> u64 {
        self.downtime_before
            + if self.up {
                0
            } else {
                now.saturating_sub(self.since)
            }
    }
}

/// A destination kept with weight 0 after its real server left the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainingDest {
    pub service: ServiceKey,
    pub dest: Destination,
    /// Deleted at this time even if connections remain.
    pub deadline: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct Director {
    spec: DirectorSpec,
    reals: BTreeMap<RealServerKey, RealServerState>,
    /// Per virtual server name: quorum reached?
    quorum: BTreeMap<Arc<str>, bool>,
    draining: BTreeMap<(ServiceKey, IpAddr, u16), DrainingDest>,
    /// FILE_CHECK: the number last read from each track_file (absent = 0).
    file_values: BTreeMap<Arc<str>, i32>,
    /// Operators' overrides (`lvsd ctl`), only for configured real servers.
    admin: BTreeMap<RealServerKey, AdminOverride>,
    /// The addresses on this machine's interfaces, once the daemon has
    /// reported them (`ha_suspend`).
    local_addrs: Option<std::collections::BTreeSet<std::net::IpAddr>>,
    /// `ha_suspend` virtual servers whose checkers are not running.
    suspended: std::collections::BTreeSet<Arc<str>>,
    /// Real servers adopted from the kernel's table and whether they were
    /// up, until their checks start (`initial_checks`).
    adopted: BTreeMap<RealServerKey, bool>,
}

fn real_key(vs: &VirtualServerSpec, rs: &RealServerSpec) -> RealServerKey {
    let (addr, port) = rs.key();
    RealServerKey {
        virtual_server: vs.name.clone(),
        addr,
        port,
    }
}

/// A new real server's state, `since` = `now` (Unix seconds: one clock read
/// serves a whole start-up or reload, where a read per server cost 0.5 s at
/// 10,000 real servers in UML, which has no vDSO).
fn initial_state(rs: &RealServerSpec, now: u64) -> RealServerState {
    let verdict = checkers::verdict::ServerVerdict::for_server(rs.checks.untargeted());
    RealServerState {
        up: verdict.is_up(),
        checked_up: verdict.is_up(),
        weight: rs.dest.weight,
        reason: String::new(),
        runner_weight: rs.dest.weight,
        since: now,
        down_transitions: 0,
        downtime_before: 0,
    }
}

fn start_checks(key: &RealServerKey, rs: &RealServerSpec) -> Option<Action> {
    (!rs.checks.is_empty()).then(|| Action::StartChecks {
        key: key.clone(),
        checks: Arc::new(rs.checks()),
    })
}

impl Director {
    /// A director for `spec`, with every real server in its initial state
    /// (up, or down under `alpha`), and the checks to start.
    pub fn new(spec: DirectorSpec) -> (Director, Vec<Action>) {
        let mut d = Director::unchecked(spec);
        let actions = d.initial_checks();
        (d, actions)
    }

    /// [`Director::new`] without the checks to start: the daemon asks for
    /// them with [`Director::initial_checks`] once the first table is
    /// written (10,000 actions held across the writing were 140 pages of a
    /// start-up, each a trap in UML).
    pub fn unchecked(spec: DirectorSpec) -> Director {
        let mut d = Director::default();
        let now = wall_clock();
        // Inserted one at a time, not collected: a map built at once first
        // collects its entries into one vector as large as itself, a
        // megabyte for 10,000 real servers that the holes the freed model
        // leaves cannot hold, so fresh pages at the top of the heap (each a
        // trap in UML; issue #19). The map's nodes are small and fill those
        // holes. A key given twice keeps its last state.
        for vs in &spec.virtual_servers {
            for rs in &vs.real_servers {
                d.reals.insert(real_key(vs, rs), initial_state(rs, now));
            }
        }
        d.spec = spec;
        d.recount_quorum();
        // ha_suspend: nothing is checked before the addresses are known.
        d.suspended = d
            .spec
            .virtual_servers
            .iter()
            .filter(|vs| vs.ha_suspend)
            .map(|vs| vs.name.clone())
            .collect();
        d
    }

    /// The checks a new director starts, once: every checked real server's,
    /// but those of suspended virtual servers; an adopted real server's
    /// checkers start in the state the kernel's table showed.
    pub fn initial_checks(&mut self) -> Vec<Action> {
        let adopted = std::mem::take(&mut self.adopted);
        let mut actions = Vec::new();
        for vs in &self.spec.virtual_servers {
            if self.suspended.contains(&vs.name) {
                continue;
            }
            for rs in &vs.real_servers {
                let key = real_key(vs, rs);
                let Some(mut action) = start_checks(&key, rs) else {
                    continue;
                };
                if let (Some(up), Action::StartChecks { checks, .. }) =
                    (adopted.get(&key), &mut action)
                {
                    for c in &mut Arc::make_mut(checks).checkers {
                        c.schedule.alpha = !*up;
                    }
                }
                actions.push(action);
            }
        }
        actions
    }

    /// The addresses now on this machine (`ha_suspend`): the checkers of a
    /// virtual server with `ha_suspend` run while one of its addresses is
    /// here and stop (its servers keep their verdicts) while none is, as
    /// keepalived suspends them while the VIP is on the VRRP master.
    pub fn set_local_addresses(
        &mut self,
        addrs: std::collections::BTreeSet<std::net::IpAddr>,
    ) -> Vec<Action> {
        self.local_addrs = Some(addrs);
        self.apply_suspension()
    }

    fn wants_suspension(&self, vs: &VirtualServerSpec) -> bool {
        vs.ha_suspend
            && !self.local_addrs.as_ref().is_some_and(|local| {
                vs.services.iter().any(|s| match s.key {
                    ipvs::model::ServiceKey::Inet { addr, .. } => local.contains(&addr),
                    // keepalived clears ha_suspend on fwmark services.
                    ipvs::model::ServiceKey::Fwmark { .. } => true,
                })
            })
    }

    fn apply_suspension(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        for vs in &self.spec.virtual_servers {
            let want = self.wants_suspension(vs);
            let have = self.suspended.contains(&vs.name);
            if want == have {
                continue;
            }
            let checked = vs.real_servers.iter().filter(|rs| !rs.checks.is_empty());
            if want {
                tracing::info!(
                    "{}: ha_suspend: no address of it here, checkers suspended",
                    vs.name
                );
                for rs in checked {
                    actions.push(Action::StopChecks {
                        key: real_key(vs, rs),
                    });
                }
                self.suspended.insert(vs.name.clone());
            } else {
                tracing::info!(
                    "{}: ha_suspend: its address is here, checkers resumed",
                    vs.name
                );
                for rs in checked {
                    let key = real_key(vs, rs);
                    // Resume in the state the server is in, as after a
                    // restart that adopts the table.
                    let up = self.reals.get(&key).is_none_or(|s| s.checked_up);
                    let mut checks = rs.checks();
                    for c in &mut checks.checkers {
                        c.schedule.alpha = !up;
                    }
                    actions.push(Action::StartChecks {
                        key,
                        checks: Arc::new(checks),
                    });
                }
                self.suspended.remove(&vs.name);
            }
        }
        actions
    }

    /// Removes the starts of checkers that belong to suspended virtual servers.
    fn drop_suspended_starts(&self, actions: &mut Vec<Action>) {
        if self.suspended.is_empty() {
            return;
        }
        actions.retain(|a| match a {
            Action::StartChecks { key, .. } => !self.suspended.contains(&key.virtual_server),
            _ => true,
        });
    }

    /// A director for `spec` that continues what the kernel already holds
    /// (a restart adopting its table). For each virtual server whose services
    /// are all in `kernel`, every checked real server starts in the state the
    /// table shows: in it with weight > 0 is up, absent or at weight 0 is
    /// down; its checkers start in that same state (`alpha` set to match), so
    /// the table is kept as it is and the checks confirm or correct it.
    /// Virtual servers not (fully) in the kernel start as configured.
    pub fn adopting(spec: DirectorSpec, kernel: &Table) -> (Director, Vec<Action>) {
        let mut d = Director::adopting_unchecked(spec, kernel);
        let actions = d.initial_checks();
        (d, actions)
    }

    /// [`Director::adopting`] without the checks to start (see
    /// [`Director::unchecked`]).
    pub fn adopting_unchecked(spec: DirectorSpec, kernel: &Table) -> Director {
        let mut d = Director::unchecked(spec);
        let mut adopted: BTreeMap<RealServerKey, bool> = BTreeMap::new();
        for vs in &d.spec.virtual_servers {
            let live: Vec<&Vec<Destination>> = vs
                .services
                .iter()
                .filter_map(|s| kernel.services.iter().find(|(k, _)| k.key == s.key))
                .map(|(_, ds)| ds)
                .collect();
            if live.is_empty() || live.len() != vs.services.len() {
                continue;
            }
            for rs in vs.real_servers.iter().filter(|rs| !rs.checks.is_empty()) {
                let up = live
                    .iter()
                    .all(|ds| ds.iter().any(|x| x.key() == rs.dest.key() && x.weight > 0));
                adopted.insert(real_key(vs, rs), up);
            }
        }
        let now = wall_clock();
        for (key, up) in &adopted {
            if let Some(state) = d.reals.get_mut(key) {
                state.set_up(*up, now);
                state.checked_up = *up;
                state.reason = if *up {
                    "adopted from the kernel's table (weight > 0)".into()
                } else {
                    "adopted from the kernel's table (absent or weight 0)".into()
                };
            }
        }
        d.adopted = adopted;
        d.recount_quorum();
        d
    }

    pub fn spec(&self) -> &DirectorSpec {
        &self.spec
    }

    /// The scripts to run once the first table is programmed, as keepalived
    /// 2.2.7 runs them when it adds its services: with `rs_init_notifies`,
    /// notify_up of every real server in service; then, per virtual server,
    /// quorum_up if it starts with quorum, or quorum_down if it starts without
    /// and has a sorry server to put in.
    pub fn init_notifies(&self) -> Vec<Action> {
        let mut actions = if self.spec.rs_init_notifies {
            self.scripts_of_reals(
                |_, state| state.up,
                |rs| rs.notify_up.as_deref(),
                "in service at start",
            )
        } else {
            Vec::new()
        };
        for vs in &self.spec.virtual_servers {
            let up = self.quorum.get(&vs.name).copied().unwrap_or(true);
            let script = match (up, &vs.sorry_server) {
                (true, _) => vs
                    .quorum_up
                    .as_ref()
                    .map(|s| (s, "quorum_up, starting with quorum")),
                (false, Some(_)) => vs
                    .quorum_down
                    .as_ref()
                    .map(|s| (s, "quorum_down, starting without quorum")),
                (false, None) => None,
            };
            if let Some((script, why)) = script {
                actions.push(Action::RunScript {
                    script: Box::new(script.clone()),
                    why: format!("{}: {why}", vs.name),
                });
            }
        }
        actions
    }

    /// The scripts to run at stop: for each `omega` virtual server, notify_down
    /// of its real servers in service, then quorum_down if it had quorum (as
    /// keepalived 2.2.7 does when it shuts them down).
    pub fn stop_notifies(&self) -> Vec<Action> {
        let mut actions = self.scripts_of_reals(
            |vs, state| vs.omega && state.up,
            |rs| rs.notify_down.as_deref(),
            "shutting down (omega)",
        );
        for vs in self.spec.virtual_servers.iter().filter(|vs| vs.omega) {
            if let (Some(script), Some(true)) = (&vs.quorum_down, self.quorum.get(&vs.name)) {
                actions.push(Action::RunScript {
                    script: Box::new(script.clone()),
                    why: format!("{}: quorum_down, shutting down (omega)", vs.name),
                });
            }
        }
        actions
    }

    fn scripts_of_reals(
        &self,
        select: impl Fn(&VirtualServerSpec, &RealServerState) -> bool,
        script: impl Fn(&RealServerSpec) -> Option<&ScriptCommand>,
        why: &str,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for vs in &self.spec.virtual_servers {
            for rs in &vs.real_servers {
                let key = real_key(vs, rs);
                let chosen = self.reals.get(&key).is_some_and(|state| select(vs, state));
                if let (true, Some(s)) = (chosen, script(rs)) {
                    actions.push(Action::RunScript {
                        script: Box::new(s.clone()),
                        why: format!("{key}: {why}"),
                    });
                }
            }
        }
        actions
    }

    pub fn real_server(&self, key: &RealServerKey) -> Option<&RealServerState> {
        self.reals.get(key)
    }

    pub fn real_servers(&self) -> impl Iterator<Item = (&RealServerKey, &RealServerState)> {
        self.reals.iter()
    }

    /// The weight of the up real servers of a virtual server (what its
    /// quorum compares).
    pub fn weight_sum_of(&self, virtual_server: &str) -> Option<u64> {
        let vs = self
            .spec
            .virtual_servers
            .iter()
            .find(|v| &*v.name == virtual_server)?;
        Some(self.weight_sum(vs))
    }

    pub fn quorum_up(&self, virtual_server: &str) -> Option<bool> {
        self.quorum.get(virtual_server).copied()
    }

    pub fn draining(&self) -> impl Iterator<Item = &DrainingDest> {
        self.draining.values()
    }

    fn find(&self, key: &RealServerKey) -> Option<(&VirtualServerSpec, &RealServerSpec)> {
        let vs = self
            .spec
            .virtual_servers
            .iter()
            .find(|v| v.name == key.virtual_server)?;
        let rs = vs
            .real_servers
            .iter()
            .find(|r| r.key() == (key.addr, key.port))?;
        Some((vs, rs))
    }

    fn weight_sum(&self, vs: &VirtualServerSpec) -> u64 {
        vs.real_servers
            .iter()
            .filter_map(|rs| Some((rs, self.reals.get(&real_key(vs, rs))?)))
            .filter(|(_, s)| s.up)
            .map(|(rs, s)| {
                let key = real_key(vs, rs);
                u64::from(self.table_weight(&key, rs, s.weight))
            })
            .sum()
    }

    /// The weight of an up real server in the table: its admin override's,
    /// else its checkers' plus FILE_CHECK numbers.
    fn table_weight(&self, key: &RealServerKey, rs: &RealServerSpec, weight: u32) -> u32 {
        match self.admin.get(key).map(|a| a.state) {
            Some(AdminState::Drain | AdminState::Maint) => 0,
            Some(AdminState::Weight(w)) => w,
            None => self.weight_with_files(rs, weight),
        }
    }

    /// The admin override of a real server, if any.
    pub fn admin(&self, key: &RealServerKey) -> Option<&AdminOverride> {
        self.admin.get(key)
    }

    /// Every admin override, in key order.
    pub fn admin_overrides(&self) -> impl Iterator<Item = (&RealServerKey, &AdminOverride)> {
        self.admin.iter()
    }

    /// Before anything runs: the overrides kept from the last run (no
    /// scripts; quorum counted with them). Those naming a real server not
    /// in the configuration are returned, not applied.
    pub fn start_with_admin(
        &mut self,
        overrides: impl IntoIterator<Item = (RealServerKey, AdminOverride)>,
    ) -> Vec<(RealServerKey, AdminOverride)> {
        let mut dropped = Vec::new();
        for (key, a) in overrides {
            if self.reals.contains_key(&key) {
                self.admin.insert(key, a);
            } else {
                dropped.push((key, a));
            }
        }
        self.recount_quorum();
        dropped
    }

    /// Sets (`Some`) or clears (`None`, `lvsd ctl ready`: back to the
    /// checkers' verdict) the admin override of a configured real server.
    /// Returns the quorum actions (an override changes the weight sum);
    /// the table of `key.virtual_server` may change. An unknown real server
    /// is an error naming it.
    pub fn set_admin(
        &mut self,
        key: &RealServerKey,
        admin: Option<AdminOverride>,
    ) -> Result<Vec<Action>, String> {
        if self.find(key).is_none() {
            return Err(format!("{key}: not in the configuration"));
        }
        match admin {
            Some(a) => self.admin.insert(key.clone(), a),
            None => self.admin.remove(key),
        };
        Ok(self.update_quorum(&key.virtual_server))
    }

    fn file_value(&self, name: &str) -> i32 {
        self.file_values.get(name).copied().unwrap_or(0)
    }

    /// What the FILE_CHECKs of `rs` add to its weight (0 without FILE_CHECK).
    pub fn file_adjustment(&self, rs: &RealServerSpec) -> i64 {
        rs.file_checks
            .iter()
            .map(|f| f.adjustment(self.file_value(&f.track_file)))
            .sum()
    }

    /// Why a FILE_CHECK of `rs` takes it down, if one does.
    fn file_fault(&self, rs: &RealServerSpec) -> Option<String> {
        rs.file_checks.iter().find_map(|f| {
            let value = self.file_value(&f.track_file);
            f.faults(value).then(|| {
                format!(
                    "FILE_CHECK: track_file {} reads {value}{}",
                    f.track_file,
                    if f.reverse {
                        " (weight 0 reverse)"
                    } else {
                        " (weight 0)"
                    }
                )
            })
        })
    }

    /// Brings `up` of every real server with FILE_CHECKs in line with its
    /// checkers and files; with `scripts`, runs the notify scripts of those
    /// that changed.
    fn apply_file_checks(&mut self, scripts: bool, actions: &mut Vec<Action>) {
        let now = wall_clock();
        for vs in &self.spec.virtual_servers {
            for rs in vs
                .real_servers
                .iter()
                .filter(|rs| !rs.file_checks.is_empty())
            {
                let key = real_key(vs, rs);
                let fault = self.file_fault(rs);
                let Some(state) = self.reals.get_mut(&key) else {
                    continue;
                };
                let up = state.checked_up && fault.is_none();
                if let Some(why) = fault.filter(|_| state.checked_up) {
                    state.reason = why;
                } else if up && !state.up {
                    state.reason = "FILE_CHECK: no track_file takes it down".into();
                }
                if up == state.up {
                    continue;
                }
                state.set_up(up, now);
                let script = if up { &rs.notify_up } else { &rs.notify_down };
                if let Some(script) = script.as_ref().filter(|_| scripts) {
                    actions.push(Action::RunScript {
                        script: script.clone(),
                        why: format!("{key} {}", if up { "up" } else { "down" }),
                    });
                }
            }
        }
    }

    /// `weight` plus the FILE_CHECK numbers, at least 0 (as keepalived 2.2.7
    /// programs it; no upper clamp but the kernel's signed 32 bits).
    fn weight_with_files(&self, rs: &RealServerSpec, weight: u32) -> u32 {
        if rs.file_checks.is_empty() {
            return weight;
        }
        let w = (i64::from(weight) + self.file_adjustment(rs)).clamp(0, i64::from(i32::MAX));
        u32::try_from(w).unwrap_or(0)
    }

    /// The weight a real server has in the table while up (its checkers'
    /// weight plus its FILE_CHECK numbers).
    pub fn effective_weight(&self, key: &RealServerKey) -> Option<u32> {
        let (_, rs) = self.find(key)?;
        let state = self.reals.get(key)?;
        Some(self.table_weight(key, rs, state.weight))
    }

    /// The track_file `name` now reads `value`. Returns the quorum actions
    /// and the virtual servers whose table may change (none when the value
    /// is the one already known).
    pub fn on_file_value(&mut self, name: &str, value: i32) -> (Vec<Action>, BTreeSet<Arc<str>>) {
        if self.file_value(name) == value {
            return (Vec::new(), BTreeSet::new());
        }
        self.file_values.insert(name.into(), value);
        let touched: BTreeSet<Arc<str>> = self
            .spec
            .virtual_servers
            .iter()
            .filter(|vs| {
                vs.real_servers
                    .iter()
                    .any(|rs| rs.file_checks.iter().any(|f| *f.track_file == *name))
            })
            .map(|vs| vs.name.clone())
            .collect();
        let mut actions = Vec::new();
        self.apply_file_checks(true, &mut actions);
        for vs in &touched {
            actions.extend(self.update_quorum(vs));
        }
        (actions, touched)
    }

    /// Before anything runs: the numbers read from the FILE_CHECK files at
    /// start-up, so the first table and quorum already count them.
    pub fn start_with_file_values(&mut self, values: impl IntoIterator<Item = (Arc<str>, i32)>) {
        self.file_values.extend(values);
        self.apply_file_checks(false, &mut Vec::new());
        self.recount_quorum();
    }

    /// Quorum of every virtual server from scratch (at start: no hysteresis,
    /// no scripts).
    fn recount_quorum(&mut self) {
        let quorum: Vec<(Arc<str>, bool)> = self
            .spec
            .virtual_servers
            .iter()
            .map(|vs| (vs.name.clone(), self.weight_sum(vs) >= u64::from(vs.quorum)))
            .collect();
        self.quorum.extend(quorum);
    }

    /// A checker verdict changed (up or down, weight, or the reason a down
    /// server is down). Unknown keys (a real server removed by a reload whose
    /// checker reported late) are ignored.
    pub fn on_transition(
        &mut self,
        key: &RealServerKey,
        up: bool,
        reported_weight: u32,
        reason: &str,
    ) -> Vec<Action> {
        let Some((vs, rs)) = self.find(key) else {
            return Vec::new();
        };
        let (vs_name, notify_up, notify_down, configured) = (
            vs.name.clone(),
            rs.notify_up.clone(),
            rs.notify_down.clone(),
            rs.dest.weight,
        );
        // A checker coming up does not lift a FILE_CHECK's verdict.
        let fault = self.file_fault(rs).filter(|_| up);
        let Some(state) = self.reals.get_mut(key) else {
            return Vec::new();
        };
        let was_up = state.up;
        state.checked_up = up;
        state.set_up(up && fault.is_none(), wall_clock());
        let up = state.up;
        state.weight = if reported_weight == state.runner_weight {
            configured
        } else {
            reported_weight
        };
        state.reason = fault.unwrap_or_else(|| reason.to_owned());
        let mut actions = Vec::new();
        if was_up != up {
            let script = if up { notify_up } else { notify_down };
            if let Some(script) = script {
                actions.push(Action::RunScript {
                    script,
                    why: format!("{key} {}", if up { "up" } else { "down" }),
                });
            }
        }
        actions.extend(self.update_quorum(&vs_name));
        actions
    }

    fn update_quorum(&mut self, vs_name: &str) -> Vec<Action> {
        let Some(vs) = self
            .spec
            .virtual_servers
            .iter()
            .find(|v| *v.name == *vs_name)
        else {
            return Vec::new();
        };
        let sum = self.weight_sum(vs);
        let was_up = self.quorum.get(vs_name).copied().unwrap_or(true);
        let high = u64::from(vs.quorum) + u64::from(vs.hysteresis);
        let low = u64::from(vs.quorum.saturating_sub(vs.hysteresis));
        let now_up = if was_up { sum >= low } else { sum >= high };
        if now_up == was_up {
            return Vec::new();
        }
        let script = if now_up {
            vs.quorum_up.clone()
        } else {
            vs.quorum_down.clone()
        };
        let why = format!(
            "{vs_name}: quorum {} (weight {sum}, quorum {}, hysteresis {})",
            if now_up { "gained" } else { "lost" },
            vs.quorum,
            vs.hysteresis
        );
        self.quorum.insert(vs.name.clone(), now_up);
        script
            .map(|script| Action::RunScript {
                script: Box::new(script),
                why,
            })
            .into_iter()
            .collect()
    }

    /// The IPVS table the director wants now.
    pub fn desired(&self) -> Table {
        self.desired_where(|_| true)
    }

    /// The part of [`Director::desired`] that belongs to the virtual servers
    /// named in `names` (what a batch of checker transitions can change).
    pub fn desired_for(&self, names: &BTreeSet<Arc<str>>) -> Table {
        self.desired_where(|vs| names.contains(&vs.name))
    }

    fn desired_where(&self, wanted: impl Fn(&VirtualServerSpec) -> bool) -> Table {
        let mut table = Table::default();
        for vs in self.spec.virtual_servers.iter().filter(|vs| wanted(vs)) {
            let quorum_up = self.quorum.get(&vs.name).copied().unwrap_or(true);
            let sorry_active = !quorum_up && vs.sorry_server.is_some();
            let mut dests: Vec<Destination> = Vec::new();
            for rs in &vs.real_servers {
                let key = real_key(vs, rs);
                let Some(state) = self.reals.get(&key) else {
                    continue;
                };
                let mut d = rs.dest.clone();
                let admin = self.admin.get(&key).map(|a| a.state);
                if admin == Some(AdminState::Maint) {
                    continue;
                } else if admin == Some(AdminState::Drain) {
                    // Kept with weight 0 whatever the checkers say.
                    d.weight = 0;
                } else if state.up && !sorry_active {
                    d.weight = self.table_weight(&key, rs, state.weight);
                } else if rs.inhibit_on_failure {
                    d.weight = 0;
                } else {
                    continue;
                }
                dests.push(d);
            }
            if let Some(sorry) = &vs.sorry_server {
                if !dests.iter().any(|d| d.key() == sorry.dest.key()) {
                    if sorry_active {
                        dests.push(sorry.dest.clone());
                    } else if sorry.inhibit {
                        let mut d = sorry.dest.clone();
                        d.weight = 0;
                        dests.push(d);
                    }
                }
            }
            for service in &vs.services {
                let mut ds = dests.clone();
                for drain in self.draining.values().filter(|d| d.service == service.key) {
                    if !ds.iter().any(|d| d.key() == drain.dest.key()) {
                        ds.push(drain.dest.clone());
                    }
                }
                table.services.push((service.clone(), ds));
            }
        }
        table
    }

    /// The IPVS services this director programs, in configured order.
    pub fn configured_services(&self) -> Vec<ServiceKey> {
        self.spec
            .virtual_servers
            .iter()
            .flat_map(|vs| vs.services.iter().map(|s| s.key))
            .collect()
    }

    /// Every IPVS service this director programs (with draining ones).
    pub fn owned_services(&self) -> BTreeSet<ServiceKey> {
        self.spec
            .virtual_servers
            .iter()
            .flat_map(|vs| vs.services.iter().map(|s| s.key))
            .collect()
    }

    /// Switches to a new configuration at time `now`: real servers whose
    /// checks are unchanged keep their state (and their running checker);
    /// changed checks restart; removed real servers drain with weight 0.
    pub fn reload(&mut self, spec: DirectorSpec, now: Duration) -> Vec<Action> {
        let old_desired = self.desired();
        let mut actions = Vec::new();
        let mut reals = BTreeMap::new();
        let now_wall = wall_clock();
        for vs in &spec.virtual_servers {
            for rs in &vs.real_servers {
                let key = real_key(vs, rs);
                let kept = self.find(&key).and_then(|(_, old)| {
                    old.checks
                        .same_checkers(&rs.checks)
                        .then(|| self.reals.get(&key).cloned())
                        .flatten()
                });
                let state = match kept {
                    Some(mut s) => {
                        if s.weight == self.find(&key).map_or(0, |(_, o)| o.dest.weight) {
                            s.weight = rs.dest.weight;
                        }
                        s
                    }
                    None => {
                        if self.reals.contains_key(&key) {
                            actions.push(Action::StopChecks { key: key.clone() });
                        }
                        actions.extend(start_checks(&key, rs));
                        initial_state(rs, now_wall)
                    }
                };
                reals.insert(key, state);
            }
        }
        for key in self.reals.keys() {
            if !reals.contains_key(key) {
                let had_checks = self.find(key).is_some_and(|(_, rs)| !rs.checks.is_empty());
                if had_checks {
                    actions.push(Action::StopChecks { key: key.clone() });
                }
            }
        }
        self.spec = spec;
        self.reals = reals;
        // ha_suspend: suspended virtual servers stay so (their new checkers
        // wait), then the new settings are applied to the addresses here.
        let names: std::collections::BTreeSet<Arc<str>> = self
            .spec
            .virtual_servers
            .iter()
            .map(|v| v.name.clone())
            .collect();
        self.suspended.retain(|n| names.contains(n));
        self.drop_suspended_starts(&mut actions);
        let suspension = self.apply_suspension();
        actions.extend(suspension);
        // Overrides of real servers no longer configured are dropped.
        let admin = std::mem::take(&mut self.admin);
        for (key, a) in admin {
            if self.reals.contains_key(&key) {
                self.admin.insert(key, a);
            } else {
                actions.push(Action::AdminDropped {
                    key,
                    admin: Box::new(a),
                });
            }
        }
        // FILE_CHECKs may have changed while the checkers did not.
        self.apply_file_checks(true, &mut actions);
        let names: Vec<Arc<str>> = self
            .spec
            .virtual_servers
            .iter()
            .map(|v| v.name.clone())
            .collect();
        self.quorum.retain(|name, _| names.contains(name));
        for vs in &self.spec.virtual_servers {
            if !self.quorum.contains_key(&vs.name) {
                let up = self.weight_sum(vs) >= u64::from(vs.quorum);
                self.quorum.insert(vs.name.clone(), up);
            }
        }
        for name in names {
            actions.extend(self.update_quorum(&name));
        }
        // Destinations that were programmed and are no longer wanted, in a
        // service that stays: drain them rather than cut their connections.
        let new_desired = self.desired();
        for (service, dests) in &old_desired.services {
            let Some((_, new_dests)) = new_desired
                .services
                .iter()
                .find(|(s, _)| s.key == service.key)
            else {
                continue;
            };
            for d in dests {
                if new_dests.iter().any(|n| n.key() == d.key()) {
                    continue;
                }
                let mut dest = d.clone();
                dest.weight = 0;
                let deadline = self
                    .draining
                    .get(&(service.key, d.addr, d.port))
                    .map_or(now + DRAIN_BOUND, |x| x.deadline);
                self.draining.insert(
                    (service.key, d.addr, d.port),
                    DrainingDest {
                        service: service.key,
                        dest,
                        deadline,
                    },
                );
            }
        }
        // A real server back in the config stops draining.
        let wanted: BTreeSet<(ServiceKey, IpAddr, u16)> = self
            .spec
            .virtual_servers
            .iter()
            .flat_map(|vs| {
                vs.services.iter().flat_map(move |s| {
                    vs.real_servers
                        .iter()
                        .map(move |rs| (s.key, rs.dest.addr, rs.dest.port))
                })
            })
            .collect();
        let owned = self.owned_services();
        self.draining
            .retain(|k, _| !wanted.contains(k) && owned.contains(&k.0));
        actions
    }

    /// Ends the drain of destinations whose connections reached zero in
    /// `current` (the kernel's table), that are gone, or whose bound passed.
    /// Returns `true` when the desired table changed.
    pub fn drain_tick(&mut self, now: Duration, current: &Table) -> bool {
        let before = self.draining.len();
        self.draining.retain(|(svc, addr, port), drain| {
            if now >= drain.deadline {
                return false;
            }
            let live = current
                .services
                .iter()
                .find(|(s, _)| s.key == *svc)
                .and_then(|(_, ds)| ds.iter().find(|d| d.addr == *addr && d.port == *port));
            match live {
                Some(d) => d.active_conns + d.inactive_conns + d.persistent_conns > 0,
                None => false,
            }
        });
        self.draining.len() != before
    }
}
