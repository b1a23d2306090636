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

impl ScriptOutcome {
    /// The `result` label of `lvsd_vrrp_track_script_runs_total`.
    pub fn label(self) -> &'static str {
        match self {
            ScriptOutcome::Success => "success",
            ScriptOutcome::Failure => "failure",
            ScriptOutcome::TimedOut => "timeout",
        }
    }
}

/// Upper bounds (seconds) of the script duration histogram: from a `test -f`
/// to a script near keepalived's default 2 s interval and beyond.
pub const SCRIPT_DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A tracked script's runs so far: how many by result, and how long they took.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScriptRuns {
    /// By [`ScriptOutcome::label`].
    pub results: std::collections::BTreeMap<String, u64>,
    pub durations: crate::histogram::Histogram,
}

impl ScriptRuns {
    pub fn record(&mut self, outcome: ScriptOutcome, seconds: f64) {
        *self.results.entry(outcome.label().to_string()).or_default() += 1;
        if self.durations.bounds.is_empty() {
            self.durations = crate::histogram::Histogram::new(&SCRIPT_DURATION_BUCKETS);
        }
        self.durations.observe(seconds);
    }
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

/// What a tracked file's value does to one VRRP instance tracking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEffect {
    /// The instance goes to FAULT.
    Fault,
    /// Added to the configured priority (the sum is kept within 1..=254).
    Adjust(i32),
}

/// keepalived's rule: with weight 0, a non-zero value is a fault (`reverse`: a zero value
/// is); otherwise value × weight (negated by `reverse`), at most 253, and -254 or less is
/// a fault.
pub fn file_effect(value: i32, weight: i32, reverse: bool) -> FileEffect {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileEffect::Fault
        } else {
            FileEffect::Adjust(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let status = i64::from(value) * i64::from(weight) * sign;
    if status <= -254 {
        FileEffect::Fault
    } else {
        FileEffect::Adjust(status.min(253) as i32)
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn file_values_adjust_priority_or_fault_as_keepalived() {
        use FileEffect::*;
        assert_eq!(file_effect(0, 0, false), Adjust(0));
        assert_eq!(file_effect(3, 0, false), Fault);
        assert_eq!(file_effect(0, 0, true), Fault);
        assert_eq!(file_effect(3, 0, true), Adjust(0));
        assert_eq!(file_effect(30, -2, false), Adjust(-60));
        assert_eq!(file_effect(30, -2, true), Adjust(60));
        assert_eq!(file_effect(200, 2, false), Adjust(253));
        assert_eq!(file_effect(-127, 2, false), Fault);
        assert_eq!(file_effect(-126, 2, false), Adjust(-252));
        assert_eq!(file_effect(i32::MIN, -254, true), Fault);
        assert_eq!(file_effect(i32::MAX, 254, false), Adjust(253));
    }
}
