//! Which VIPs are healthy here, from what the director has reported: pure.
//!
//! Healthy = lvsd running (the first table programmed) and not draining,
//! `startup_delay` passed since (so the real servers had a first check),
//! and the gating virtual servers' quorum met (all of them, or any with
//! `policy any`) — keepalived's quorum and hysteresis, which is what
//! operators wire to BGP through quorum_up/quorum_down scripts today.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::{AnnounceConfig, AnnouncePolicy};

/// What the announcer knows of the director.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// When the first table was programmed (lvsd running); `None` before,
    /// and again once it stops.
    pub running_since: Option<Instant>,
    /// SIGTERM received: withdraw everything before the services go.
    pub draining: bool,
    /// Each virtual server's quorum, by the director's name; one never
    /// reported counts as up (the director reports every change, and a
    /// virtual server starts with its quorum up).
    pub quorum: BTreeMap<Arc<str>, bool>,
}

/// Why a VIP is not announced (for the log and `lvsd status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    NotRunning,
    Draining,
    StartingUp,
    /// These gating virtual servers lack quorum.
    QuorumDown(Vec<Arc<str>>),
}

/// Each configured VIP: announced (`Ok`) or held back, and why.
pub fn verdicts(
    cfg: &AnnounceConfig,
    health: &Health,
    now: Instant,
) -> BTreeMap<IpAddr, Result<(), Held>> {
    cfg.gates
        .iter()
        .map(|(vip, gates)| (*vip, verdict(cfg, health, now, gates)))
        .collect()
}

fn verdict(
    cfg: &AnnounceConfig,
    health: &Health,
    now: Instant,
    gates: &[Arc<str>],
) -> Result<(), Held> {
    let Some(since) = health.running_since else {
        return Err(Held::NotRunning);
    };
    if health.draining {
        return Err(Held::Draining);
    }
    if now.saturating_duration_since(since) < cfg.startup_delay {
        return Err(Held::StartingUp);
    }
    let down: Vec<Arc<str>> = gates
        .iter()
        .filter(|g| !health.quorum.get(*g).copied().unwrap_or(true))
        .cloned()
        .collect();
    let met = match cfg.policy {
        AnnouncePolicy::All => down.is_empty(),
        AnnouncePolicy::Any => down.len() < gates.len(),
    };
    if met {
        Ok(())
    } else {
        Err(Held::QuorumDown(down))
    }
}

/// The VIPs to announce.
pub fn desired(cfg: &AnnounceConfig, health: &Health, now: Instant) -> BTreeSet<IpAddr> {
    verdicts(cfg, health, now)
        .into_iter()
        .filter(|(_, v)| v.is_ok())
        .map(|(vip, _)| vip)
        .collect()
}

/// When the start-up delay ends (to wake up then), if it is still running.
pub fn startup_ends(cfg: &AnnounceConfig, health: &Health, now: Instant) -> Option<Instant> {
    let end = health.running_since? + cfg.startup_delay;
    (end > now).then_some(end)
}

/// The routes to add and to delete to go from `present` to `wanted`.
pub fn diff(present: &BTreeSet<IpAddr>, wanted: &BTreeSet<IpAddr>) -> (Vec<IpAddr>, Vec<IpAddr>) {
    (
        wanted.difference(present).copied().collect(),
        present.difference(wanted).copied().collect(),
    )
}
