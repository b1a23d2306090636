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

/// The grid that check starts are coalesced onto (since the runner's epoch). Every start
/// wakes the runner (a timer, then the replies), and what a wake-up costs does not depend
/// on how many checks it starts: checks whose due times share a slot start in one wake-up
/// and their replies tend to arrive together. Where waking is dear it outweighs the check:
/// in UML some 0.6 ms per wake-up against some 0.16 ms per check (BENCHMARKS.md). 20 ms
/// slots wake the runner at most 50 times a second, half as often as 10 ms did, which cut
/// lvsd's CPU per check there by about a third at 200 checks a second. 20 ms adds at most
/// that to a first check's random offset, keeps a checker's interval exact (its
/// `delay_loop` a whole number of slots), is two fifths of the 50 ms punctuality budget,
/// and a slotted check's I/O (two slots) still fits well within a `connect_timeout`.
pub const START_SLOT: Duration = Duration::from_millis(20);

/// Whether a checker's starts are coalesced onto [`START_SLOT`]: only when its `delay_loop`
/// is a whole number of slots, so its rounds stay exactly `delay_loop` apart (a
/// `delay_loop 1.005` keeps exact, uncoalesced due times).
pub fn coalesces(schedule: &CheckSchedule) -> bool {
    let slot = START_SLOT.as_nanos();
    let delay = schedule.delay_loop.as_nanos();
    delay > 0 && delay % slot == 0
}

/// When a checker's next check starts: [`next_due`], moved onto a [`START_SLOT`] boundary
/// for a checker that [`coalesces`] unless the delay is zero (a retry and a skipped round
/// land on the grid again; the next URL still starts at once).
pub fn next_start(
    previous_due: Duration,
    next: crate::verdict::NextCheck,
    started: Duration,
    finished: impl FnOnce() -> Duration,
    coalesced: bool,
) -> Duration {
    let due = next_due(previous_due, next, started, finished);
    if coalesced && !next.delay.is_zero() {
        on_slot(due)
    } else {
        due
    }
}

/// When a checker whose round due at `due` was skipped (see `overload`) starts next: its
/// next round on its own grid, `delay_loop` after the skipped one.
pub fn after_skip(
    due: Duration,
    delay_loop: Duration,
    started: Duration,
    coalesced: bool,
) -> Duration {
    let round = crate::verdict::NextCheck {
        delay: delay_loop,
        after_completion: false,
    };
    next_start(due, round, started, || started, coalesced)
}

/// `due` moved to the next slot boundary (unchanged if on one): a coalesced checker's
/// first due time, and its next ones (see [`next_start`]).
pub fn on_slot(due: Duration) -> Duration {
    let slot = START_SLOT.as_nanos();
    let ns = due.as_nanos();
    let up = ns.div_ceil(slot).saturating_mul(slot);
    // Beyond u64 nanoseconds (584 years) the grid no longer matters.
    u64::try_from(up).map_or(due, Duration::from_nanos)
}

/// The first slot boundary after `t` (strictly): when a check started at `t` does the
/// next step of its I/O, with the checks starting in that slot.
pub fn slot_after(t: Duration) -> Duration {
    on_slot(t.saturating_add(Duration::from_nanos(1)))
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

    #[test]
    fn starts_are_coalesced_onto_slots_and_rounds_stay_delay_loop_apart() {
        let ms = Duration::from_millis;
        assert_eq!(START_SLOT, ms(20), "the figures below are for 20 ms slots");
        assert_eq!(on_slot(ms(0)), ms(0));
        assert_eq!(on_slot(ms(20)), ms(20));
        assert_eq!(on_slot(Duration::from_micros(20_001)), ms(40));
        assert_eq!(on_slot(Duration::from_micros(39_999)), ms(40));
        assert_eq!(on_slot(Duration::MAX), Duration::MAX);
        assert_eq!(slot_after(ms(20)), ms(40));
        assert_eq!(slot_after(Duration::from_micros(20_300)), ms(40));
        assert_eq!(slot_after(Duration::MAX), Duration::MAX);
        assert!(coalesces(&schedule(1, None)));
        let odd = CheckSchedule {
            delay_loop: ms(1005),
            ..schedule(1, None)
        };
        assert!(!coalesces(&odd));
        let zero = CheckSchedule {
            delay_loop: Duration::ZERO,
            ..schedule(1, None)
        };
        assert!(!coalesces(&zero));
        // A slotted first due plus whole-slot rounds stays on the grid: every round is
        // exactly delay_loop after the last, and on_slot leaves it there.
        let first = on_slot(Duration::from_micros(123_456));
        assert_eq!(first, ms(140));
        let no_clock = || -> Duration { panic!("a regular round needs no clock read") };
        let second = next_start(first, round(1), first, no_clock, true);
        assert_eq!(second, first + Duration::from_secs(1));
    }

    #[test]
    fn next_starts_land_on_slots_unless_the_delay_is_zero() {
        let ms = Duration::from_millis;
        assert_eq!(START_SLOT, ms(20), "the figures below are for 20 ms slots");
        let retry = NextCheck {
            delay: ms(3000),
            after_completion: true,
        };
        // A retry waits its delay after the attempt ended, then for the next slot.
        assert_eq!(
            next_start(ms(10), retry, ms(10), || ms(1_234), true),
            ms(4_240)
        );
        assert_eq!(
            next_start(ms(10), retry, ms(10), || ms(1_234), false),
            ms(4_234)
        );
        // The next URL starts at once, not on the next slot.
        let next_url = round(0);
        assert_eq!(
            next_start(ms(10), next_url, ms(10), || ms(17), true),
            ms(17)
        );
        // A round started more than a whole round late re-anchors, then lands on a slot.
        assert_eq!(
            next_start(ms(0), round(1), ms(1_003), || ms(1_100), true),
            ms(2_020)
        );
    }

    #[test]
    fn a_skipped_round_waits_for_the_next_on_its_grid() {
        let ms = Duration::from_millis;
        let second = Duration::from_secs(1);
        // Due at 5 s, reached 80 ms late: next due at 6 s, its grid kept.
        assert_eq!(after_skip(ms(5_000), second, ms(5_080), true), ms(6_000));
        assert_eq!(after_skip(ms(5_000), second, ms(5_080), false), ms(6_000));
    }
}
