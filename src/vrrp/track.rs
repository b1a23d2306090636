//! Tracked script results → up/down with keepalived's `fall` / `rise` hysteresis, pure.
#![forbid(unsafe_code)]

/// Outcome of one run of a `vrrp_script`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Exit status 0.
    Success,
    /// Non-zero exit, killed by a signal, or failed to start.
    Failure,
    /// Did not finish within `timeout` (keepalived counts it as a failure).
    TimedOut,
}

/// Up/down state of one tracked script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptTracker {
    fall: u32,
    rise: u32,
    up: bool,
    /// Consecutive results disagreeing with `up`.
    streak: u32,
}

impl ScriptTracker {
    /// `fall` / `rise` of 0 are treated as 1 (keepalived's minimum).
    pub fn new(fall: u32, rise: u32, initially_up: bool) -> ScriptTracker {
        ScriptTracker {
            fall: fall.max(1),
            rise: rise.max(1),
            up: initially_up,
            streak: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Record one result; returns the new state when it flips.
    pub fn record(&mut self, outcome: ScriptOutcome) -> Option<bool> {
        let ok = outcome == ScriptOutcome::Success;
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.streak >= needed {
            self.up = ok;
            self.streak = 0;
            Some(ok)
        } else {
            None
        }
    }
}
