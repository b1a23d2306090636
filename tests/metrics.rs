//! Observability (issue #15): the `/metrics` exposition, the status page,
//! `/status.json` and the health checks, rendered from fixed `Status` values
//! (goldens, hostile strings, series counts) and served by a running lvsd in
//! a network namespace to real consumers: `promtool`, a Prometheus server
//! and headless Chromium. The shipped alert rules run under `promtool test rules`.

#[allow(unused_imports)]
use testbed::{netns, process, wait};

/// Held by the failover test (VRRP at advert_int 0.1 s: a backup takes over
/// after 0.36 s without adverts) and by the tests that load both cores
/// (Chromium, the 100 × 100 renders of a debug build), so that the test
/// harness running them side by side cannot starve a director into a false
/// failover: that test is about what Prometheus sees, not CPU starvation.
pub static CPU_HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn cpu_heavy() -> std::sync::MutexGuard<'static, ()> {
    CPU_HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

#[path = "metrics/fixtures.rs"]
mod fixtures;

#[path = "metrics/render.rs"]
mod render;

#[path = "metrics/live.rs"]
mod live;

#[path = "metrics/rules.rs"]
mod rules;

#[path = "metrics/failover.rs"]
mod failover;
