//! The async runner: one tokio task per checker, all on the caller's runtime. Each task
//! sleeps until its check is due, performs it, feeds the result to its real server's pure
//! verdict and sends any transition on the channel. Dropping the runner stops every task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{
    CheckSchedule, CheckSpec, Checker, RealServerChecks, RealServerId, TlsOptions,
};
use crate::http::HttpChecker;
use crate::misc::{MiscChecker, ScriptError};
use crate::schedule::{first_due, lateness, next_due};
use crate::tls::{self, TlsConfigError};
use crate::verdict::{CheckResult, ServerVerdict};

/// A change of a real server's state, for the director.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTransition {
    pub server: RealServerId,
    pub up: bool,
    /// The weight to program (misc_dynamic may have changed it).
    pub weight: u32,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("real server {server}, checker #{checker}: {source}")]
    Misc {
        server: RealServerId,
        checker: usize,
        source: ScriptError,
    },
    #[error("real server {server}, checker #{checker}: {source}")]
    Tls {
        server: RealServerId,
        checker: usize,
        source: TlsConfigError,
    },
}

/// How punctually checks start (the benchmark's "within 50 ms of schedule" figure). A check
/// due while the previous one of its checker still ran (it overran its slot) counts as late.
#[derive(Debug, Default)]
pub struct RunnerStats {
    checks_started: AtomicU64,
    late_over_50ms: AtomicU64,
    max_lateness_us: AtomicU64,
}

impl RunnerStats {
    fn record(&self, late: Duration) {
        self.checks_started.fetch_add(1, Ordering::Relaxed);
        if late > Duration::from_millis(50) {
            self.late_over_50ms.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.max_lateness_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn checks_started(&self) -> u64 {
        self.checks_started.load(Ordering::Relaxed)
    }

    pub fn late_over_50ms(&self) -> u64 {
        self.late_over_50ms.load(Ordering::Relaxed)
    }

    pub fn max_lateness(&self) -> Duration {
        Duration::from_micros(self.max_lateness_us.load(Ordering::Relaxed))
    }
}

/// A checker ready to run (scripts split, users and TLS configurations resolved).
enum Prepared {
    Tcp(crate::config::TcpCheck),
    Http(HttpChecker),
    Misc(MiscChecker, Duration),
    Ping(crate::config::PingCheck),
}

impl Prepared {
    async fn run(&self, step: usize, started: Instant) -> CheckResult {
        match self {
            Prepared::Tcp(c) => crate::tcp::check(c).await,
            Prepared::Http(c) => c.check_started_at(step, started).await,
            Prepared::Misc(c, delay_loop) => c.check(*delay_loop).await,
            Prepared::Ping(c) => crate::ping::check(c).await,
        }
    }
}

/// The initial state of a real server, before any check ran (up unless a checker has alpha).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialState {
    pub server: RealServerId,
    pub up: bool,
    pub weight: u32,
}

pub struct Runner {
    tasks: JoinSet<()>,
    stats: Arc<RunnerStats>,
    initial: Vec<InitialState>,
}

impl Runner {
    /// Prepares every checker and starts them on the current tokio runtime.
    pub fn start(
        servers: Vec<RealServerChecks>,
        transitions: UnboundedSender<ServerTransition>,
    ) -> Result<Runner, RunnerError> {
        let mut tls_configs: HashMap<TlsOptions, Arc<rustls::ClientConfig>> = HashMap::new();
        let mut jobs = Vec::new();
        let mut initial = Vec::new();
        for server in &servers {
            let verdict = ServerVerdict::for_server(server);
            initial.push(InitialState {
                server: server.id,
                up: verdict.is_up(),
                weight: verdict.weight(),
            });
            let verdict = Arc::new(Mutex::new(verdict));
            for (index, checker) in server.checkers.iter().enumerate() {
                if let CheckSpec::Misc(misc) = &checker.spec {
                    // As keepalived: a script that cannot be found is disabled
                    // (the checker keeps its initial verdict), not a failure.
                    if let Err(e) = crate::misc::script_available(&misc.misc_path) {
                        tracing::warn!("MISC_CHECK {}: {e}; checker disabled", misc.misc_path);
                        continue;
                    }
                }
                let prepared = prepare(server.id, index, checker, &mut tls_configs)?;
                jobs.push((
                    server.id,
                    index,
                    checker.schedule.clone(),
                    prepared,
                    verdict.clone(),
                ));
            }
        }
        let stats = Arc::new(RunnerStats::default());
        let epoch = Instant::now();
        let mut tasks = JoinSet::new();
        for (server, index, schedule, prepared, verdict) in jobs {
            let tx = transitions.clone();
            let stats = stats.clone();
            tasks.spawn(async move {
                run_checker(epoch, server, index, schedule, prepared, verdict, tx, stats).await
            });
        }
        Ok(Runner {
            tasks,
            stats,
            initial,
        })
    }

    pub fn initial_states(&self) -> &[InitialState] {
        &self.initial
    }

    pub fn stats(&self) -> Arc<RunnerStats> {
        self.stats.clone()
    }

    /// Stops every checker (also done on drop).
    pub fn stop(&mut self) {
        self.tasks.abort_all();
    }
}

fn prepare(
    server: RealServerId,
    index: usize,
    checker: &Checker,
    tls_configs: &mut HashMap<TlsOptions, Arc<rustls::ClientConfig>>,
) -> Result<Prepared, RunnerError> {
    Ok(match &checker.spec {
        CheckSpec::Tcp(c) => Prepared::Tcp(c.clone()),
        CheckSpec::Ping(c) => Prepared::Ping(c.clone()),
        CheckSpec::Misc(c) => Prepared::Misc(
            MiscChecker::new(c.clone()).map_err(|source| RunnerError::Misc {
                server,
                checker: index,
                source,
            })?,
            checker.schedule.delay_loop,
        ),
        CheckSpec::Http(c) => {
            let config = match &c.tls {
                None => None,
                Some(options) => Some(match tls_configs.get(options) {
                    Some(config) => config.clone(),
                    None => {
                        let config =
                            tls::client_config(options).map_err(|source| RunnerError::Tls {
                                server,
                                checker: index,
                                source,
                            })?;
                        tls_configs.insert(options.clone(), config.clone());
                        config
                    }
                }),
            };
            Prepared::Http(HttpChecker::with_tls_config(c.clone(), config))
        }
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_checker(
    epoch: Instant,
    server: RealServerId,
    index: usize,
    schedule: CheckSchedule,
    prepared: Prepared,
    verdict: Arc<Mutex<ServerVerdict>>,
    transitions: UnboundedSender<ServerTransition>,
    stats: Arc<RunnerStats>,
) {
    let mut due = first_due(epoch.elapsed(), &schedule, rand::random::<f64>());
    loop {
        tokio::time::sleep_until(epoch + due).await;
        let started = epoch.elapsed();
        stats.record(lateness(due, started));
        // A poisoned lock means a panic elsewhere; the checker stops rather than guess.
        let Ok(step) = verdict
            .lock()
            .map(|v| v.checker(index).map_or(0, |c| c.step()))
        else {
            return;
        };
        // Boxed: the (large) state of a check exists only while it runs, so thousands of
        // sleeping checkers stay small.
        let result = Box::pin(prepared.run(step, epoch + started)).await;
        if let CheckResult::Inconclusive { reason } = &result {
            tracing::warn!("check not run, verdict kept: {reason}");
        }
        let Ok((transition, next)) = verdict.lock().map(|mut v| v.record(index, &result)) else {
            return;
        };
        if let Some(t) = transition {
            let sent = transitions.send(ServerTransition {
                server,
                up: t.up,
                weight: t.weight,
                reason: t.reason,
            });
            if sent.is_err() {
                // Nobody listens any more: the director is gone.
                return;
            }
        }
        due = next_due(due, next, started, || epoch.elapsed());
    }
}
