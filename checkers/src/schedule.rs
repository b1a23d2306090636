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

/// How many checks a start slot should gather, where the pool is small enough to choose:
/// each slot that starts checks costs the runner two wake-ups (the starts with their
/// submission, then the replies one slot later), and in UML a wake-up costs about as much
/// as four checks (see [`START_SLOT`]); with some 32 checks a slot, waking adds about a
/// quarter of a check's cost to each, where 200 checks spread over every slot of a second
/// paid more than their own cost again.
pub const CHECKS_PER_START_SLOT: u64 = 32;

/// The coarsest phase grid, in slots (320 ms): however small the pool, its first checks
/// still spread over a few phases of a `delay_loop` of a second or more.
const MAX_PHASE_SLOTS: u32 = 16;

/// The grid (a power of two of [`START_SLOT`]s) that a coalesced checker's first check is
/// placed on within its `delay_loop`, in a pool of `pool` such checkers: as coarse as
/// keeps a start slot's expected share of the pool (`pool × grid ÷ delay_loop`) at most
/// [`CHECKS_PER_START_SLOT`], no coarser than [`MAX_PHASE_SLOTS`] slots nor than the warmup
/// bound (the random spread still reaches over all of it). A pool of 200 checkers at
/// `delay_loop 1` starts on 160 ms phases (some 32 checks each, 6 or 7 a second); one of
/// 10,000 on every slot, as before. Powers of two: a coarser grid's phases are phases of
/// every finer one, so servers added as the pool grows still join earlier ones' slots.
pub fn phase_grid(pool: usize, schedule: &CheckSchedule) -> Duration {
    let slot = START_SLOT.as_nanos();
    let delay = schedule.delay_loop.as_nanos();
    let warmup = schedule.warmup_bound().as_nanos();
    let pool = pool.max(1) as u128;
    let mut slots: u32 = 1;
    while slots < MAX_PHASE_SLOTS {
        let wider = u128::from(slots * 2) * slot;
        // pool × wider ÷ delay ≤ CHECKS_PER_START_SLOT, without dividing.
        let too_many = pool * wider > u128::from(CHECKS_PER_START_SLOT) * delay;
        if too_many || wider > warmup || wider > delay {
            break;
        }
        slots *= 2;
    }
    START_SLOT * slots
}

/// Where a coalesced checker's first check starts: [`first_due`]'s random offset, moved
/// back to the phase of `grid` (see [`phase_grid`]) it falls in, counted from the start of
/// its `delay_loop` since the runner's epoch, so checkers added at different times share
/// phases; a phase already past (`now` inside it) gives the next one. Stays within the
/// warmup bound (unless it is under a slot, as [`on_slot`] does) and on the slot grid:
/// `delay_loop` and `grid` are whole numbers of slots.
pub fn first_start(
    now: Duration,
    schedule: &CheckSchedule,
    random_fraction: f64,
    grid: Duration,
) -> Duration {
    let due = first_due(now, schedule, random_fraction);
    let delay = schedule.delay_loop.as_nanos();
    let grid_ns = grid.as_nanos();
    if delay == 0 || grid_ns == 0 {
        return on_slot(due);
    }
    let phase_at_or_before = |t: u128| t / delay * delay + (t % delay) / grid_ns * grid_ns;
    let phase_at_or_after = |t: u128| {
        let base = t / delay * delay;
        let offset = (t % delay).div_ceil(grid_ns) * grid_ns;
        if offset >= delay {
            base + delay
        } else {
            base + offset
        }
    };
    let now_ns = now.as_nanos();
    let mut start = phase_at_or_before(due.as_nanos());
    if start < now_ns {
        start = phase_at_or_after(now_ns);
    }
    // Beyond u64 nanoseconds (584 years) the grid no longer matters.
    u64::try_from(start).map_or(on_slot(due), Duration::from_nanos)
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
    fn small_pools_start_on_coarser_phases_large_ones_on_every_slot() {
        let ms = Duration::from_millis;
        assert_eq!(START_SLOT, ms(20), "the figures below are for 20 ms slots");
        assert_eq!(CHECKS_PER_START_SLOT, 32);
        let second = schedule(1, None);
        // 200 checks a second: 160 ms phases hold 32 each; 320 ms would hold 64.
        assert_eq!(phase_grid(200, &second), ms(160));
        assert_eq!(phase_grid(201, &second), ms(80));
        // 800 a second: 40 ms (32 a phase); 1,000 or 10,000: every slot.
        assert_eq!(phase_grid(800, &second), ms(40));
        assert_eq!(phase_grid(1_000, &second), ms(20));
        assert_eq!(phase_grid(10_000, &second), ms(20));
        // However small the pool: no coarser than 16 slots.
        assert_eq!(phase_grid(0, &second), ms(320));
        assert_eq!(phase_grid(1, &second), ms(320));
        // A longer delay_loop spreads the same pool thinner.
        assert_eq!(phase_grid(1_000, &schedule(5, None)), ms(160));
        // No coarser than the warmup bound or the delay_loop.
        let short_warmup = CheckSchedule {
            warmup: Some(ms(100)),
            ..second.clone()
        };
        assert_eq!(phase_grid(1, &short_warmup), ms(80));
        assert_eq!(phase_grid(1, &schedule(1, Some(0))), ms(20));
        let fast = CheckSchedule {
            delay_loop: ms(60),
            warmup: None,
            ..second.clone()
        };
        assert_eq!(phase_grid(1, &fast), ms(40));
    }

    #[test]
    fn first_starts_fall_on_shared_phases_within_the_warmup() {
        let ms = Duration::from_millis;
        let second = schedule(1, None);
        let grid = ms(160);
        let phases = |now: Duration| {
            (0..1000)
                .map(|i| first_start(now, &second, f64::from(i) / 1000.0, grid))
                .collect::<std::collections::BTreeSet<_>>()
        };
        // Started at the epoch: the phases of the first second, nothing else.
        let at_epoch = phases(Duration::ZERO);
        let expected: std::collections::BTreeSet<_> = (0..7).map(|p| ms(160 * p)).collect();
        assert_eq!(at_epoch, expected);
        // Added later, mid-phase: the same phases of their own second, none already past,
        // none beyond the warmup bound.
        let now = ms(12_345);
        let later = phases(now);
        assert!(later
            .iter()
            .all(|t| *t >= now && *t <= now + Duration::from_secs(1)));
        assert!(later
            .iter()
            .all(|t| (t.as_millis() % 1000) % 160 == 0 && t.as_millis() % 20 == 0));
        assert!(later.contains(&ms(12_480)) && later.contains(&ms(13_320)));
        assert!(
            !later.contains(&ms(12_320)),
            "a phase already begun is not used"
        );
        // The phase the random offset falls in, not the next one.
        assert_eq!(first_start(ms(0), &second, 0.3, grid), ms(160));
        assert_eq!(first_start(ms(0), &second, 0.99, grid), ms(960));
        // On every slot, a first start is the random offset on the next slot boundary
        // (or this one) as before, never before now.
        assert_eq!(first_start(ms(5), &second, 0.0, START_SLOT), ms(20));
        assert_eq!(first_start(ms(0), &second, 0.5, START_SLOT), ms(500));
        // warmup 0: at once, on the next slot.
        assert_eq!(
            first_start(ms(1_007), &schedule(1, Some(0)), 0.7, START_SLOT),
            ms(1_020)
        );
        // A first start plus whole rounds stays on the slot grid.
        let first = first_start(ms(7), &second, 0.42, grid);
        let no_clock = || -> Duration { panic!("a regular round needs no clock read") };
        let next = next_start(first, round(1), first, no_clock, true);
        assert_eq!(next, first + Duration::from_secs(1));
        assert_eq!(on_slot(next), next);
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
