//! SIGHUP reload of the VRRP core as a plan: which instances are kept (by
//! name, as keepalived matches them), which must be restarted because a
//! setting cannot change in place, which are removed and which are new;
//! plus the minimal VIP / route diff a kept master applies. Pure: the
//! runner performs the result.
#![forbid(unsafe_code)]

use super::config::InstanceConfig;

/// Why a kept instance cannot take its new settings in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    Interface,
    Vrid,
    Family,
    Version,
}

impl std::fmt::Display for RestartReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestartReason::Interface => "interface",
            RestartReason::Vrid => "virtual_router_id",
            RestartReason::Family => "address family",
            RestartReason::Version => "VRRP version",
        })
    }
}

/// What happens to one instance on reload (indices into the old / new lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancePlan {
    /// Same name, settings applied in place; state kept.
    Keep { old: usize, new: usize },
    /// Same name, but `reason` changed: stop the old one, start the new one.
    Restart {
        old: usize,
        new: usize,
        reason: RestartReason,
    },
    /// Gone from the configuration: stop as on SIGTERM.
    Remove { old: usize },
    /// New in the configuration: start as at start-up.
    Add { new: usize },
}

/// The first setting that forbids an in-place reload, if any.
pub fn restart_reason(old: &InstanceConfig, new: &InstanceConfig) -> Option<RestartReason> {
    if old.interface != new.interface {
        Some(RestartReason::Interface)
    } else if old.vrid != new.vrid {
        Some(RestartReason::Vrid)
    } else if old.family != new.family {
        Some(RestartReason::Family)
    } else if old.version != new.version {
        Some(RestartReason::Version)
    } else {
        None
    }
}

/// Match old and new instances by name. Removals come first (in old
/// order), then one entry per new instance (in new order).
pub fn plan(old: &[InstanceConfig], new: &[InstanceConfig]) -> Vec<InstancePlan> {
    let mut out: Vec<InstancePlan> = old
        .iter()
        .enumerate()
        .filter(|(_, o)| !new.iter().any(|n| n.name == o.name))
        .map(|(i, _)| InstancePlan::Remove { old: i })
        .collect();
    for (ni, n) in new.iter().enumerate() {
        out.push(match old.iter().position(|o| o.name == n.name) {
            None => InstancePlan::Add { new: ni },
            Some(oi) => match restart_reason(&old[oi], n) {
                Some(reason) => InstancePlan::Restart {
                    old: oi,
                    new: ni,
                    reason,
                },
                None => InstancePlan::Keep { old: oi, new: ni },
            },
        });
    }
    out
}

/// Items to remove and to add to go from `old` to `new`; items in both
/// are left alone (order does not matter, duplicates count once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff<T> {
    pub removed: Vec<T>,
    pub added: Vec<T>,
}

impl<T> Diff<T> {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

pub fn diff<T: PartialEq + Clone>(old: &[T], new: &[T]) -> Diff<T> {
    let mut removed: Vec<T> = Vec::new();
    for o in old {
        if !new.contains(o) && !removed.contains(o) {
            removed.push(o.clone());
        }
    }
    let mut added: Vec<T> = Vec::new();
    for n in new {
        if !old.contains(n) && !added.contains(n) {
            added.push(n.clone());
        }
    }
    Diff { removed, added }
}
