//! All VRRP instances of a director and their `vrrp_sync_group`s, pure.
//!
//! keepalived's sync group semantics: when one member becomes MASTER the others
//! follow, when one drops to BACKUP the others follow, and a FAULT of any member
//! puts the whole group in FAULT until every member is healthy again.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Instant;

use super::config::{NotifyConfig, TrackId};
use super::fsm::{Action, Instance, Snapshot, State};
use super::packet::{Advert, ChecksumKind};

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
        let mut group_of = vec![None; instances.len()];
        let mut built = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let mut members = Vec::new();
            for m in &g.members {
                let idx = instances
                    .iter()
                    .position(|i| i.name() == m)
                    .ok_or_else(|| SyncGroupError::UnknownInstance {
                        group: g.name.clone(),
                        instance: m.clone(),
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
        Ok(VrrpSet {
            instances,
            groups: built,
            group_of,
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

    /// Route an advert to the instance with its VRID on that interface.
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
        let Some(i) = self.instances.iter().position(|inst| {
            let c = inst.config();
            c.vrid == advert.vrid && c.interface == interface && c.family == family
        }) else {
            return out;
        };
        let before = self.instances[i].state();
        let acts = self.instances[i].on_advert(now, src, advert, checksum);
        self.collect(i, acts, &mut out);
        self.propagate(now, i, before, &mut out);
        out
    }

    /// A tracked object changed: every instance tracking it hears about it.
    pub fn on_track(&mut self, now: Instant, id: &TrackId, up: bool) -> Vec<InstanceAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            let before = self.instances[i].state();
            let acts = self.instances[i].on_track(now, id, up);
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
