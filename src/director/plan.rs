//! The operations that turn the kernel's table into the desired one, limited
//! to the services this director owns (a foreign service is never touched).
//! Pure.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use ipvs::model::{ServiceKey, Table};
use ipvs::ops::Op;

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

/// Minimal operations from `current` to `desired`: unchanged services and
/// destinations produce nothing, a changed weight is one edit.
pub fn plan(desired: &Table, current: &Table) -> Vec<Op> {
    let mut ops = Vec::new();
    for (cur, _) in &current.services {
        if !desired.services.iter().any(|(s, _)| s.key == cur.key) {
            ops.push(Op::DelService(cur.key));
        }
    }
    for (want, want_dests) in &desired.services {
        match current.services.iter().find(|(s, _)| s.key == want.key) {
            None => {
                ops.push(Op::AddService(want.clone()));
                ops.extend(want_dests.iter().map(|d| Op::AddDest(want.key, d.clone())));
            }
            Some((cur, cur_dests)) => {
                if !want.same_config(cur) {
                    ops.push(Op::EditService(want.clone()));
                }
                for d in cur_dests {
                    if !want_dests.iter().any(|w| w.key() == d.key()) {
                        ops.push(Op::DelDest(want.key, d.addr, d.port));
                    }
                }
                for w in want_dests {
                    match cur_dests.iter().find(|d| d.key() == w.key()) {
                        None => ops.push(Op::AddDest(want.key, w.clone())),
                        Some(d) if !w.same_config(d) => ops.push(Op::EditDest(want.key, w.clone())),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    ops
}
