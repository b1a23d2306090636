//! What the runner does past its capacity, decided from check start times alone (pure,
//! virtual time).
//!
//! When more checks are due than the runner's threads can start, every start waits behind
//! every earlier one: run in order, all of them end up late (a backlog up to a whole
//! round, the collapse BENCHMARKS' capacity row measured). Instead, once checks have
//! started more than [`LATE`] after their time for [`SUSTAINED`], late starts at most
//! [`BACKLOG_GAP`] apart and more of them than on-time ones, the runner *sheds*: a check
//! that would start more than [`LATE`] late skips that round and waits for its next one
//! on its own grid. The backlog then stays near [`LATE`], the checks
//! that run are on time and the share of rounds skipped grows with the overload. A checker
//! never skips two rounds in a row, so each real server is still checked at least every
//! second round. Shedding ends after [`SUSTAINED`] without a late start. (On-time starts
//! among the late ones do not end a backlog: a few checks that happen to start on time
//! while the rest fall seconds behind kept the runner from ever shedding, now and then,
//! when one on-time start was enough to end it.)
//!
//! A single stall (a reload, a slow host for a moment) makes checks late for less than
//! [`SUSTAINED`] and skips nothing: those checks run late, as keepalived's would.
#![forbid(unsafe_code)]

use std::time::Duration;

/// A start later than this is late (the punctuality budget of the benchmarks).
pub const LATE: Duration = Duration::from_millis(50);

/// How long late starts must go on, outnumbering on-time ones, before the runner sheds;
/// and how long without a late start before it stops.
pub const SUSTAINED: Duration = Duration::from_secs(1);

/// Late starts further apart than this are not one backlog: a runner past its capacity
/// starts thousands of checks a second, all of them late.
pub const BACKLOG_GAP: Duration = Duration::from_millis(100);

/// What to do with a check that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Run,
    /// Skip this round; the next is due on the checker's grid.
    Skip,
}

/// Whether the runner is shedding, and since when checks have been late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overload {
    /// Every due check runs.
    #[default]
    Keeping,
    /// Every due check runs; starts have been late from `first` to `latest` (`late` of
    /// them), with `on_time` on-time starts among them, never more than the late ones.
    LateSince {
        first: Duration,
        latest: Duration,
        late: u32,
        on_time: u32,
    },
    /// Late checks skip their round; `latest_late`: the latest late start.
    Shedding { latest_late: Duration },
}

impl Overload {
    /// A check of a checker is due and the runner got to it at `started`, `lateness`
    /// after its time; `skipped_last` says whether the checker skipped its previous round.
    pub fn on_due(&mut self, started: Duration, lateness: Duration, skipped_last: bool) -> Start {
        let late = lateness > LATE;
        *self = match (*self, late) {
            (Overload::Keeping, false) => Overload::Keeping,
            (Overload::Keeping, true) => Overload::late_from(started),
            (
                Overload::LateSince {
                    first,
                    latest,
                    late,
                    on_time,
                },
                false,
            ) => {
                let on_time = on_time.saturating_add(1);
                if on_time > late || started.saturating_sub(latest) > BACKLOG_GAP {
                    Overload::Keeping
                } else {
                    Overload::LateSince {
                        first,
                        latest,
                        late,
                        on_time,
                    }
                }
            }
            (
                Overload::LateSince {
                    first,
                    latest,
                    late,
                    on_time,
                },
                true,
            ) => {
                if started.saturating_sub(latest) > BACKLOG_GAP {
                    Overload::late_from(started)
                } else if started.saturating_sub(first) >= SUSTAINED {
                    Overload::Shedding {
                        latest_late: started,
                    }
                } else {
                    Overload::LateSince {
                        first,
                        latest: started,
                        late: late.saturating_add(1),
                        on_time,
                    }
                }
            }
            (Overload::Shedding { .. }, true) => Overload::Shedding {
                latest_late: started,
            },
            (Overload::Shedding { latest_late }, false) => {
                if started.saturating_sub(latest_late) >= SUSTAINED {
                    Overload::Keeping
                } else {
                    Overload::Shedding { latest_late }
                }
            }
        };
        if late && !skipped_last && self.is_shedding() {
            Start::Skip
        } else {
            Start::Run
        }
    }

    /// The first late start of a possible backlog.
    fn late_from(started: Duration) -> Overload {
        Overload::LateSince {
            first: started,
            latest: started,
            late: 1,
            on_time: 0,
        }
    }

    pub fn is_shedding(&self) -> bool {
        matches!(self, Overload::Shedding { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Starts every `every` ms from `from` to `to`, each `late` ms late; what each did.
    fn starts(o: &mut Overload, from: u64, to: u64, every: u64, late: u64) -> Vec<Start> {
        (from..to)
            .step_by(every as usize)
            .map(|t| o.on_due(ms(t), ms(late), false))
            .collect()
    }

    #[test]
    fn on_time_checks_always_run() {
        let mut o = Overload::default();
        assert!(starts(&mut o, 0, 5_000, 1, 10)
            .iter()
            .all(|s| *s == Start::Run));
        assert_eq!(o, Overload::Keeping);
    }

    #[test]
    fn a_stall_shorter_than_sustained_skips_nothing() {
        let mut o = Overload::default();
        // 900 ms of late starts (a long stall and its backlog), then on time again.
        assert!(starts(&mut o, 0, 900, 1, 400)
            .iter()
            .all(|s| *s == Start::Run));
        assert!(starts(&mut o, 901, 1_010, 1, 2)
            .iter()
            .all(|s| *s == Start::Run));
        assert_eq!(
            o,
            Overload::Keeping,
            "over once no late start came for BACKLOG_GAP"
        );
        // Late again: a new run of late starts counts from here.
        assert!(starts(&mut o, 1_010, 1_900, 1, 60)
            .iter()
            .all(|s| *s == Start::Run));
        assert!(!o.is_shedding());
    }

    #[test]
    fn a_few_on_time_starts_do_not_end_a_backlog() {
        let mut o = Overload::default();
        // Every tenth start on time, the rest 300 ms late: still a backlog.
        let shed: Vec<Start> = (0..1_100)
            .map(|t| o.on_due(ms(t), ms(if t % 10 == 5 { 10 } else { 300 }), false))
            .collect();
        assert!(o.is_shedding());
        assert!(shed[..999].iter().all(|s| *s == Start::Run));
        assert!(shed[1_000..].contains(&Start::Skip));
    }

    #[test]
    fn on_time_starts_outnumbering_late_ones_end_it() {
        let mut o = Overload::default();
        // A late start now and then among on-time ones: a runner that keeps up.
        let all: Vec<Start> = (0..5_000)
            .map(|t| o.on_due(ms(t), ms(if t % 3 == 0 { 80 } else { 5 }), false))
            .collect();
        assert!(all.iter().all(|s| *s == Start::Run));
        assert!(!o.is_shedding());
    }

    #[test]
    fn late_starts_far_apart_are_not_a_backlog() {
        let mut o = Overload::default();
        // One late start every 500 ms for ten seconds: a sparse pool on a slow host.
        assert!(starts(&mut o, 0, 10_000, 500, 80)
            .iter()
            .all(|s| *s == Start::Run));
        assert!(!o.is_shedding());
    }

    #[test]
    fn a_sustained_backlog_sheds_late_checks_and_runs_on_time_ones() {
        let mut o = Overload::default();
        assert!(starts(&mut o, 0, 999, 1, 300)
            .iter()
            .all(|s| *s == Start::Run));
        // A whole second of late starts: from now on late checks skip their round...
        assert_eq!(o.on_due(ms(1_000), ms(300), false), Start::Skip);
        assert!(o.is_shedding());
        // ...those that still start on time run...
        assert_eq!(o.on_due(ms(1_001), ms(20), false), Start::Run);
        // ...and a checker that skipped its last round runs this one, however late.
        assert_eq!(o.on_due(ms(1_002), ms(300), true), Start::Run);
        assert_eq!(o.on_due(ms(1_003), ms(300), false), Start::Skip);
        // Shedding lasts while late starts keep coming...
        assert!(starts(&mut o, 1_004, 1_900, 1, 10)
            .iter()
            .all(|s| *s == Start::Run));
        assert!(o.is_shedding());
        // ...and ends a second after the last one.
        assert_eq!(o.on_due(ms(2_003), ms(10), false), Start::Run);
        assert_eq!(o, Overload::Keeping);
        assert_eq!(o.on_due(ms(2_004), ms(300), false), Start::Run);
    }
}
