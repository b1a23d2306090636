//! All VRRP instances of a director and their `vrrp_sync_group`s, pure.
//!
//! keepalived's sync group semantics: when one member becomes MASTER the others
//! follow, when one drops to BACKUP the others follow, and a FAULT of any member
//! puts the whole group in FAULT until every member is healthy again.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Instant;

use super::config::{InstanceConfig, NotifyConfig, TrackId};
use super::fsm::{Action, Instance, Snapshot, State};
use super::packet::{Advert, ChecksumKind};
use super::reload::{self, InstancePlan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    /// Instance names.
    pub members: Vec<String>,
    pub notify: NotifyConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncGroupError {
    #[error("vrrp_sync_group {group}: instance {instance} does not exist")]
    UnknownInstance { group: String, instance: String },
    #[error("vrrp_instance {instance} is in both sync groups {first} and {second}")]
    InTwoGroups {
        instance: String,
        first: String,
        second: String,
    },
}

struct Group {
    name: String,
    members: Vec<usize>,
    notify: NotifyConfig,
    /// Last state the whole group was in (all members agreeing).
    state: State,
}

/// An action for one instance (by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAction {
    pub instance: usize,
    pub action: Action,
}

/// An instance a reload stopped (removed, or restarted under a new form).
pub struct StoppedInstance {
    /// Its index before the reload (the runner's I/O for it is still there).
    pub old_index: usize,
    pub instance: Instance,
    /// Its shutdown actions (priority 0 if it was master, VIP removal, notify).
    pub actions: Vec<Action>,
}

/// The outcome of `VrrpSet::reload`.
pub struct Reloaded {
    pub plan: Vec<InstancePlan>,
    pub stopped: Vec<StoppedInstance>,
    /// Actions of kept and started instances, by their new index.
    pub actions: Vec<InstanceAction>,
}

type GroupIndex = (Vec<Group>, Vec<Option<usize>>);

/// Sync groups over the instances named `names` (by index).
fn build_groups(names: &[&str], groups: &[SyncGroupConfig]) -> Result<GroupIndex, SyncGroupError> {
    let mut group_of = vec![None; names.len()];
    let mut built = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let mut members = Vec::new();
        for m in &g.members {
            let idx = names.iter().position(|n| n == m).ok_or_else(|| {
                SyncGroupError::UnknownInstance {
                    group: g.name.clone(),
                    instance: m.clone(),
                }
            })?;
            if let Some(prev) = group_of[idx] {
                let prev: usize = prev;
                return Err(SyncGroupError::InTwoGroups {
                    instance: m.clone(),
                    first: groups[prev].name.clone(),
                    second: g.name.clone(),
                });
            }
            group_of[idx] = Some(gi);
            members.push(idx);
        }
        built.push(Group {
            name: g.name.clone(),
            members,
            notify: g.notify.clone(),
            state: State::Initialize,
        });
    }
    Ok((built, group_of))
}

pub struct VrrpSet {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    group_of: Vec<Option<usize>>,
}

impl VrrpSet {
    pub fn new(
        instances: Vec<Instance>,
        groups: &[SyncGroupConfig],
    ) -> Result<VrrpSet, SyncGroupError> {
        let names: Vec<&str> = instances.iter().map(Instance::name).collect();
        let (groups, group_of) = build_groups(&names, groups)?;
        Ok(VrrpSet {
            instances,
            groups,
            group_of,
        })
    }

    /// SIGHUP: apply the new instance list as a plan (see `reload::plan`).
    /// Kept instances keep their state and take their new settings; removed
    /// and restarted ones are stopped (returned with their shutdown actions,
    /// to be performed with their old I/O); new and restarted ones start as
    /// at start-up. Sync groups are rebuilt; members keep their state and a
    /// member joining a group whose other members are master follows them.
    /// On error (bad sync group) nothing changed.
    pub fn reload(
        &mut self,
        now: Instant,
        configs: Vec<InstanceConfig>,
        groups: &[SyncGroupConfig],
    ) -> Result<Reloaded, SyncGroupError> {
        let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        let (new_groups, group_of) = build_groups(&names, groups)?;
        let old_cfgs: Vec<InstanceConfig> =
            self.instances.iter().map(|i| i.config().clone()).collect();
        let plan = reload::plan(&old_cfgs, &configs);

        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut configs: Vec<Option<InstanceConfig>> = configs.into_iter().map(Some).collect();
        let mut slots: Vec<Option<Instance>> = (0..configs.len()).map(|_| None).collect();
        let mut stopped = Vec::new();
        let mut kept = Vec::new();
        let mut started = Vec::new();
        for p in &plan {
            let (stop, keep, start) = match *p {
                InstancePlan::Remove { old } => (Some(old), None, None),
                InstancePlan::Restart { old, new, .. } => (Some(old), None, Some(new)),
                InstancePlan::Add { new } => (None, None, Some(new)),
                InstancePlan::Keep { old, new } => (None, Some((old, new)), None),
            };
            if let Some(o) = stop {
                if let Some(mut inst) = old[o].take() {
                    let acts = inst.on_delete(now);
                    stopped.push(StoppedInstance {
                        old_index: o,
                        instance: inst,
                        actions: acts,
                    });
                }
            }
            if let Some(n) = start {
                if let Some(cfg) = configs[n].take() {
                    slots[n] = Some(Instance::new(cfg));
                    started.push(n);
                }
            }
            if let Some((o, n)) = keep {
                if let (Some(mut inst), Some(cfg)) = (old[o].take(), configs[n].take()) {
                    let before = inst.state();
                    let acts = inst.reconfigure(now, cfg);
                    kept.push((n, before, acts));
                    slots[n] = Some(inst);
                }
            }
        }
        let old_group_states: Vec<(String, State)> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.state))
            .collect();
        self.instances = slots.into_iter().flatten().collect();
        self.groups = new_groups;
        self.group_of = group_of;
        for g in &mut self.groups {
            if let Some((_, s)) = old_group_states.iter().find(|(n, _)| *n == g.name) {
                g.state = *s;
            }
        }

        let mut actions = Vec::new();
        for (n, before, acts) in kept {
            self.collect(n, acts, &mut actions);
            self.propagate(now, n, before, &mut actions);
        }
        for n in started {
            let acts = self.instances[n].on_start(now);
            self.collect(n, acts, &mut actions);
            let group_is_master = self.group_of[n].is_some_and(|g| {
                self.groups[g]
                    .members
                    .iter()
                    .any(|&m| m != n && self.instances[m].state() == State::Master)
            });
            if group_is_master {
                let acts = self.instances[n].force_master(now);
                self.collect(n, acts, &mut actions);
            }
            let state = self.instances[n].state();
            self.propagate(now, n, state, &mut actions);
        }
        Ok(Reloaded {
            plan,
            stopped,
            actions,
        })
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// Notify scripts of the sync group `name`.
    pub fn group_notify(&self, name: &str) -> Option<&NotifyConfig> {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| &g.notify)
    }

    pub fn group_name(&self, instance: usize) -> Option<&str> {
        self.group_of
            .get(instance)
            .copied()
            .flatten()
            .map(|g| self.groups[g].name.as_str())
    }

    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.instances.iter().map(Instance::snapshot).collect()
    }

    pub fn on_start(&mut self, now: Instant) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            let before = self.instances[i].state();
            let acts = self.instances[i].on_start(now);
            self.collect(i, acts, &mut out);
            self.propagate(now, i, before, &mut out);
        }
        out
    }

    pub fn on_shutdown(&mut self, now: Instant) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            let acts = self.instances[i].on_shutdown(now);
            self.collect(i, acts, &mut out);
        }
        // Then each group stops, as keepalived's notify_shutdown does
        // (instances first, then groups).
        for g in &mut self.groups {
            let Some(&first) = g.members.first() else {
                continue;
            };
            g.state = State::Initialize;
            out.push(InstanceAction {
                instance: first,
                action: Action::GroupNotify {
                    group: g.name.clone(),
                    state: State::Initialize,
                },
            });
        }
        out
    }

    pub fn on_timer(&mut self, now: Instant) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            if self.instances[i].deadline().is_some_and(|t| t <= now) {
                let before = self.instances[i].state();
                let acts = self.instances[i].on_timer(now);
                self.collect(i, acts, &mut out);
                self.propagate(now, i, before, &mut out);
            }
        }
        out
    }

    /// The instance with this VRID on that interface and family, which is
    /// where its adverts go.
    fn receiver(&self, interface: &str, vrid: u8, family: super::packet::Family) -> Option<usize> {
        self.instances.iter().position(|inst| {
            let c = inst.config();
            c.vrid == vrid && c.advert_interface() == interface && c.family == family
        })
    }

    /// Route a received VRRP message to its instance (family from the
    /// source), which checks it with its own policy.
    pub fn on_packet(
        &mut self,
        now: Instant,
        interface: &str,
        bytes: &[u8],
        meta: &super::packet::RxMeta,
    ) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        let family = super::packet::Family::of(&meta.src);
        let Some(i) =
            super::packet::peek_vrid(bytes).and_then(|vrid| self.receiver(interface, vrid, family))
        else {
            return out;
        };
        let before = self.instances[i].state();
        let acts = self.instances[i].on_packet(now, bytes, meta);
        self.collect(i, acts, &mut out);
        self.propagate(now, i, before, &mut out);
        out
    }

    /// Route an advert that passed the packet checks to its instance.
    pub fn on_advert(
        &mut self,
        now: Instant,
        interface: &str,
        src: IpAddr,
        advert: &Advert,
        checksum: ChecksumKind,
    ) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        let family = super::packet::Family::of(&src);
        let Some(i) = self.receiver(interface, advert.vrid, family) else {
            return out;
        };
        let before = self.instances[i].state();
        let acts = self.instances[i].on_advert(now, src, advert, checksum);
        let lower_prio = acts
            .iter()
            .any(|a| matches!(a, Action::MasterRxLowerPri { .. }));
        self.collect(i, acts, &mut out);
        self.propagate(now, i, before, &mut out);
        if lower_prio {
            // keepalived re-announces the other members' addresses too.
            if let Some(g) = self.group_of[i] {
                for m in self.groups[g].members.clone() {
                    if m != i {
                        let acts = self.instances[m].on_sibling_lower_prio(now);
                        self.collect(m, acts, &mut out);
                    }
                }
            }
        }
        out
    }

    /// A tracked VIP of instance `i` was deleted by someone else: it steps
    /// down and comes back, and so do its sync group's other masters (as
    /// keepalived 2.2.7, all back after Skew_Time).
    pub fn on_vip_deleted(&mut self, now: Instant, i: usize) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        if i >= self.instances.len() {
            return out;
        }
        let before = self.instances[i].state();
        let acts = self.instances[i].on_vip_deleted(now);
        self.collect(i, acts, &mut out);
        if let Some(g) = self.group_of[i] {
            for m in self.groups[g].members.clone() {
                if m != i {
                    let acts = self.instances[m].on_sibling_vip_deleted(now);
                    self.collect(m, acts, &mut out);
                }
            }
        }
        self.propagate(now, i, before, &mut out);
        out
    }

    /// A tracked object changed: every instance tracking it hears about it.
    pub fn on_track(&mut self, now: Instant, id: &TrackId, up: bool) -> Vec<InstanceAction> {
        self.on_every_instance(now, |inst| inst.on_track(now, id, up))
    }

    /// A tracked file changed: every instance tracking it hears about it.
    pub fn on_track_value(
        &mut self,
        now: Instant,
        id: &TrackId,
        value: i32,
    ) -> Vec<InstanceAction> {
        self.on_every_instance(now, |inst| inst.on_track_value(now, id, value))
    }

    fn on_every_instance(
        &mut self,
        now: Instant,
        event: impl Fn(&mut Instance) -> Vec<Action>,
    ) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            let before = self.instances[i].state();
            let acts = event(&mut self.instances[i]);
            self.collect(i, acts, &mut out);
            self.propagate(now, i, before, &mut out);
        }
        out
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.instances.iter().filter_map(Instance::deadline).min()
    }

    fn collect(&self, i: usize, acts: Vec<Action>, out: &mut Vec<InstanceAction>) {
        out.extend(acts.into_iter().map(|action| InstanceAction {
            instance: i,
            action,
        }));
    }

    fn propagate(&mut self, now: Instant, i: usize, before: State, out: &mut Vec<InstanceAction>) {
        let Some(g) = self.group_of[i] else { return };
        self.propagate_states(now, g, i, before, out);
        // Once every member agrees, the group itself has changed state.
        let states: Vec<State> = self.groups[g]
            .members
            .iter()
            .map(|&m| self.instances[m].state())
            .collect();
        if let Some(&first) = states.first() {
            if states.iter().all(|&s| s == first) && self.groups[g].state != first {
                self.groups[g].state = first;
                out.push(InstanceAction {
                    instance: i,
                    action: Action::GroupNotify {
                        group: self.groups[g].name.clone(),
                        state: first,
                    },
                });
            }
        }
    }

    fn propagate_states(
        &mut self,
        now: Instant,
        g: usize,
        i: usize,
        before: State,
        out: &mut Vec<InstanceAction>,
    ) {
        let members = self.groups[g].members.clone();
        // The group is in FAULT while any member has a fault of its own.
        let group_fault = members.iter().any(|&m| self.instances[m].has_own_fault());
        for &m in &members {
            let acts = self.instances[m].set_group_fault(now, group_fault);
            self.collect(m, acts, out);
        }
        let after = self.instances[i].state();
        if after == before || group_fault {
            return;
        }
        for &m in members.iter().filter(|&&m| m != i) {
            let acts = match after {
                State::Master => self.instances[m].force_master(now),
                State::Backup => self.instances[m].force_backup(now),
                _ => Vec::new(),
            };
            self.collect(m, acts, out);
        }
    }
}
