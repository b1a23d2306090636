//! Polling with a deadline instead of fixed sleeps: CI machines are slow and
//! loaded, so callers pass generous timeouts and return as soon as the
//! condition holds.

use std::time::{Duration, Instant};

/// How often conditions are re-checked.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A condition did not hold before its deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {timeout:?} waiting for {what}")]
pub struct WaitTimeout {
    /// What was awaited, e.g. "10.0.0.2 to answer ping".
    pub what: String,
    /// The deadline that passed.
    pub timeout: Duration,
}

impl WaitTimeout {
    /// A timeout while waiting for `what`.
    pub fn new(what: &str, timeout: Duration) -> Self {
        WaitTimeout {
            what: what.to_owned(),
            timeout,
        }
    }
}

/// Calls `condition` every [`POLL_INTERVAL`] until it returns true or
/// `timeout` has passed; it is always called at least once, and once more
/// at the deadline.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> Result<(), WaitTimeout> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitTimeout::new(what, timeout));
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_once_the_condition_holds() {
        let mut calls = 0;
        let result = wait_until("the third call", Duration::from_secs(30), || {
            calls += 1;
            calls == 3
        });
        assert_eq!(result, Ok(()));
        assert_eq!(calls, 3);
    }

    #[test]
    fn times_out_naming_what_was_awaited() {
        let err = wait_until("never", Duration::from_millis(120), || false)
            .expect_err("condition never holds");
        assert_eq!(err.to_string(), "timed out after 120ms waiting for never");
    }
}
