//! The operations that turn the kernel's table into the desired one, limited
//! to the services this director owns (a foreign service is never touched):
//! the scope is ours, the diff is the ipvs crate's reconciler. Pure.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use ipvs::model::{ServiceKey, Table};
use ipvs::ops::Op;
use ipvs::reconcile::{OwnershipFilter, Planner};

/// The part of `current` this director is responsible for: the services in
/// `owned` (what it programs now and what it programmed before a reload).
pub fn scoped(current: &Table, owned: &BTreeSet<ServiceKey>) -> Table {
    Table {
        services: current
            .services
            .iter()
            .filter(|(s, _)| owned.contains(&s.key))
            .cloned()
            .collect(),
    }
}

/// Minimal operations from the director's part of the kernel (`current`,
/// see [`scoped`]) to `desired`, by the ipvs crate's reconciler: every
/// service in `current` is ours, so one no longer desired is deleted.
pub fn plan(desired: &Table, current: &Table) -> Vec<Op> {
    ipvs::reconcile::plan(desired, current, &OwnershipFilter::from_table(current))
}

/// Operations planned and written at a time by a full reconcile (some 110
/// KiB of them).
pub const PLAN_PIECE: usize = 1024;

/// [`plan`] in pieces (see [`Planner::next_chunk`]; [`PLAN_PIECE`]), for
/// the daemon to apply one before planning the next.
pub fn planner<'a>(desired: &'a Table, current: &'a Table) -> Planner<'a> {
    Planner::new(desired, current, &OwnershipFilter::from_table(current))
}

/// Operations removing the director's part of the kernel (`current`, see
/// [`scoped`]) at shutdown: one delete per service, the services in the
/// reverse of `configured` (the desired order), unknown ones first.
///
/// Why the order: the kernel keeps a namespace's deleted real servers on a
/// list for minutes and, on every add, walks it from the most recently
/// deleted one looking for the same real server to reuse. Deleting a
/// service deletes its real servers last-added first, so deleting the
/// first-configured service last leaves the list in the order a restart
/// adds them again: each is found at the head instead of after a walk
/// (a restart's 10,000 writes: 0.03 s instead of 0.15–0.18 s in UML with
/// the kernel's hash order; `deploy/bench/dest-trash.sh`).
pub fn removal(current: &Table, configured: &[ServiceKey]) -> Vec<Op> {
    let position: std::collections::HashMap<ServiceKey, usize> = configured
        .iter()
        .enumerate()
        .map(|(i, k)| (*k, i))
        .collect();
    let mut keys: Vec<ServiceKey> = current.services.iter().map(|(s, _)| s.key).collect();
    // Unknown (previously owned) services go first, so they end up behind
    // the configured ones on the kernel's list.
    keys.sort_by_key(|k| std::cmp::Reverse(position.get(k).copied().unwrap_or(usize::MAX)));
    keys.dedup();
    keys.into_iter().map(Op::DelService).collect()
}
