//! Verdict logic: check results in, real-server transitions (with reasons) and the delay to
//! the next check out. No I/O and no clocks: the runner feeds results and applies delays.
//!
//! keepalived's rules, as its keepalived.conf(5) and changelog describe them:
//! - a checker starts up, or down with `alpha`;
//! - a failure of a checker that is up is retried `retry` times, `delay_before_retry` apart,
//!   before the checker goes down; a checker that is down is simply checked every `delay_loop`;
//! - HTTP_GET/SSL_GET with several URLs check them one after the other. While the checker is
//!   down (alpha start or recovery) the URLs are checked one per `delay_loop` and the checker
//!   comes up only when the last one succeeded; `fast_recovery` removes those delays;
//! - HTTP_GET/SSL_GET after a failure (not after an alpha start) need one extra good check of
//!   the first URL before that sequence starts: a single-URL checker comes back after two
//!   good checks one `delay_loop` apart (back to back with `fast_recovery`). TCP_CHECK,
//!   MISC_CHECK and PING_CHECK come back on the first good check. Observed with keepalived
//!   2.2.7 in the UML test bed (`keepalived -C -D`, delay_loop 3, the health URL removed
//!   and restored): "HTTP status code success" logged at t and t+3, "Adding service" at t+3;
//!   with two URLs: /a at t, /a at t+3, /b at t+6, added at t+6.
//! - a real server is up only when all its checkers are up;
//! - MISC_CHECK with `misc_dynamic`: exit code 2..255 moves the weight by
//!   `code - 2 - configured weight` (one such checker: weight = code - 2), 0 leaves it.
#![forbid(unsafe_code)]

use std::time::Duration;

use crate::config::{CheckKind, Checker, RealServerChecks};

/// The outcome of one check attempt (one URL of an HTTP checker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckResult {
    Success {
        /// MISC_CHECK `misc_dynamic` exit code (0 or 2..=255); `None` for other checkers.
        weight_code: Option<u8>,
        /// What was checked, for the reason of an up transition.
        detail: String,
    },
    Failure {
        /// Full reason, e.g. "HTTP_GET http://10.0.0.2:80/health: status 503, expected 200".
        reason: String,
    },
    /// The check could not run for a reason of this host's (e.g. out of file
    /// descriptors): it says nothing about the real server, so the verdict
    /// stays as it is and the check is tried again after `delay_before_retry`.
    Inconclusive { reason: String },
}

/// Why one check attempt did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Something about the real server: refused, timed out, a wrong reply.
    Server(String),
    /// This host could not run the check (out of sockets): says nothing
    /// about the real server.
    Local(String),
}

impl From<String> for AttemptError {
    fn from(reason: String) -> AttemptError {
        AttemptError::Server(reason)
    }
}

impl CheckResult {
    /// The result of one attempt at `what` (e.g. "TCP_CHECK 10.0.0.2:80"),
    /// which prefixes its detail or reason.
    pub fn of_attempt(what: &str, attempt: Result<String, AttemptError>) -> CheckResult {
        match attempt {
            Ok(detail) => CheckResult::Success {
                weight_code: None,
                detail: format!("{what}: {detail}"),
            },
            Err(AttemptError::Server(why)) => CheckResult::Failure {
                reason: format!("{what}: {why}"),
            },
            Err(AttemptError::Local(why)) => CheckResult::Inconclusive {
                reason: format!("{what}: {why}"),
            },
        }
    }
}

/// When the next check of a checker is due, relative to the attempt just recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCheck {
    pub delay: Duration,
    /// `true`: count `delay` from the end of the attempt (retries, next URL); `false`: from
    /// the attempt's due time (regular rounds, so the schedule does not drift).
    pub after_completion: bool,
}

/// A change of a real server's state for the director: up or down, its weight, or (while it
/// stays down) the reason it is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub up: bool,
    pub weight: u32,
    pub reason: String,
}

/// The per-checker policy, taken from its schedule and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerPolicy {
    pub delay_loop: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
    pub alpha: bool,
    /// Sequential steps per round (URLs of HTTP_GET/SSL_GET, otherwise 1).
    pub steps: usize,
    pub fast_recovery: bool,
    /// HTTP_GET/SSL_GET: one extra good check after a failure before recovering.
    pub confirm_after_failure: bool,
}

impl CheckerPolicy {
    pub fn of(checker: &Checker) -> Self {
        CheckerPolicy {
            delay_loop: checker.schedule.delay_loop,
            retry: checker.schedule.retry,
            delay_before_retry: checker.schedule.delay_before_retry,
            alpha: checker.schedule.alpha,
            steps: checker.spec.steps(),
            fast_recovery: checker.spec.fast_recovery(),
            confirm_after_failure: matches!(checker.spec.kind(), CheckKind::Http | CheckKind::Ssl),
        }
    }
}

/// The state of one checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerVerdict {
    policy: CheckerPolicy,
    up: bool,
    retries_done: u32,
    step: usize,
    weight_delta: i64,
    last_reason: String,
    /// A failure happened since the checker was last up: the next good check only confirms.
    confirm_pending: bool,
}

impl CheckerVerdict {
    pub fn new(policy: CheckerPolicy) -> Self {
        let up = !policy.alpha;
        CheckerVerdict {
            policy,
            up,
            retries_done: 0,
            step: 0,
            weight_delta: 0,
            confirm_pending: false,
            last_reason: if up {
                "not checked yet, up by default (no alpha)".to_string()
            } else {
                "not checked yet, down by alpha".to_string()
            },
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Which step (URL index) the next attempt must check.
    pub fn step(&self) -> usize {
        self.step
    }

    pub fn last_reason(&self) -> &str {
        &self.last_reason
    }

    /// Records one attempt; returns the next-check delay. `configured_weight` is the real
    /// server's weight, needed for misc_dynamic.
    fn record(&mut self, result: &CheckResult, configured_weight: u32) -> NextCheck {
        let round = NextCheck {
            delay: self.policy.delay_loop,
            after_completion: false,
        };
        match result {
            CheckResult::Success {
                weight_code,
                detail,
            } => {
                self.retries_done = 0;
                if let Some(code) = weight_code {
                    self.weight_delta = match code {
                        2..=255 => i64::from(*code) - 2 - i64::from(configured_weight),
                        _ => 0,
                    };
                }
                let between_urls = NextCheck {
                    delay: if self.up || self.policy.fast_recovery {
                        Duration::ZERO
                    } else {
                        self.policy.delay_loop
                    },
                    after_completion: true,
                };
                if self.confirm_pending && !self.up {
                    self.confirm_pending = false;
                    return between_urls;
                }
                if self.step + 1 < self.policy.steps {
                    self.step += 1;
                    return between_urls;
                }
                self.step = 0;
                self.up = true;
                self.last_reason = detail.clone();
                round
            }
            CheckResult::Inconclusive { .. } => NextCheck {
                delay: self.policy.delay_before_retry,
                after_completion: true,
            },
            CheckResult::Failure { reason } => {
                if self.up && self.retries_done < self.policy.retry {
                    self.retries_done += 1;
                    return NextCheck {
                        delay: self.policy.delay_before_retry,
                        after_completion: true,
                    };
                }
                self.retries_done = 0;
                self.step = 0;
                self.up = false;
                self.weight_delta = 0;
                self.confirm_pending = self.policy.confirm_after_failure;
                self.last_reason = reason.clone();
                round
            }
        }
    }
}

/// The state of one real server: the AND of its checkers, plus misc_dynamic weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVerdict {
    configured_weight: u32,
    checkers: Vec<CheckerVerdict>,
    up: bool,
    weight: u32,
    /// While down: the checker whose reason the director shows. It stays the same until that
    /// checker recovers, so the reason names a check that is failing now.
    down_reason_from: Option<usize>,
    /// Failed checks so far, of every checker (for metrics).
    failures: u64,
    /// When a check of this server last ended, as time since the runner's
    /// epoch (set by the runner, which has the clock; it makes Unix time of
    /// it only when asked, so a check costs no wall-clock read).
    last_checked: Option<Duration>,
}

impl ServerVerdict {
    pub fn new(configured_weight: u32, policies: Vec<CheckerPolicy>) -> Self {
        let checkers: Vec<CheckerVerdict> = policies.into_iter().map(CheckerVerdict::new).collect();
        let up = checkers.iter().all(CheckerVerdict::is_up);
        let down_reason_from = checkers.iter().position(|c| !c.is_up());
        ServerVerdict {
            configured_weight,
            checkers,
            up,
            weight: configured_weight,
            down_reason_from,
            failures: 0,
            last_checked: None,
        }
    }

    /// Notes that a check of this server ended at `since_epoch` (the
    /// runner's monotonic epoch).
    pub fn mark_checked(&mut self, since_epoch: Duration) {
        self.last_checked = Some(since_epoch);
    }

    /// When a check of this server last ended (since the runner's epoch).
    pub fn last_checked(&self) -> Option<Duration> {
        self.last_checked
    }

    /// Checks that failed since this verdict was made (each one, not only
    /// the ones that took the server down).
    pub fn failures(&self) -> u64 {
        self.failures
    }

    pub fn for_server(server: &RealServerChecks) -> Self {
        ServerVerdict::new(
            server.weight,
            server.checkers.iter().map(CheckerPolicy::of).collect(),
        )
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn weight(&self) -> u32 {
        self.weight
    }

    pub fn checker(&self, index: usize) -> Option<&CheckerVerdict> {
        self.checkers.get(index)
    }

    /// Records an attempt of checker `index`. Returns the transition of the real server (if
    /// its state or weight changed) and when that checker is next due. An unknown index is
    /// ignored (no transition, next round after 60 s) rather than a panic.
    pub fn record(
        &mut self,
        index: usize,
        result: &CheckResult,
    ) -> (Option<Transition>, NextCheck) {
        let configured_weight = self.configured_weight;
        let Some(checker) = self.checkers.get_mut(index) else {
            return (
                None,
                NextCheck {
                    delay: crate::config::DEFAULT_DELAY_LOOP,
                    after_completion: false,
                },
            );
        };
        if matches!(result, CheckResult::Failure { .. }) {
            self.failures += 1;
        }
        let reason_before =
            (self.down_reason_from == Some(index)).then(|| checker.last_reason.clone());
        let next = checker.record(result, configured_weight);
        let up = self.checkers.iter().all(CheckerVerdict::is_up);
        let delta: i64 = self.checkers.iter().map(|c| c.weight_delta).sum();
        let weight = (i64::from(configured_weight) + delta).clamp(0, i64::from(u32::MAX)) as u32;
        let transition = if up != self.up {
            let reason = if up {
                if self.checkers.len() == 1 {
                    self.checkers[0].last_reason.clone()
                } else {
                    format!(
                        "all {} checkers up ({})",
                        self.checkers.len(),
                        self.checkers[index].last_reason
                    )
                }
            } else {
                self.down_reason_from = Some(index);
                self.checkers[index].last_reason.clone()
            };
            Some(Transition { up, weight, reason })
        } else if !up {
            self.still_down_reason(index, reason_before)
                .map(|reason| Transition { up, weight, reason })
        } else if up && weight != self.weight {
            Some(Transition {
                up,
                weight,
                reason: format!(
                    "{}: weight {} -> {}",
                    self.checkers[index].last_reason, self.weight, weight
                ),
            })
        } else {
            None
        };
        self.up = up;
        self.weight = weight;
        (transition, next)
    }

    /// The server stays down after checker `index` reported (`before`: its reason before, if
    /// it was the one shown). Returns the reason to show when it changed: the shown checker's
    /// new reason, or, when that checker recovered, the reason of one still down.
    fn still_down_reason(&mut self, index: usize, before: Option<String>) -> Option<String> {
        let shown = self
            .down_reason_from
            .filter(|&i| self.checkers.get(i).is_some_and(|c| !c.up));
        match shown {
            Some(i) if i == index => {
                let now = &self.checkers[i].last_reason;
                (before.as_ref() != Some(now)).then(|| now.clone())
            }
            Some(_) => None,
            None => {
                let still_down = self.checkers.iter().position(|c| !c.up)?;
                self.down_reason_from = Some(still_down);
                Some(self.checkers[still_down].last_reason.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_becomes_a_result_named_after_what_was_checked() {
        let what = "TCP_CHECK 10.0.0.2:80";
        assert_eq!(
            CheckResult::of_attempt(what, Ok("connected".into())),
            CheckResult::Success {
                weight_code: None,
                detail: "TCP_CHECK 10.0.0.2:80: connected".into()
            }
        );
        assert_eq!(
            CheckResult::of_attempt(what, Err("connection refused".to_string().into())),
            CheckResult::Failure {
                reason: "TCP_CHECK 10.0.0.2:80: connection refused".into()
            }
        );
        assert_eq!(
            CheckResult::of_attempt(what, Err(AttemptError::Local("out of sockets".into()))),
            CheckResult::Inconclusive {
                reason: "TCP_CHECK 10.0.0.2:80: out of sockets".into()
            }
        );
    }
    #[test]
    fn every_failed_check_is_counted_not_only_the_one_that_took_it_down() {
        let mut v = ServerVerdict::new(1, vec![policy(1, 3, 1, false)]);
        for r in [fail("a"), fail("b"), ok("c"), fail("d")] {
            v.record(0, &r);
        }
        assert!(v.is_up(), "retry 3: never three failures in a row");
        assert_eq!(v.failures(), 3);
        v.record(0, &CheckResult::Inconclusive { reason: "x".into() });
        assert_eq!(v.failures(), 3, "a check not run is not a failure");
    }

    use crate::schedule::next_due;

    fn policy(delay_loop: u64, retry: u32, delay_before_retry: u64, alpha: bool) -> CheckerPolicy {
        CheckerPolicy {
            delay_loop: Duration::from_secs(delay_loop),
            retry,
            delay_before_retry: Duration::from_secs(delay_before_retry),
            alpha,
            steps: 1,
            fast_recovery: false,
            confirm_after_failure: false,
        }
    }

    fn ok(detail: &str) -> CheckResult {
        CheckResult::Success {
            weight_code: None,
            detail: detail.to_string(),
        }
    }

    fn fail(reason: &str) -> CheckResult {
        CheckResult::Failure {
            reason: reason.to_string(),
        }
    }

    /// Drives one checker in virtual time: `outcome(t)` says whether an attempt starting at
    /// `t` succeeds; every check takes `duration`. Returns the attempt times and transitions.
    fn simulate(
        verdict: &mut ServerVerdict,
        first: Duration,
        duration: Duration,
        until: Duration,
        outcome: impl Fn(Duration) -> bool,
    ) -> (Vec<Duration>, Vec<(Duration, Transition)>) {
        let mut due = first;
        let mut attempts = Vec::new();
        let mut transitions = Vec::new();
        while due < until {
            attempts.push(due);
            let result = if outcome(due) {
                ok("TCP_CHECK 10.0.0.2:80: connected")
            } else {
                fail("TCP_CHECK 10.0.0.2:80: connection refused")
            };
            let done = due + duration;
            let (t, next) = verdict.record(0, &result);
            if let Some(t) = t {
                transitions.push((done, t));
            }
            // A due time already past starts at once, as in the runner.
            due = next_due(due, next, due, || done).max(done);
        }
        (attempts, transitions)
    }

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn retries_delay_before_retry_apart_then_goes_down_with_the_reason() {
        let mut v = ServerVerdict::new(1, vec![policy(10, 2, 3, false)]);
        assert!(v.is_up());
        // Healthy until t=20, failing afterwards; each check takes 1 s.
        let (attempts, transitions) = simulate(&mut v, s(0), s(1), s(60), |t| t < s(20));
        // 0, 10 good; 20 fails, retry at 21+3=24, fails, retry at 25+3=28, fails -> down.
        assert_eq!(&attempts[..6], &[s(0), s(10), s(20), s(24), s(28), s(38)]);
        assert_eq!(transitions.len(), 1);
        let (at, t) = &transitions[0];
        assert_eq!(*at, s(29));
        assert!(!t.up);
        assert_eq!(t.reason, "TCP_CHECK 10.0.0.2:80: connection refused");
        // Down: no retries, one attempt per delay_loop.
        assert_eq!(&attempts[5..], &[s(38), s(48), s(58)]);
    }

    #[test]
    fn an_inconclusive_check_keeps_the_verdict_and_retries_after_delay_before_retry() {
        let busy = CheckResult::Inconclusive {
            reason: "TCP_CHECK 10.0.0.2:80: cannot open a socket here: Too many open files"
                .to_string(),
        };
        // Up, retry 0: a real failure would take it down at once; this must not.
        let mut up = ServerVerdict::new(1, vec![policy(10, 0, 3, false)]);
        for _ in 0..5 {
            let (t, next) = up.record(0, &busy);
            assert_eq!(t, None);
            assert_eq!(next.delay, s(3));
            assert!(next.after_completion);
        }
        assert!(up.is_up());
        // Down (alpha): it must not come up either, and still needs a real success.
        let mut down = ServerVerdict::new(1, vec![policy(10, 0, 3, true)]);
        assert!(!down.is_up());
        assert_eq!(down.record(0, &busy).0, None);
        assert!(!down.is_up());
        let (t, _) = down.record(0, &ok("TCP_CHECK 10.0.0.2:80: connected"));
        assert!(t.is_some_and(|t| t.up));
    }

    #[test]
    fn a_successful_retry_keeps_the_server_up() {
        let mut v = ServerVerdict::new(1, vec![policy(10, 1, 2, false)]);
        let (attempts, transitions) = simulate(&mut v, s(0), s(0), s(30), |t| t != s(10));
        assert_eq!(attempts, vec![s(0), s(10), s(12), s(22)]);
        assert!(transitions.is_empty());
        assert!(v.is_up());
    }

    #[test]
    fn retry_zero_goes_down_on_first_failure() {
        let mut v = ServerVerdict::new(1, vec![policy(5, 0, 1, false)]);
        let (t, next) = v.record(0, &fail("x: refused"));
        assert_eq!(t.map(|t| t.up), Some(false));
        assert_eq!(
            next,
            NextCheck {
                delay: s(5),
                after_completion: false
            }
        );
    }

    #[test]
    fn alpha_starts_down_and_first_success_brings_it_up() {
        let mut v = ServerVerdict::new(3, vec![policy(5, 1, 1, true)]);
        assert!(!v.is_up());
        // Failures while down are not retried; the first only tells why it is down.
        let (t, next) = v.record(0, &fail("x: refused"));
        assert_eq!(
            t.map(|t| (t.up, t.reason)),
            Some((false, "x: refused".into()))
        );
        assert_eq!(next.delay, s(5));
        assert_eq!(v.record(0, &fail("x: refused")).0, None);
        let (t, _) = v.record(0, &ok("TCP_CHECK 10.0.0.2:80: connected"));
        assert_eq!(
            t,
            Some(Transition {
                up: true,
                weight: 3,
                reason: "TCP_CHECK 10.0.0.2:80: connected".into()
            })
        );
    }

    #[test]
    fn without_alpha_the_server_starts_up() {
        let v = ServerVerdict::new(1, vec![policy(5, 1, 1, false), policy(5, 1, 1, false)]);
        assert!(v.is_up());
        let v = ServerVerdict::new(1, vec![policy(5, 1, 1, false), policy(5, 1, 1, true)]);
        assert!(!v.is_up(), "one alpha checker keeps the server down");
    }

    fn http_policy(urls: usize, fast_recovery: bool, alpha: bool) -> CheckerPolicy {
        CheckerPolicy {
            steps: urls,
            fast_recovery,
            confirm_after_failure: true,
            ..policy(3, 1, 1, alpha)
        }
    }

    /// Times of the checks a down HTTP checker makes until it is up, when every check from
    /// `start` on succeeds. `after_failure`: down through a failure rather than alpha.
    fn recovery(
        urls: usize,
        fast_recovery: bool,
        after_failure: bool,
    ) -> (Vec<Duration>, Vec<usize>) {
        let mut v = ServerVerdict::new(
            1,
            vec![CheckerPolicy {
                retry: 0,
                ..http_policy(urls, fast_recovery, !after_failure)
            }],
        );
        if after_failure {
            let (t, _) = v.record(
                0,
                &fail("HTTP_GET http://10.0.0.2:80/a: status 404, expected 200"),
            );
            assert_eq!(t.map(|t| t.up), Some(false));
        }
        let mut due = s(10);
        let (mut times, mut steps) = (Vec::new(), Vec::new());
        loop {
            times.push(due);
            steps.push(v.checker(0).map_or(99, CheckerVerdict::step));
            let (t, next) = v.record(0, &ok("HTTP_GET ok"));
            if t.is_some_and(|t| t.up) {
                return (times, steps);
            }
            assert!(times.len() < 50, "never recovered");
            due = next_due(due, next, due, || due);
        }
    }

    #[test]
    fn http_recovery_after_a_failure_matches_keepalived() {
        // keepalived 2.2.7 in UML (see the module comment): one URL, two good checks one
        // delay_loop apart; two URLs: /a, /a, /b one delay_loop apart.
        assert_eq!(recovery(1, false, true), (vec![s(10), s(13)], vec![0, 0]));
        assert_eq!(
            recovery(2, false, true),
            (vec![s(10), s(13), s(16)], vec![0, 0, 1])
        );
        // fast_recovery: the same checks, back to back.
        assert_eq!(recovery(1, true, true), (vec![s(10), s(10)], vec![0, 0]));
        // After an alpha start there is no confirmation check.
        assert_eq!(recovery(1, false, false), (vec![s(10)], vec![0]));
        assert_eq!(recovery(2, false, false), (vec![s(10), s(13)], vec![0, 1]));
    }

    #[test]
    fn tcp_recovers_on_the_first_good_check() {
        let mut v = ServerVerdict::new(1, vec![policy(3, 0, 1, false)]);
        v.record(0, &fail("TCP_CHECK 10.0.0.2:80: connection refused"));
        assert_eq!(
            v.record(0, &ok("TCP_CHECK 10.0.0.2:80: connected"))
                .0
                .map(|t| t.up),
            Some(true)
        );
    }
    /// Time for a down HTTP checker with `urls` URLs to come up when every URL succeeds.
    fn recovery_time(urls: usize, fast_recovery: bool) -> (Duration, usize) {
        let mut v = ServerVerdict::new(1, vec![http_policy(urls, fast_recovery, true)]);
        let mut due = Duration::ZERO;
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert_eq!(
                v.checker(0).map(CheckerVerdict::step),
                Some((attempts - 1) % urls)
            );
            let (t, next) = v.record(0, &ok("HTTP_GET http://10.0.0.2:80: all URLs OK"));
            if let Some(t) = t {
                assert!(t.up);
                return (due, attempts);
            }
            due = next_due(due, next, due, || due);
        }
    }

    #[test]
    fn recovery_checks_one_url_per_delay_loop_without_fast_recovery() {
        // 20 URLs, delay_loop 3 s: the last URL is checked at 57 s (the doc's "1 minute").
        assert_eq!(recovery_time(20, false), (s(57), 20));
        assert_eq!(recovery_time(1, false), (s(0), 1));
    }

    #[test]
    fn fast_recovery_checks_all_urls_back_to_back() {
        assert_eq!(recovery_time(20, true), (s(0), 20));
    }

    #[test]
    fn an_up_http_checker_checks_all_urls_back_to_back_each_round() {
        let mut v = ServerVerdict::new(1, vec![http_policy(3, false, false)]);
        let r1 = v.record(0, &ok("u1")).1;
        let r2 = v.record(0, &ok("u2")).1;
        let r3 = v.record(0, &ok("u3")).1;
        assert_eq!(
            r1,
            NextCheck {
                delay: Duration::ZERO,
                after_completion: true
            }
        );
        assert_eq!(
            r2,
            NextCheck {
                delay: Duration::ZERO,
                after_completion: true
            }
        );
        assert_eq!(
            r3,
            NextCheck {
                delay: s(3),
                after_completion: false
            }
        );
    }

    #[test]
    fn a_failing_url_restarts_the_round_at_the_first_url_after_going_down() {
        let mut v = ServerVerdict::new(
            1,
            vec![CheckerPolicy {
                retry: 0,
                ..http_policy(3, false, false)
            }],
        );
        v.record(0, &ok("u1"));
        let (t, _) = v.record(
            0,
            &fail("HTTP_GET http://10.0.0.2:80/b: status 503, expected 200-299"),
        );
        assert_eq!(
            t.map(|t| t.reason),
            Some("HTTP_GET http://10.0.0.2:80/b: status 503, expected 200-299".to_string())
        );
        assert_eq!(v.checker(0).map(CheckerVerdict::step), Some(0));
    }

    #[test]
    fn all_checkers_must_be_up() {
        let mut v = ServerVerdict::new(1, vec![policy(5, 0, 1, false), policy(5, 0, 1, false)]);
        let (t, _) = v.record(
            1,
            &fail("HTTP_GET http://10.0.0.2:80/: status 500, expected 200-299"),
        );
        assert_eq!(t.as_ref().map(|t| t.up), Some(false));
        // The other checker succeeding does not bring it back.
        assert_eq!(v.record(0, &ok("TCP_CHECK ok")).0, None);
        assert!(!v.is_up());
        // Both up again: one up transition naming all checkers.
        let (t, _) = v.record(1, &ok("HTTP_GET http://10.0.0.2:80/: status 200"));
        let t = t.expect("up transition");
        assert!(t.up);
        assert_eq!(
            t.reason,
            "all 2 checkers up (HTTP_GET http://10.0.0.2:80/: status 200)"
        );
        // A second failure of a down checker does not repeat the transition.
        v.record(0, &fail("TCP_CHECK refused"));
        assert_eq!(v.record(0, &fail("TCP_CHECK refused")).0, None);
    }

    #[test]
    fn a_down_server_shows_the_reason_of_a_check_failing_now() {
        let mut v = ServerVerdict::new(1, vec![policy(5, 0, 1, false), policy(5, 0, 1, false)]);
        let (t, _) = v.record(0, &fail("SMTP_CHECK 10.0.0.5:2525: connection refused"));
        assert_eq!(
            t.map(|t| (t.up, t.reason)),
            Some((false, "SMTP_CHECK 10.0.0.5:2525: connection refused".into()))
        );
        // The second checker fails too: the reason shown stays the first one's.
        assert_eq!(
            v.record(1, &fail("SMTP_CHECK 10.0.0.5:2527: connection refused"))
                .0,
            None
        );
        // The first recovers, the server stays down: the reason moves to the second.
        let (t, _) = v.record(0, &ok("SMTP_CHECK 10.0.0.5:2525: 221"));
        assert_eq!(
            t.map(|t| (t.up, t.reason)),
            Some((false, "SMTP_CHECK 10.0.0.5:2527: connection refused".into()))
        );
        // The same failure again changes nothing; a different one is reported.
        assert_eq!(
            v.record(1, &fail("SMTP_CHECK 10.0.0.5:2527: connection refused"))
                .0,
            None
        );
        let (t, _) = v.record(1, &fail("SMTP_CHECK 10.0.0.5:2527: timed out"));
        assert_eq!(
            t.map(|t| (t.up, t.reason)),
            Some((false, "SMTP_CHECK 10.0.0.5:2527: timed out".into()))
        );
        assert!(!v.is_up());
    }

    #[test]
    fn a_server_down_by_alpha_reports_its_first_failure() {
        let mut v = ServerVerdict::new(1, vec![policy(5, 0, 1, true)]);
        let (t, _) = v.record(0, &fail("TCP_CHECK 10.0.0.2:80: connection refused"));
        assert_eq!(
            t.map(|t| (t.up, t.reason)),
            Some((false, "TCP_CHECK 10.0.0.2:80: connection refused".into()))
        );
        assert_eq!(
            v.record(0, &fail("TCP_CHECK 10.0.0.2:80: connection refused"))
                .0,
            None
        );
    }

    fn dynamic(code: u8) -> CheckResult {
        CheckResult::Success {
            weight_code: Some(code),
            detail: format!("MISC_CHECK /bin/w: exit {code}"),
        }
    }

    #[test]
    fn misc_dynamic_sets_weight_to_code_minus_two() {
        let mut v = ServerVerdict::new(5, vec![policy(5, 0, 1, false)]);
        let (t, _) = v.record(0, &dynamic(12));
        assert_eq!(
            t,
            Some(Transition {
                up: true,
                weight: 10,
                reason: "MISC_CHECK /bin/w: exit 12: weight 5 -> 10".into()
            })
        );
        assert_eq!(
            v.record(0, &dynamic(12)).0,
            None,
            "same weight: no transition"
        );
        let (t, _) = v.record(0, &dynamic(22));
        assert_eq!(t.map(|t| t.weight), Some(20));
        // Exit 0: success, back to the configured weight.
        let (t, _) = v.record(0, &dynamic(0));
        assert_eq!(t.map(|t| t.weight), Some(5));
        // Exit 2: weight 0.
        let (t, _) = v.record(0, &dynamic(2));
        assert_eq!(t.map(|t| (t.up, t.weight)), Some((true, 0)));
    }

    #[test]
    fn misc_dynamic_weights_of_several_checkers_add_up() {
        // keepalived: each dynamic checker adds (code - 2 - configured weight).
        let mut v = ServerVerdict::new(10, vec![policy(5, 0, 1, false), policy(5, 0, 1, false)]);
        v.record(0, &dynamic(22)); // +10
        let (t, _) = v.record(1, &dynamic(7)); // -5
        assert_eq!(t.map(|t| t.weight), Some(15));
    }

    #[test]
    fn unknown_checker_index_is_ignored() {
        let mut v = ServerVerdict::new(1, vec![policy(5, 0, 1, false)]);
        assert_eq!(v.record(7, &fail("x")).0, None);
        assert!(v.is_up());
    }
}
