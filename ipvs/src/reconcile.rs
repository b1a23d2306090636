//! The reconciler: the minimal ordered operations that turn the kernel's
//! current IPVS table into the desired one, touching only what lvsd owns.
//! Pure: the caller dumps the table, plans, and applies the plan.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::model::{Destination, Service, ServiceKey, Table};
use crate::ops::Op;

/// Which services of the current table lvsd may delete.
///
/// Every service in the desired table is owned (lvsd manages it and all of
/// its real servers). A service that is only in the current table is
/// deleted when the filter owns it (typically: lvsd programmed it earlier
/// and it has since left the configuration) and left alone otherwise
/// (rules someone else added by hand or another tool).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OwnershipFilter {
    /// Own only the desired services: never delete anything else.
    #[default]
    DesiredOnly,
    /// Own the desired services and these (e.g. those lvsd applied last time).
    Keys(HashSet<ServiceKey>),
    /// Own the whole table: delete every service that is not desired.
    All,
}

impl OwnershipFilter {
    /// Owns the desired services and those of `table`.
    pub fn from_table(table: &Table) -> Self {
        OwnershipFilter::Keys(table.services.iter().map(|(s, _)| s.key).collect())
    }

    /// Whether a service absent from the desired table may be deleted.
    pub fn owns(&self, key: &ServiceKey) -> bool {
        match self {
            OwnershipFilter::DesiredOnly => false,
            OwnershipFilter::Keys(keys) => keys.contains(key),
            OwnershipFilter::All => true,
        }
    }
}

/// Counts of a plan's operations by kind (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanSummary {
    pub add_services: usize,
    pub edit_services: usize,
    pub del_services: usize,
    pub add_dests: usize,
    pub edit_dests: usize,
    pub del_dests: usize,
}

impl PlanSummary {
    pub fn of(plan: &[Op]) -> Self {
        let mut s = PlanSummary::default();
        for op in plan {
            match op {
                Op::AddService(_) => s.add_services += 1,
                Op::EditService(_) => s.edit_services += 1,
                Op::DelService(_) => s.del_services += 1,
                Op::AddDest(..) => s.add_dests += 1,
                Op::EditDest(..) => s.edit_dests += 1,
                Op::DelDest(..) => s.del_dests += 1,
                _ => {}
            }
        }
        s
    }

    /// Adds another piece's counts (see [`Planner`]).
    pub fn add(&mut self, other: &PlanSummary) {
        self.add_services += other.add_services;
        self.edit_services += other.edit_services;
        self.del_services += other.del_services;
        self.add_dests += other.add_dests;
        self.edit_dests += other.edit_dests;
        self.del_dests += other.del_dests;
    }

    pub fn total(&self) -> usize {
        self.add_services
            + self.edit_services
            + self.del_services
            + self.add_dests
            + self.edit_dests
            + self.del_dests
    }
}

/// The operations that make `current` equal to `desired` on every service
/// `desired` holds, and delete the services `owned` claims that `desired`
/// no longer holds. Minimal and ordered:
///
/// - owned services that are not desired: one `DelService` each (the
///   kernel drops their real servers with them), first, in current order;
/// - then each desired service in desired order: `AddService` followed by
///   its `AddDest`s when missing; otherwise `EditService` when scheduler,
///   persistence, flags or persistence engine differ, then `DelDest` for
///   real servers no longer wanted, `EditDest` for changed ones (weight,
///   forwarding, thresholds, tunnel), `AddDest` for new ones.
///
/// A service or real server that appears twice in `desired` is planned
/// once, from its first occurrence.
pub fn plan(desired: &Table, current: &Table, owned: &OwnershipFilter) -> Vec<Op> {
    let mut planner = Planner::new(desired, current, owned);
    let mut ops = Vec::new();
    while let Some(chunk) = planner.next_chunk(usize::MAX) {
        ops.extend(chunk);
    }
    ops
}

/// [`plan`] in pieces: the same operations in the same order, a few
/// services at a time. A daemon programming a big table applies each piece
/// before planning the next, so it never holds every operation at once
/// (10,000 real servers' operations are 1.1 MB: some 270 of the 1,800
/// fresh pages a start-up touched, each a trap in a UML guest).
pub struct Planner<'a> {
    desired: &'a Table,
    current_by_key: HashMap<ServiceKey, &'a (Service, Vec<Destination>)>,
    planned: HashSet<ServiceKey>,
    /// The deletions of services no longer desired, until the first piece.
    deletions: Vec<Op>,
    /// The next desired service to plan.
    next: usize,
    /// A planned service's operations that did not fit in the last piece.
    pending: Vec<Op>,
}

impl<'a> Planner<'a> {
    pub fn new(desired: &'a Table, current: &'a Table, owned: &OwnershipFilter) -> Self {
        let desired_keys: HashSet<ServiceKey> =
            desired.services.iter().map(|(s, _)| s.key).collect();
        let deletions = current
            .services
            .iter()
            .filter(|(s, _)| !desired_keys.contains(&s.key) && owned.owns(&s.key))
            .map(|(s, _)| Op::DelService(s.key))
            .collect();
        Planner {
            desired,
            current_by_key: current.services.iter().map(|e| (e.0.key, e)).collect(),
            planned: HashSet::with_capacity(desired.services.len()),
            deletions,
            next: 0,
            pending: Vec::new(),
        }
    }

    /// The next operations, or `None` once every service is planned. The
    /// first piece starts with every deletion of a service no longer
    /// desired. A piece holds whole services: as many as fit in `max_ops`
    /// operations, and always at least one (a service with more real
    /// servers comes whole). Services that need nothing add nothing; a
    /// piece is never empty.
    pub fn next_chunk(&mut self, max_ops: usize) -> Option<Vec<Op>> {
        let mut ops = std::mem::take(&mut self.deletions);
        loop {
            if self.pending.is_empty() {
                let Some((want, want_dests)) = self.desired.services.get(self.next) else {
                    break;
                };
                self.next += 1;
                let mut service_ops = std::mem::take(&mut self.pending);
                self.plan_service(want, want_dests, &mut service_ops);
                self.pending = service_ops;
                continue;
            }
            if !ops.is_empty() && ops.len() + self.pending.len() > max_ops {
                break;
            }
            ops.append(&mut self.pending);
        }
        (!ops.is_empty()).then_some(ops)
    }

    fn plan_service(&mut self, want: &Service, want_dests: &[Destination], ops: &mut Vec<Op>) {
        if !self.planned.insert(want.key) {
            return;
        }
        let key = want.key;
        let mut wanted = first_of_each(want_dests);
        if order_matters(&want.scheduler) {
            // The hashing schedulers build their table from the kernel's
            // list of real servers in list order: directors that add them
            // in one canonical order build the same table (N active
            // directors must pick the same real server for a flow).
            wanted.sort_by_key(|d| d.key());
        }
        match self.current_by_key.get(&key) {
            None => {
                ops.push(Op::AddService(configured(want)));
                ops.extend(
                    wanted
                        .into_iter()
                        .map(|d| Op::AddDest(key, configured_dest(d))),
                );
            }
            Some((have, have_dests)) => {
                if !have.same_config(want) {
                    ops.push(Op::EditService(configured(want)));
                }
                let wanted_keys: HashSet<(IpAddr, u16)> = wanted.iter().map(|d| d.key()).collect();
                let have_by_key: HashMap<(IpAddr, u16), &Destination> =
                    have_dests.iter().map(|d| (d.key(), d)).collect();
                for d in have_dests {
                    if !wanted_keys.contains(&d.key()) {
                        ops.push(Op::DelDest(key, d.addr, d.port));
                    }
                }
                let mut adds = Vec::new();
                for d in wanted {
                    match have_by_key.get(&d.key()) {
                        Some(h) if h.same_config(d) => {}
                        Some(_) => ops.push(Op::EditDest(key, configured_dest(d))),
                        None => adds.push(Op::AddDest(key, configured_dest(d))),
                    }
                }
                ops.extend(adds);
            }
        }
    }
}

/// Schedulers whose choice depends on the order of the real servers in the
/// kernel's list (Maglev, source and destination hashing).
fn order_matters(s: &crate::model::Scheduler) -> bool {
    use crate::model::Scheduler::*;
    matches!(s, Mh | Sh | Dh)
}

/// The real servers of a desired service, first occurrence of each key.
fn first_of_each(dests: &[Destination]) -> Vec<&Destination> {
    let mut seen = HashSet::with_capacity(dests.len());
    dests.iter().filter(|d| seen.insert(d.key())).collect()
}

/// The configuration of a service without counters (ops carry no stats).
fn configured(s: &Service) -> Service {
    let mut s = s.clone();
    s.stats = Default::default();
    s
}

fn configured_dest(d: &Destination) -> Destination {
    let mut d = d.clone();
    d.stats = Default::default();
    d.active_conns = 0;
    d.inactive_conns = 0;
    d.persistent_conns = 0;
    d
}

/// Applies a plan to an in-memory table the way the kernel would (used to
/// prove plans converge without a kernel). Operations that would fail in
/// the kernel (adding what exists, editing what is missing) return the
/// index of the offending op.
pub fn apply_to_table(table: &mut Table, plan: &[Op]) -> Result<(), usize> {
    for (index, op) in plan.iter().enumerate() {
        let find = |t: &mut Table, k: &ServiceKey| t.services.iter().position(|(s, _)| s.key == *k);
        match op {
            Op::AddService(s) => {
                if find(table, &s.key).is_some() {
                    return Err(index);
                }
                table.services.push((s.clone(), Vec::new()));
            }
            Op::EditService(s) => {
                let i = find(table, &s.key).ok_or(index)?;
                table.services[i].0 = s.clone();
            }
            Op::DelService(k) => {
                let i = find(table, k).ok_or(index)?;
                table.services.remove(i);
            }
            Op::AddDest(k, d) => {
                let i = find(table, k).ok_or(index)?;
                let dests = &mut table.services[i].1;
                if dests.iter().any(|x| x.key() == d.key()) {
                    return Err(index);
                }
                dests.push(d.clone());
            }
            Op::EditDest(k, d) => {
                let i = find(table, k).ok_or(index)?;
                let dests = &mut table.services[i].1;
                let j = dests.iter().position(|x| x.key() == d.key()).ok_or(index)?;
                dests[j] = d.clone();
            }
            Op::DelDest(k, a, p) => {
                let i = find(table, k).ok_or(index)?;
                let dests = &mut table.services[i].1;
                let j = dests
                    .iter()
                    .position(|x| x.key() == (*a, *p))
                    .ok_or(index)?;
                dests.remove(j);
            }
            Op::Flush => table.services.clear(),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Forward, Protocol, Scheduler, ServiceFlags};
    use proptest::prelude::*;

    fn key(n: u8) -> ServiceKey {
        ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: IpAddr::from([10, 0, 0, n]),
            port: 80,
        }
    }

    fn dest(n: u8, weight: u32) -> Destination {
        Destination::new(IpAddr::from([10, 1, 0, n]), 8080, Forward::Masq, weight)
    }

    fn svc(n: u8, dests: Vec<Destination>) -> (Service, Vec<Destination>) {
        (Service::new(key(n), Scheduler::Rr), dests)
    }

    fn table(services: Vec<(Service, Vec<Destination>)>) -> Table {
        Table { services }
    }

    #[test]
    fn from_empty_adds_services_before_their_dests() {
        let desired = table(vec![
            svc(1, vec![dest(1, 1), dest(2, 1)]),
            svc(2, vec![dest(3, 1)]),
        ]);
        let ops = plan(&desired, &Table::default(), &OwnershipFilter::All);
        let kinds: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            kinds,
            [
                "add service TCP 10.0.0.1:80",
                "add real server 10.1.0.1:8080 to TCP 10.0.0.1:80",
                "add real server 10.1.0.2:8080 to TCP 10.0.0.1:80",
                "add service TCP 10.0.0.2:80",
                "add real server 10.1.0.3:8080 to TCP 10.0.0.2:80",
            ]
        );
    }

    #[test]
    fn changed_weight_is_one_edit_and_other_services_untouched() {
        let current = table(vec![
            svc(1, vec![dest(1, 1), dest(2, 1)]),
            svc(2, vec![dest(3, 1)]),
        ]);
        let desired = table(vec![
            svc(1, vec![dest(1, 1), dest(2, 5)]),
            svc(2, vec![dest(3, 1)]),
        ]);
        let ops = plan(&desired, &current, &OwnershipFilter::All);
        assert_eq!(ops, vec![Op::EditDest(key(1), dest(2, 5))]);
    }

    #[test]
    fn changed_scheduler_persistence_or_flags_is_one_service_edit() {
        let current = table(vec![svc(1, vec![dest(1, 1)])]);
        for change in [
            |s: &mut Service| s.scheduler = Scheduler::Wlc,
            |s: &mut Service| s.persistence = Some(300),
            |s: &mut Service| s.flags = ServiceFlags(ServiceFlags::ONEPACKET),
            |s: &mut Service| s.pe_name = Some("sip".into()),
        ] {
            let mut desired = current.clone();
            change(&mut desired.services[0].0);
            let ops = plan(&desired, &current, &OwnershipFilter::All);
            assert_eq!(ops, vec![Op::EditService(desired.services[0].0.clone())]);
        }
    }

    #[test]
    fn kernel_only_fields_do_not_count_as_changes() {
        let desired = table(vec![svc(1, vec![dest(1, 1)])]);
        let mut current = desired.clone();
        current.services[0].0.flags = ServiceFlags(ServiceFlags::HASHED);
        current.services[0].0.stats.conns = 7;
        current.services[0].1[0].active_conns = 3;
        current.services[0].1[0].stats.inbytes = 99;
        assert!(plan(&desired, &current, &OwnershipFilter::All).is_empty());
    }

    #[test]
    fn dests_deleted_before_added_within_a_service() {
        let current = table(vec![svc(1, vec![dest(1, 1), dest(2, 1)])]);
        let desired = table(vec![svc(1, vec![dest(3, 1), dest(2, 2)])]);
        let ops = plan(&desired, &current, &OwnershipFilter::All);
        assert_eq!(
            ops,
            vec![
                Op::DelDest(key(1), dest(1, 1).addr, 8080),
                Op::EditDest(key(1), dest(2, 2)),
                Op::AddDest(key(1), dest(3, 1)),
            ]
        );
    }

    #[test]
    fn hashing_schedulers_get_their_real_servers_in_one_canonical_order() {
        for (sched, sorted) in [
            (Scheduler::Mh, true),
            (Scheduler::Sh, true),
            (Scheduler::Dh, true),
            (Scheduler::Rr, false),
        ] {
            let mut desired = table(vec![svc(1, vec![dest(3, 1), dest(1, 1), dest(2, 1)])]);
            desired.services[0].0.scheduler = sched.clone();
            let ops = plan(&desired, &Table::default(), &OwnershipFilter::All);
            let added: Vec<Destination> = ops
                .iter()
                .filter_map(|o| match o {
                    Op::AddDest(_, d) => Some(d.clone()),
                    _ => None,
                })
                .collect();
            let want = if sorted {
                vec![dest(1, 1), dest(2, 1), dest(3, 1)]
            } else {
                vec![dest(3, 1), dest(1, 1), dest(2, 1)]
            };
            assert_eq!(added, want, "{}", sched.name());
        }
    }

    #[test]
    fn services_not_owned_are_left_alone() {
        let current = table(vec![svc(1, vec![dest(1, 1)]), svc(9, vec![dest(9, 1)])]);
        let desired = table(vec![svc(1, vec![dest(1, 1)])]);
        assert!(plan(&desired, &current, &OwnershipFilter::DesiredOnly).is_empty());
        let owned = OwnershipFilter::Keys([key(8)].into_iter().collect());
        assert!(plan(&desired, &current, &owned).is_empty());
        let owned = OwnershipFilter::Keys([key(9)].into_iter().collect());
        assert_eq!(
            plan(&desired, &current, &owned),
            vec![Op::DelService(key(9))]
        );
        assert_eq!(
            plan(&desired, &current, &OwnershipFilter::All),
            vec![Op::DelService(key(9))]
        );
    }

    #[test]
    fn owned_service_removal_is_one_delete_and_comes_first() {
        let current = table(vec![svc(1, vec![dest(1, 1), dest(2, 1)])]);
        let desired = table(vec![svc(2, vec![dest(1, 1)])]);
        let ops = plan(&desired, &current, &OwnershipFilter::from_table(&current));
        assert_eq!(
            ops,
            vec![
                Op::DelService(key(1)),
                Op::AddService(Service::new(key(2), Scheduler::Rr)),
                Op::AddDest(key(2), dest(1, 1)),
            ]
        );
    }

    #[test]
    fn duplicates_in_desired_are_planned_once() {
        let desired = table(vec![svc(1, vec![dest(1, 1), dest(1, 2)]), svc(1, vec![])]);
        let ops = plan(&desired, &Table::default(), &OwnershipFilter::All);
        assert_eq!(PlanSummary::of(&ops).add_services, 1);
        assert_eq!(PlanSummary::of(&ops).add_dests, 1);
    }

    fn arb_dest() -> impl Strategy<Value = Destination> {
        (
            0u8..6,
            0u32..4,
            prop::sample::select(vec![Forward::Masq, Forward::Route]),
        )
            .prop_map(|(n, w, f)| {
                let mut d = dest(n, w);
                d.forward = f;
                d
            })
    }

    fn arb_table() -> impl Strategy<Value = Table> {
        prop::collection::vec(
            (
                0u8..6,
                prop::sample::select(vec![Scheduler::Rr, Scheduler::Wlc]),
                prop::option::of(1u32..3),
                prop::collection::vec(arb_dest(), 0..5),
            ),
            0..5,
        )
        .prop_map(|v| {
            let mut seen = HashSet::new();
            Table {
                services: v
                    .into_iter()
                    .filter(|(n, ..)| seen.insert(*n))
                    .map(|(n, sched, pers, dests)| {
                        let mut s = Service::new(key(n), sched);
                        s.persistence = pers;
                        (s, first_of_each(&dests).into_iter().cloned().collect())
                    })
                    .collect(),
            }
        })
    }

    fn same_tables(a: &Table, b: &Table) -> bool {
        let by_key = |t: &Table| {
            t.services
                .iter()
                .map(|(s, d)| {
                    let mut d: Vec<_> = d.clone();
                    d.sort_by_key(|x| x.key());
                    (s.key, (s.clone(), d))
                })
                .collect::<HashMap<_, _>>()
        };
        let (a, b) = (by_key(a), by_key(b));
        a.len() == b.len()
            && a.iter().all(|(k, (s, d))| {
                b.get(k).is_some_and(|(s2, d2)| {
                    s.same_config(s2)
                        && d.len() == d2.len()
                        && d.iter().zip(d2).all(|(x, y)| x.same_config(y))
                })
            })
    }

    proptest! {
        /// Any plan applies cleanly, converges, and a second plan is empty.
        #[test]
        fn plan_converges_and_is_idempotent(desired in arb_table(), current in arb_table()) {
            let mut t = current.clone();
            let ops = plan(&desired, &current, &OwnershipFilter::All);
            prop_assert!(apply_to_table(&mut t, &ops).is_ok());
            prop_assert!(same_tables(&t, &desired));
            prop_assert!(plan(&desired, &t, &OwnershipFilter::All).is_empty());
        }

        /// The pieces, one after the other, are the whole plan; each is
        /// within the bound unless one service's operations (after the
        /// deletions) exceed it alone. A service given twice is planned once.
        #[test]
        fn pieces_make_the_plan(
            desired in arb_table(),
            current in arb_table(),
            twice in any::<bool>(),
            max_ops in 1usize..8,
        ) {
            let mut desired = desired;
            if twice {
                if let Some(first) = desired.services.first().cloned() {
                    desired.services.push(first);
                }
            }
            let whole = plan(&desired, &current, &OwnershipFilter::All);
            let mut planner = Planner::new(&desired, &current, &OwnershipFilter::All);
            let mut joined = Vec::new();
            let mut first = true;
            while let Some(piece) = planner.next_chunk(max_ops) {
                prop_assert!(!piece.is_empty());
                let services: HashSet<ServiceKey> = piece
                    .iter()
                    .filter_map(|op| match op {
                        Op::DelService(_) => None,
                        Op::AddService(s) | Op::EditService(s) => Some(s.key),
                        Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, ..) => Some(*k),
                        _ => None,
                    })
                    .collect();
                let deletions = if first {
                    piece.iter().filter(|op| matches!(op, Op::DelService(_))).count()
                } else {
                    0
                };
                prop_assert!(
                    piece.len() - deletions <= max_ops || services.len() <= 1,
                    "piece of {} ({} deletions) over {} holds {} services",
                    piece.len(), deletions, max_ops, services.len()
                );
                first = false;
                joined.extend(piece);
            }
            prop_assert_eq!(joined, whole);
        }

        /// Without ownership, services only in `current` survive untouched.
        #[test]
        fn unowned_services_survive(desired in arb_table(), current in arb_table()) {
            let mut t = current.clone();
            let ops = plan(&desired, &current, &OwnershipFilter::DesiredOnly);
            prop_assert!(apply_to_table(&mut t, &ops).is_ok());
            for (s, d) in &current.services {
                if !desired.services.iter().any(|(x, _)| x.key == s.key) {
                    let kept = t.services.iter().find(|(x, _)| x.key == s.key);
                    prop_assert_eq!(kept.map(|(_, kd)| kd), Some(d));
                }
            }
        }
    }
}
