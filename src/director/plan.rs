//! The operations that turn the kernel's table into the desired one, limited
//! to the services this director owns (a foreign service is never touched):
//! the scope is ours, the diff is the ipvs crate's reconciler. Pure.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use ipvs::model::{ServiceKey, Table};
use ipvs::ops::Op;
use ipvs::reconcile::OwnershipFilter;

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
