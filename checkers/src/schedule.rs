//! When checks are due, computed from a virtual `now` (time since the runner started).
#![forbid(unsafe_code)]

use std::time::Duration;

use crate::config::CheckSchedule;

/// Due time of a checker's first check: a random offset in `[0, warmup]` (keepalived's
/// `warmup`, by default `delay_loop`, 0 disables) so many checks of one pool do not fire at
/// once. `random_fraction` in `[0, 1)` comes from the caller, keeping this deterministic.
pub fn first_due(now: Duration, schedule: &CheckSchedule, random_fraction: f64) -> Duration {
    let bound = schedule.warmup_bound();
    let fraction = if random_fraction.is_finite() {
        random_fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    now + bound.mul_f64(fraction)
}

/// Due time of the next check, given what the verdict asked for.
///
/// A regular round stays on the grid of due times (`previous_due + delay`), so slow checks do
/// not make the schedule drift; a check that overran its slot is then already due and starts
/// at once. Only a check that started a whole round late re-anchors the grid to its start.
/// A retry waits its full `delay_before_retry` after the failed attempt finished, as
/// keepalived does, and a zero delay (the next URL at once) starts right after this one.
///
/// `finished` reads the clock, and only those two cases need it: with thousands of checks a
/// second, every clock read counts where the clock is a system call (the UML test bed).
pub fn next_due(
    previous_due: Duration,
    next: crate::verdict::NextCheck,
    started: Duration,
    finished: impl FnOnce() -> Duration,
) -> Duration {
    if next.after_completion || next.delay.is_zero() {
        return finished() + next.delay;
    }
    let on_grid = previous_due + next.delay;
    if on_grid > started {
        on_grid
    } else {
        started + next.delay
    }
}

/// How late a check started relative to its due time (for the scheduling-accuracy stats).
pub fn lateness(due: Duration, started: Duration) -> Duration {
    started.saturating_sub(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckKind;
    use crate::verdict::NextCheck;

    fn schedule(delay_loop: u64, warmup: Option<u64>) -> CheckSchedule {
        CheckSchedule {
            delay_loop: Duration::from_secs(delay_loop),
            warmup: warmup.map(Duration::from_secs),
            ..CheckSchedule::keepalived_default(CheckKind::Tcp)
        }
    }

    #[test]
    fn warmup_defaults_to_delay_loop_and_stays_within_bounds() {
        let s = schedule(10, None);
        let now = Duration::from_secs(100);
        assert_eq!(first_due(now, &s, 0.0), now);
        assert_eq!(first_due(now, &s, 0.5), now + Duration::from_secs(5));
        assert!(first_due(now, &s, 0.999_999) < now + Duration::from_secs(10));
        // Out-of-range randomness is clamped, never beyond the bound.
        assert_eq!(first_due(now, &s, 7.0), now + Duration::from_secs(10));
        assert_eq!(first_due(now, &s, f64::NAN), now);
    }

    #[test]
    fn warmup_zero_disables_the_offset() {
        let s = schedule(10, Some(0));
        let now = Duration::from_secs(3);
        assert_eq!(first_due(now, &s, 0.9), now);
    }

    #[test]
    fn explicit_warmup_bounds_the_offset() {
        let s = schedule(60, Some(4));
        assert_eq!(first_due(Duration::ZERO, &s, 0.5), Duration::from_secs(2));
    }

    fn round(secs: u64) -> NextCheck {
        NextCheck {
            delay: Duration::from_secs(secs),
            after_completion: false,
        }
    }

    #[test]
    fn next_round_is_anchored_to_the_schedule_not_to_completion() {
        let s = |x: u64| Duration::from_secs(x);
        let no_clock = || -> Duration { panic!("a regular round needs no clock read") };
        // Started 300 ms late: still due on the grid.
        assert_eq!(
            next_due(s(10), round(5), Duration::from_millis(10_300), no_clock),
            s(15)
        );
        // However long the check took: the next one is due on the grid (at once if past).
        assert_eq!(next_due(s(10), round(5), s(10), no_clock), s(15));
        // Started a whole round late: the grid moves to the actual start.
        assert_eq!(next_due(s(10), round(5), s(16), no_clock), s(21));
        // Zero delay (next URL without waiting): right after this check finished.
        assert_eq!(next_due(s(10), round(0), s(10), || s(11)), s(11));
    }

    #[test]
    fn retry_waits_after_the_failed_attempt() {
        let s = |x: u64| Duration::from_secs(x);
        let retry = NextCheck {
            delay: s(3),
            after_completion: true,
        };
        // The attempt due at 10 timed out at 15: retry at 18, not 13.
        assert_eq!(next_due(s(10), retry, s(10), || s(15)), s(18));
    }
}
