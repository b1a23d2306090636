//! How long each phase of a takeover took, measured by lvsd itself: the
//! times of the last few takeovers (for `lvsd status` and the status page)
//! and one histogram per phase (for `/metrics`). Pure: the runner stamps
//! the phases as it performs a new master's actions.
//!
//! The phases, each from the moment the instance decided to become master
//! except detection:
//! - `detection`: from the last advert heard from the old master to that
//!   decision (about the master-down interval after a crash, Skew_Time after
//!   a priority 0 advert); absent when no master had been heard (start-up);
//! - `vips_added`: the VIPs, routes and rules are in place;
//! - `garp_sent`: the first gratuitous ARP / NA burst has gone out (or is
//!   queued to the pacer when `vrrp_garp_interval` spaces them);
//! - `notify_done`: the notify scripts are started and the FIFO / mail
//!   subscribers have the event (lvsd does not wait for scripts to end).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::histogram::Histogram;

/// The phases in the order they happen; also the `phase` label values.
pub const PHASES: [&str; 4] = ["detection", "vips_added", "garp_sent", "notify_done"];

/// Upper bounds (seconds) of the histogram buckets: from a fast netlink
/// write to a slow detection at advert_int 1 s and more.
pub const BUCKETS: [f64; 14] = crate::histogram::LATENCY_BUCKETS;

/// How many takeovers an instance remembers.
pub const RECENT: usize = 8;

/// One takeover's phase times, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Takeover {
    /// When it was decided (Unix seconds, with fractions).
    pub at: f64,
    pub detection: Option<f64>,
    pub vips_added: Option<f64>,
    pub garp_sent: Option<f64>,
    pub notify_done: Option<f64>,
}

impl Takeover {
    /// The phase times in [`PHASES`] order.
    pub fn phases(&self) -> [Option<f64>; 4] {
        [
            self.detection,
            self.vips_added,
            self.garp_sent,
            self.notify_done,
        ]
    }
}

/// An instance's takeovers: the recent ones and a histogram per phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TakeoverLog {
    /// Newest last.
    pub recent: VecDeque<Takeover>,
    /// One per phase, in [`PHASES`] order.
    pub phases: Vec<Histogram>,
}

impl TakeoverLog {
    /// Files a finished takeover.
    pub fn record(&mut self, t: Takeover) {
        if self.phases.len() != PHASES.len() {
            self.phases = vec![Histogram::new(&BUCKETS); PHASES.len()];
        }
        for (h, v) in self.phases.iter_mut().zip(t.phases()) {
            if let Some(v) = v {
                h.observe(v);
            }
        }
        self.recent.push_back(t);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }
}

/// A takeover being performed: the phases are stamped as the runner
/// performs the new master's actions, then it is filed.
#[derive(Debug, Clone)]
pub struct InProgress {
    started: std::time::Instant,
    takeover: Takeover,
}

impl InProgress {
    pub fn start(started: std::time::Instant, at_unix: f64, detection: Option<Duration>) -> Self {
        InProgress {
            started,
            takeover: Takeover {
                at: at_unix,
                detection: detection.map(|d| d.as_secs_f64()),
                ..Takeover::default()
            },
        }
    }

    fn since(&self, now: std::time::Instant) -> Option<f64> {
        Some(now.saturating_duration_since(self.started).as_secs_f64())
    }

    pub fn vips_added(&mut self, now: std::time::Instant) {
        self.takeover.vips_added = self.since(now);
    }

    pub fn garp_sent(&mut self, now: std::time::Instant) {
        if self.takeover.garp_sent.is_none() {
            self.takeover.garp_sent = self.since(now);
        }
    }

    /// The last phase: the takeover is complete.
    pub fn notify_done(mut self, now: std::time::Instant) -> Takeover {
        self.takeover.notify_done = self.since(now);
        self.takeover
    }
}

/// A duration in seconds as people read it: "3.61 s", "12.4 ms", "85 µs".
fn seconds_text(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// One line of a takeover's phases, for `lvsd status` and the status page
/// (numbers only: nothing to escape).
pub fn describe(t: &Takeover) -> String {
    let names = ["detection", "VIPs added", "GARP sent", "notify done"];
    names
        .iter()
        .zip(t.phases())
        .map(|(name, v)| match v {
            Some(v) => format!("{name} {}", seconds_text(v)),
            None => format!("{name} -"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
