//! Observability (issue #15): the `/metrics` exposition, the status page,
//! `/status.json` and the health checks, rendered from fixed `Status` values
//! (goldens, hostile strings, series counts) and served by a running lvsd in
//! a network namespace to real consumers: `promtool`, a Prometheus server
//! and headless Chromium. The shipped alert rules run under `promtool test rules`.

#[allow(unused_imports)]
use testbed::{netns, process, wait};

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
