//! The async runner: one tokio task per checker, all on the caller's runtime. Each task
//! sleeps until its check is due, performs it, feeds the result to its real server's pure
//! verdict and sends any transition on the channel. One runner serves a whole pool: real
//! servers are added and removed one by one (a reload), sharing the runner's epoch, its
//! punctuality statistics and its TLS configurations. A checker's task is spawned by the
//! runner's starter task when its first check is due (see `Checkers`). Dropping the runner
//! stops every task.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::config::{CheckSpec, Checker, RealServerChecks, RealServerId, TlsOptions};
use crate::http::HttpChecker;
use crate::misc::{MiscChecker, ScriptError};
use crate::overload::{Overload, Start};
use crate::schedule::{
    after_skip, coalesces, first_due, first_start, lateness, next_start, phase_grid, slot_after,
    START_SLOT,
};
use crate::slot_ring::SlotRing;
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
    /// Rounds skipped past capacity, and whether the runner sheds (see `overload`).
    checks_skipped: AtomicU64,
    overload: Mutex<Overload>,
    /// Checks finished, per checker kind ([`CHECK_KINDS`]) and result
    /// ([`CHECK_RESULTS`]).
    results: [[AtomicU64; 3]; 8],
    /// Check durations: counts per [`DURATION_BUCKETS`] bound (not
    /// cumulated), the rest past the last bound, and the sum.
    duration_buckets: [AtomicU64; 11],
    duration_over: AtomicU64,
    duration_sum_us: AtomicU64,
    in_flight: AtomicU64,
}

/// Counts a running check; dropped (also when the task is aborted
/// mid-check, at a reload) it counts it out.
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn enter(n: &'a AtomicU64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The checker kinds the stats count, as keepalived names them.
pub const CHECK_KINDS: [&str; 8] = [
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "MISC_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
];

/// Check results: up, down, or not run (the verdict kept).
pub const CHECK_RESULTS: [&str; 3] = ["success", "failure", "inconclusive"];

/// Upper bounds (seconds) of the check duration histogram.
pub const DURATION_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// One snapshot of the check duration histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationHistogram {
    /// Counts per [`DURATION_BUCKETS`] bound (not cumulated), then past the last.
    pub buckets: Vec<u64>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl RunnerStats {
    /// A check is due and its task got to it at `started`: run it or skip the round
    /// (counted either way).
    fn on_due(&self, due: Duration, started: Duration, skipped_last: bool) -> Start {
        let late = lateness(due, started);
        let Ok(mut overload) = self.overload.lock() else {
            // Poisoned: a panic elsewhere. Run, as before shedding existed.
            self.record(late);
            return Start::Run;
        };
        let was_shedding = overload.is_shedding();
        let start = overload.on_due(started, late, skipped_last);
        let shedding = overload.is_shedding();
        drop(overload);
        if shedding && !was_shedding {
            tracing::warn!(
                "health checks cannot keep up: for {:?} most checks started over {:?} late; \
                 checks that late now skip their round (each real server is still checked \
                 at least every second round)",
                crate::overload::SUSTAINED,
                crate::overload::LATE
            );
        } else if was_shedding && !shedding {
            tracing::info!("health checks keep up again: no round is skipped");
        }
        match start {
            Start::Run => self.record(late),
            Start::Skip => {
                self.checks_skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
        start
    }

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

    fn finished(&self, kind: usize, result: &CheckResult, took: Duration) {
        let r = match result {
            CheckResult::Success { .. } => 0,
            CheckResult::Failure { .. } => 1,
            CheckResult::Inconclusive { .. } => 2,
        };
        if let Some(row) = self.results.get(kind) {
            row[r].fetch_add(1, Ordering::Relaxed);
        }
        let secs = took.as_secs_f64();
        match DURATION_BUCKETS.iter().position(|&b| secs <= b) {
            Some(i) => self.duration_buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.duration_over.fetch_add(1, Ordering::Relaxed),
        };
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Checks finished by (kind, result), non-zero ones only.
    pub fn results(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (k, row) in self.results.iter().enumerate() {
            for (r, n) in row.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    out.push((CHECK_KINDS[k], CHECK_RESULTS[r], n));
                }
            }
        }
        out
    }

    pub fn durations(&self) -> DurationHistogram {
        let mut buckets: Vec<u64> = self
            .duration_buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        buckets.push(self.duration_over.load(Ordering::Relaxed));
        DurationHistogram {
            count: buckets.iter().sum(),
            buckets,
            sum_seconds: self.duration_sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Checks running now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Rounds skipped because the runner was past its capacity.
    pub fn checks_skipped(&self) -> u64 {
        self.checks_skipped.load(Ordering::Relaxed)
    }

    /// Whether late checks skip their round now (the tests' view; operators see the
    /// skipped count and the log lines).
    #[cfg(test)]
    fn shedding(&self) -> bool {
        self.overload.lock().is_ok_and(|o| o.is_shedding())
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
    // Boxed: the larger checkers would otherwise size every task (10,000 TCP_CHECKs).
    Http(Box<HttpChecker>),
    Misc(Box<MiscChecker>, Duration),
    Ping(crate::config::PingCheck),
    Udp(Box<crate::config::UdpCheck>),
    Smtp(Box<crate::config::SmtpCheck>),
    Dns(Box<crate::config::DnsCheck>),
}

impl Prepared {
    /// Its index in [`CHECK_KINDS`].
    fn kind(&self) -> usize {
        match self {
            Prepared::Tcp(_) => 0,
            Prepared::Http(c) if c.is_ssl() => 2,
            Prepared::Http(_) => 1,
            Prepared::Misc(..) => 3,
            Prepared::Ping(_) => 4,
            Prepared::Udp(_) => 5,
            Prepared::Smtp(_) => 6,
            Prepared::Dns(_) => 7,
        }
    }

    /// Whether this checker does its I/O in the runner's slots when given one.
    fn does_io_in_slots(&self) -> bool {
        match self {
            Prepared::Tcp(c) => crate::tcp::does_io_in_slots(c),
            Prepared::Http(c) => c.does_io_in_slots(),
            _ => false,
        }
    }

    /// One check; `slot`: the runner's next start slot, for checks that do their I/O in
    /// slots (TCP_CHECK, a plain HTTP_GET), if this checker's starts are on them.
    /// `ring`: the runner's, if it has one, for a plain HTTP_GET's slotted exchange.
    async fn run(
        &self,
        step: usize,
        started: Instant,
        slot: Option<Instant>,
        ring: Option<&Arc<SlotRing>>,
    ) -> CheckResult {
        match self {
            Prepared::Tcp(c) => crate::tcp::check_in_slots(c, started, slot).await,
            Prepared::Http(c) => c.check_in_slots(step, started, slot, ring).await,
            Prepared::Misc(c, delay_loop) => c.check(*delay_loop).await,
            Prepared::Ping(c) => crate::ping::check(c).await,
            Prepared::Udp(c) => crate::udp::check_started_at(c, started).await,
            Prepared::Smtp(c) => crate::smtp::check_started_at(c, started).await,
            Prepared::Dns(c) => crate::dns::check_started_at(c, started).await,
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
    /// Due times are offsets from here (the schedule is pure and works on durations).
    epoch: Instant,
    stats: Arc<RunnerStats>,
    transitions: UnboundedSender<ServerTransition>,
    /// One rustls configuration per distinct set of TLS options, shared by every SSL_GET.
    tls_configs: HashMap<TlsOptions, Arc<rustls::ClientConfig>>,
    /// Running and waiting checkers, shared with the starter task.
    shared: Arc<Mutex<Checkers>>,
    /// Wakes the starter when a checker is due earlier than it planned to wake.
    wake_starter: Arc<Notify>,
    starter: AbortHandle,
    /// Keeps the next start slots' timers armed (see `SlotTicker`).
    slot_ticker: Arc<SlotTicker>,
    tickers: [AbortHandle; 2],
    /// Submits the ring's chains as they are queued (where there is a ring).
    submitter: Option<AbortHandle>,
    /// Initial states of the servers given to `start`.
    initial: Vec<InitialState>,
}

/// The checkers of the pool. A checker's task is spawned only when its first check is
/// due (`warmup` spreads first checks over a delay_loop): until then it waits here as a
/// small entry, so adding 10,000 real servers allocates no tasks and leaves the process
/// idle at once (at a start-up that is when the table is being programmed and read).
#[derive(Default)]
struct Checkers {
    servers: HashMap<RealServerId, ServerTasks>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// When the starter will wake next (`None`: when told to).
    starter_wakes_at: Option<Duration>,
    added: u64,
    next_order: u64,
    /// Real servers announced by `reserve` (a start-up adding many): the pool size that
    /// first checks are spread for (`schedule::phase_grid`) while they are being added.
    planned: usize,
}

struct ServerTasks {
    /// Which `add` of this id the tasks belong to: a waiting checker of an earlier
    /// generation (its server was removed or replaced) is dropped, not started.
    generation: u64,
    tasks: Vec<AbortHandle>,
    /// Its checkers' shared verdict (read for the failure count).
    verdict: Arc<Mutex<ServerVerdict>>,
}

/// A checker waiting for its first check.
struct Waiting {
    due: Duration,
    /// Tie-break: first added, first started.
    order: u64,
    server: RealServerId,
    generation: u64,
    task: CheckerTask,
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

impl Checkers {
    /// Spawns every waiting checker due by `now`; returns when the next one is due.
    fn start_due(&mut self, now: Duration) -> Option<Duration> {
        while let Some(Reverse(next)) = self.waiting.peek() {
            if next.due > now {
                self.starter_wakes_at = Some(next.due);
                return Some(next.due);
            }
            let Some(Reverse(w)) = self.waiting.pop() else {
                break;
            };
            if let Some(entry) = self.servers.get_mut(&w.server) {
                if entry.generation == w.generation {
                    entry
                        .tasks
                        .push(tokio::spawn(w.task.run(w.due)).abort_handle());
                }
            }
        }
        // Shrink after a start-up burst: the heap held every checker once.
        self.waiting.shrink_to_fit();
        self.starter_wakes_at = None;
        None
    }

    fn remove(&mut self, server: RealServerId) -> bool {
        match self.servers.remove(&server) {
            Some(entry) => {
                entry.tasks.iter().for_each(AbortHandle::abort);
                true
            }
            None => false,
        }
    }
}

/// Keeps a timer armed at each of the next two start slots while checks do their I/O in
/// slots. tokio's timer unparks its driver (an eventfd write, then an epoll_wait that returns
/// at once) whenever a timer is set earlier than the earliest it knew of when it last
/// woke; a check waiting for the next slot would do that whenever no check starts in that
/// slot (measured on the host: 0.5 such writes per check at 200 checks/s). With a timer of
/// the ticker's always armed there, waiting for a slot costs no system call. Idle (no
/// check in its slots) the tickers arm nothing: the last check to leave its slots wakes
/// them to drop their timers, so a small pool whose starts gather on a few slots
/// (`schedule::phase_grid`) wakes the runner only for those and the slot after each. At
/// each slot the ticker also turns the runner's ring, where it has one (see `slot_ring`).
struct SlotTicker {
    epoch: Instant,
    /// Where io_uring is available: the slotted HTTP exchanges' ring.
    ring: Option<Arc<SlotRing>>,
    /// Checks running whose I/O waits for slots.
    in_slots: AtomicUsize,
    /// Wakes the tickers when the first such check starts and when the last one ends.
    wake: Notify,
    /// Slots the tickers woke for (see `Runner::slot_ticks`).
    ticks: AtomicU64,
}

/// Counts a check whose I/O waits for slots, while it runs (also when aborted).
struct InSlots<'a>(&'a SlotTicker);

impl<'a> InSlots<'a> {
    fn enter(ticker: &'a SlotTicker) -> Self {
        if ticker.in_slots.fetch_add(1, Ordering::Relaxed) == 0 {
            ticker.wake.notify_waiters();
        }
        InSlots(ticker)
    }
}

impl Drop for InSlots<'_> {
    fn drop(&mut self) {
        if self.0.in_slots.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.wake.notify_waiters();
        }
    }
}

/// One of the two tickers: wakes at every other slot (`phase` 0: even slots, 1: odd) while
/// checks are in their slots. Reads the clock only when it starts again after idling.
async fn tick(ticker: Arc<SlotTicker>, phase: u32) {
    let step = START_SLOT * 2;
    let mut next: Option<Duration> = None;
    loop {
        let woken = ticker.wake.notified();
        let mut woken = std::pin::pin!(woken);
        woken.as_mut().enable();
        if ticker.in_slots.load(Ordering::Relaxed) == 0 {
            if next.take().is_some() && phase == 0 {
                // Going idle: the sockets the last checks closed go now, not at the
                // next start.
                if let Some(ring) = &ticker.ring {
                    ring.turn();
                }
            }
            woken.await;
            continue;
        }
        let at = match next {
            Some(at) => at,
            None => {
                let slot = slot_after(ticker.epoch.elapsed());
                let index = slot.as_nanos() / START_SLOT.as_nanos();
                if index % 2 == u128::from(phase) {
                    slot
                } else {
                    slot + START_SLOT
                }
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(ticker.epoch + at) => {}
            // The last check left its slots (or the first entered): look again.
            _ = woken => {
                next = Some(at);
                continue;
            }
        }
        ticker.ticks.fetch_add(1, Ordering::Relaxed);
        if let Some(ring) = &ticker.ring {
            ring.turn();
        }
        next = Some(at + step);
    }
}

/// Submits the ring's chains in the wake-up that queued them (see `SlotRing::queued`);
/// the tickers reap their completions from the next slot on.
async fn submitter(ring: Arc<SlotRing>) {
    loop {
        ring.queued().await;
        ring.turn();
    }
}

/// The runner's ring for slotted exchanges, unless io_uring is unavailable here or
/// `LVSD_IO_URING=off` says not to use it; says which once per process.
fn slot_ring() -> Option<Arc<SlotRing>> {
    static SAID: std::sync::Once = std::sync::Once::new();
    if !io_uring_wanted(std::env::var_os("LVSD_IO_URING").as_deref()) {
        SAID.call_once(|| {
            tracing::info!("slotted HTTP checks: plain system calls (LVSD_IO_URING=off)")
        });
        return None;
    }
    match SlotRing::new() {
        Ok(ring) => {
            SAID.call_once(|| {
                tracing::info!("slotted HTTP checks: io_uring, one submission per slot")
            });
            Some(Arc::new(ring))
        }
        Err(e) => {
            SAID.call_once(|| {
                tracing::info!(
                    "slotted HTTP checks: plain system calls (io_uring unavailable: {e})"
                )
            });
            None
        }
    }
}

/// `LVSD_IO_URING`: `off` turns the ring off; unset or anything else leaves it on.
fn io_uring_wanted(setting: Option<&std::ffi::OsStr>) -> bool {
    setting.is_none_or(|v| v != "off")
}

/// Starts waiting checkers when they are due (one task for the whole pool).
async fn starter(epoch: Instant, shared: Arc<Mutex<Checkers>>, wake: Arc<Notify>) {
    loop {
        let now = epoch.elapsed();
        let Ok(next) = shared.lock().map(|mut c| c.start_due(now)) else {
            return; // poisoned: a panic elsewhere
        };
        match next {
            Some(due) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(epoch + due) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

impl Runner {
    /// An empty runner; real servers are added with `add`. Needs a tokio runtime.
    pub fn new(transitions: UnboundedSender<ServerTransition>) -> Runner {
        let epoch = Instant::now();
        let shared = Arc::new(Mutex::new(Checkers::default()));
        let wake_starter = Arc::new(Notify::new());
        let starter =
            tokio::spawn(starter(epoch, shared.clone(), wake_starter.clone())).abort_handle();
        let slot_ticker = Arc::new(SlotTicker {
            epoch,
            ring: slot_ring(),
            in_slots: AtomicUsize::new(0),
            wake: Notify::new(),
            ticks: AtomicU64::new(0),
        });
        let tickers =
            [0, 1].map(|phase| tokio::spawn(tick(slot_ticker.clone(), phase)).abort_handle());
        let submitter = slot_ticker
            .ring
            .clone()
            .map(|ring| tokio::spawn(submitter(ring)).abort_handle());
        Runner {
            slot_ticker,
            tickers,
            submitter,
            epoch,
            stats: Arc::new(RunnerStats::default()),
            transitions,
            tls_configs: HashMap::new(),
            shared,
            wake_starter,
            starter,
            initial: Vec::new(),
        }
    }

    /// A runner checking `servers`, all started now.
    pub fn start(
        servers: Vec<RealServerChecks>,
        transitions: UnboundedSender<ServerTransition>,
    ) -> Result<Runner, RunnerError> {
        let mut runner = Runner::new(transitions);
        let now = Instant::now();
        runner.reserve(servers.len());
        let mut initial = Vec::with_capacity(servers.len());
        for server in &servers {
            initial.push(runner.add(server.id, server, now)?);
        }
        runner.initial = initial;
        Ok(runner)
    }

    /// Starts checking `server` under `id` (its own `id` field is not used; checkers already
    /// running under `id` are replaced); returns its state before any check ran (up unless
    /// a checker has alpha). `now` is the current time, read once by a caller adding many
    /// servers at once: a clock read per server costs a system call where the clock has no
    /// vDSO (10,000 of them at a UML start-up). Either every checker of the server starts
    /// or none does.
    pub fn add(
        &mut self,
        id: RealServerId,
        server: &RealServerChecks,
        now: Instant,
    ) -> Result<InitialState, RunnerError> {
        let verdict = ServerVerdict::for_server(server);
        let initial = InitialState {
            server: id,
            up: verdict.is_up(),
            weight: verdict.weight(),
        };
        let mut prepared = Vec::with_capacity(server.checkers.len());
        for (index, checker) in server.checkers.iter().enumerate() {
            if let CheckSpec::Misc(misc) = &checker.spec {
                // As keepalived: a script that cannot be found, or that
                // enable_script_security refuses, is disabled (the checker
                // keeps its initial verdict), not a failure.
                if let Some(e) = crate::misc::why_disabled(misc) {
                    tracing::warn!("MISC_CHECK {}: {e}; checker disabled", misc.misc_path);
                    continue;
                }
            }
            let ready = prepare(id, index, checker, &mut self.tls_configs)?;
            prepared.push((index, checker.schedule.clone(), ready));
        }
        let verdict = Arc::new(Mutex::new(verdict));
        let since_epoch = now.saturating_duration_since(self.epoch);
        // A poisoned lock means a panic elsewhere; nothing is started then.
        let Ok(mut checkers) = self.shared.lock() else {
            return Ok(initial);
        };
        checkers.remove(id);
        checkers.added += 1;
        let generation = checkers.added;
        checkers.servers.insert(
            id,
            ServerTasks {
                generation,
                tasks: Vec::with_capacity(prepared.len()),
                verdict: verdict.clone(),
            },
        );
        let mut wake = false;
        let pool = checkers.servers.len().max(checkers.planned);
        for (index, schedule, ready) in prepared {
            let coalesced = coalesces(&schedule);
            let random = rand::random::<f64>();
            let due = if coalesced {
                first_start(since_epoch, &schedule, random, phase_grid(pool, &schedule))
            } else {
                first_due(since_epoch, &schedule, random)
            };
            let task = CheckerTask {
                epoch: self.epoch,
                coalesced,
                delay_loop: schedule.delay_loop,
                server: id,
                index,
                prepared: ready,
                verdict: verdict.clone(),
                transitions: self.transitions.clone(),
                stats: self.stats.clone(),
                slot_ticker: self.slot_ticker.clone(),
                log_all_failures: schedule.log_all_failures,
            };
            let order = checkers.next_order;
            checkers.next_order += 1;
            if checkers.starter_wakes_at.is_none_or(|at| due < at) {
                // The starter re-reads the heap when woken; until then it sleeps.
                checkers.starter_wakes_at = Some(due);
                wake = true;
            }
            checkers.waiting.push(Reverse(Waiting {
                due,
                order,
                server: id,
                generation,
                task,
            }));
        }
        drop(checkers);
        if wake {
            self.wake_starter.notify_one();
        }
        Ok(initial)
    }

    /// Stops the checkers of `server`; `false` if none ran.
    pub fn remove(&mut self, server: RealServerId) -> bool {
        self.shared.lock().is_ok_and(|mut c| c.remove(server))
    }

    /// Makes room for `additional` more real servers at once.
    pub fn reserve(&mut self, additional: usize) {
        if let Ok(mut c) = self.shared.lock() {
            c.servers.reserve(additional);
            c.waiting.reserve(additional);
            c.planned = c.servers.len() + additional;
        }
    }

    /// Number of real servers being checked.
    pub fn len(&self) -> usize {
        self.shared.lock().map_or(0, |c| c.servers.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn initial_states(&self) -> &[InitialState] {
        &self.initial
    }

    pub fn stats(&self) -> Arc<RunnerStats> {
        self.stats.clone()
    }

    /// How many times the slot tickers woke the runner for a slot so far: beside the
    /// starts, what a pool's wake-ups cost (benchmarks, tests).
    pub fn slot_ticks(&self) -> u64 {
        self.slot_ticker.ticks.load(Ordering::Relaxed)
    }

    /// Failed checks of server `id` since it was added, and when its last
    /// check ended (Unix milliseconds; None before the first). None: not running.
    pub fn check_record(&self, id: RealServerId) -> Option<(u64, Option<u64>)> {
        let checkers = self.shared.lock().ok()?;
        let verdict = checkers.servers.get(&id)?.verdict.lock().ok()?;
        let last_checked = verdict
            .last_checked()
            .map(|ended| unix_ms_of(ended, self.epoch.elapsed(), unix_ms()));
        Some((verdict.failures(), last_checked))
    }

    /// Stops every checker (also done on drop).
    pub fn stop(&mut self) {
        self.starter.abort();
        self.tickers.iter().for_each(AbortHandle::abort);
        self.submitter.iter().for_each(AbortHandle::abort);
        if let Ok(mut c) = self.shared.lock() {
            for (_, entry) in c.servers.drain() {
                entry.tasks.iter().for_each(AbortHandle::abort);
            }
            c.waiting.clear();
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
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
        CheckSpec::Udp(c) => Prepared::Udp(c.clone()),
        CheckSpec::Smtp(c) => Prepared::Smtp(c.clone()),
        CheckSpec::Dns(c) => Prepared::Dns(c.clone()),
        CheckSpec::Misc(c) => Prepared::Misc(
            Box::new(
                MiscChecker::new((**c).clone()).map_err(|source| RunnerError::Misc {
                    server,
                    checker: index,
                    source,
                })?,
            ),
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
            Prepared::Http(Box::new(HttpChecker::with_tls_config(
                (**c).clone(),
                config,
            )))
        }
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Unix time (ms) of a moment `at` since the runner's epoch, given the wall
/// clock `now_unix_ms` read at `now` since that epoch. Checks record only the
/// monotonic clock (one read fewer each); this runs when someone asks, and
/// measures back from the wall clock of that moment, so a wall-clock step
/// between the check and the question shifts nothing.
fn unix_ms_of(at: Duration, now: Duration, now_unix_ms: u64) -> u64 {
    let ago = now.saturating_sub(at).as_millis() as u64;
    now_unix_ms.saturating_sub(ago)
}

/// One checker of one real server, as its task runs it.
struct CheckerTask {
    epoch: Instant,
    /// Starts coalesced onto the runner's slots (`schedule::coalesces`).
    coalesced: bool,
    /// Its round, for a round skipped past capacity.
    delay_loop: Duration,
    server: RealServerId,
    index: usize,
    prepared: Prepared,
    verdict: Arc<Mutex<ServerVerdict>>,
    transitions: UnboundedSender<ServerTransition>,
    stats: Arc<RunnerStats>,
    slot_ticker: Arc<SlotTicker>,
    /// `log_all_failures`: log each failed check, not only transitions.
    log_all_failures: bool,
}

impl CheckerTask {
    /// Checks until aborted, the first check due at `first_due` (since the epoch).
    /// (An `async` block rather than an `async fn`, and fields used in place: the future then
    /// holds the task once, not twice, which matters with 10,000 tasks at start-up.)
    // Not an `async fn` on purpose (see above): clippy's suggestion would double the size.
    #[allow(clippy::manual_async_fn)]
    fn run(self, first_due: Duration) -> impl std::future::Future<Output = ()> + Send {
        async move { self.checks_from(first_due).await }
    }

    async fn checks_from(&self, first_due: Duration) {
        let mut due = first_due;
        let mut skipped_last = false;
        loop {
            tokio::time::sleep_until(self.epoch + due).await;
            let started = self.epoch.elapsed();
            skipped_last = self.stats.on_due(due, started, skipped_last) == Start::Skip;
            if skipped_last {
                due = after_skip(due, self.delay_loop, started, self.coalesced);
                continue;
            }
            // A poisoned lock means a panic elsewhere; the checker stops rather than guess.
            let Ok(step) = self
                .verdict
                .lock()
                .map(|v| v.checker(self.index).map_or(0, |c| c.step()))
            else {
                return;
            };
            // Boxed: the (large) state of a check exists only while it runs, so thousands of
            // sleeping checkers stay small.
            let running = InFlight::enter(&self.stats.in_flight);
            // Only checks that use it count for the slot tickers (see `SlotTicker`).
            let slot = (self.coalesced && self.prepared.does_io_in_slots())
                .then(|| self.epoch + slot_after(started));
            let in_slots = slot.map(|_| InSlots::enter(&self.slot_ticker));
            let ring = self.slot_ticker.ring.as_ref();
            let result = Box::pin(self.prepared.run(step, self.epoch + started, slot, ring)).await;
            drop(in_slots);
            drop(running);
            // One clock read serves the duration, "last checked" and the next due time.
            let ended = self.epoch.elapsed();
            let took = ended.saturating_sub(started);
            self.stats.finished(self.prepared.kind(), &result, took);
            match &result {
                CheckResult::Inconclusive { reason } => {
                    tracing::warn!("check not run, verdict kept: {reason}");
                }
                CheckResult::Failure { reason } if self.log_all_failures => {
                    tracing::info!("check failed: {reason}");
                }
                _ => {}
            }
            let Ok((transition, next)) = self.verdict.lock().map(|mut v| {
                v.mark_checked(ended);
                v.record(self.index, &result)
            }) else {
                return;
            };
            if let Some(t) = transition {
                let sent = self.transitions.send(ServerTransition {
                    server: self.server,
                    up: t.up,
                    weight: t.weight,
                    reason: t.reason,
                });
                if sent.is_err() {
                    // Nobody listens any more: the director is gone.
                    return;
                }
            }
            due = next_start(due, next, started, || ended, self.coalesced);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Connection, RealServerChecks, TcpCheck};

    #[test]
    fn only_lvsd_io_uring_off_turns_the_ring_off() {
        use std::ffi::OsStr;
        assert!(io_uring_wanted(None));
        assert!(io_uring_wanted(Some(OsStr::new("on"))));
        assert!(io_uring_wanted(Some(OsStr::new(""))));
        assert!(!io_uring_wanted(Some(OsStr::new("off"))));
    }

    fn tcp_task(server: RealServerId) -> CheckerTask {
        let (transitions, _rx) = tokio::sync::mpsc::unbounded_channel();
        let checks = RealServerChecks {
            id: server,
            weight: 1,
            checkers: vec![],
        };
        CheckerTask {
            epoch: Instant::now(),
            coalesced: true,
            delay_loop: Duration::from_secs(1),
            server,
            index: 0,
            prepared: Prepared::Tcp(TcpCheck {
                connection: Connection::new(([127, 0, 0, 1], 1).into()),
            }),
            verdict: Arc::new(Mutex::new(ServerVerdict::for_server(&checks))),
            transitions,
            stats: Arc::default(),
            slot_ticker: Arc::new(SlotTicker {
                ring: None,
                epoch: Instant::now(),
                in_slots: AtomicUsize::new(0),
                wake: Notify::new(),
                ticks: AtomicU64::new(0),
            }),
            log_all_failures: false,
        }
    }

    fn waiting(due_ms: u64, order: u64, server: RealServerId, generation: u64) -> Reverse<Waiting> {
        Reverse(Waiting {
            due: Duration::from_millis(due_ms),
            order,
            server,
            generation,
            task: tcp_task(server),
        })
    }

    fn entry(generation: u64) -> ServerTasks {
        ServerTasks {
            generation,
            tasks: Vec::new(),
            verdict: Arc::new(Mutex::new(ServerVerdict::new(1, Vec::new()))),
        }
    }

    /// Checkers start when due, earliest first; a server removed or replaced before its
    /// first check never starts the old checker.
    #[tokio::test]
    async fn waiting_checkers_start_when_due_unless_their_server_went_away() {
        let mut c = Checkers::default();
        c.servers.insert(1, entry(1));
        c.servers.insert(2, entry(2));
        c.servers.insert(3, entry(4)); // re-added: generation 3 is stale
        c.waiting.push(waiting(5000, 0, 1, 1));
        c.waiting.push(waiting(1000, 1, 2, 2));
        c.waiting.push(waiting(2000, 2, 3, 3));
        c.waiting.push(waiting(3000, 3, 3, 4));

        assert_eq!(
            c.start_due(Duration::from_millis(500)),
            Some(Duration::from_millis(1000))
        );
        assert!(c.servers.values().all(|e| e.tasks.is_empty()));

        assert_eq!(
            c.start_due(Duration::from_millis(1000)),
            Some(Duration::from_millis(2000))
        );
        assert_eq!(c.servers[&2].tasks.len(), 1);

        assert!(c.remove(1));
        assert!(!c.remove(1));
        assert_eq!(c.start_due(Duration::from_secs(10)), None);
        assert_eq!(
            c.servers[&3].tasks.len(),
            1,
            "only the current generation started"
        );
        assert!(c.waiting.is_empty());
        assert_eq!(c.starter_wakes_at, None);
        for e in c.servers.values() {
            e.tasks.iter().for_each(AbortHandle::abort);
        }
    }

    /// The runner's accounting of shedding: late starts run until the backlog has lasted a
    /// second, then late rounds are skipped and counted apart from the started ones.
    #[test]
    fn past_capacity_late_rounds_are_skipped_and_counted() {
        let stats = RunnerStats::default();
        let ms = Duration::from_millis;
        for t in 0..1000 {
            assert_eq!(stats.on_due(ms(t), ms(t + 200), false), Start::Run);
        }
        assert!(!stats.shedding());
        assert_eq!(stats.on_due(ms(1000), ms(1200), false), Start::Skip);
        assert!(stats.shedding());
        assert_eq!(stats.on_due(ms(1001), ms(1201), true), Start::Run);
        assert_eq!(stats.on_due(ms(1190), ms(1202), false), Start::Run);
        assert_eq!(
            (
                stats.checks_started(),
                stats.late_over_50ms(),
                stats.checks_skipped()
            ),
            (1002, 1001, 1)
        );
        assert_eq!(stats.max_lateness(), ms(200));
    }

    /// "Last checked" is measured back from the wall clock of the question:
    /// a check that ended 1.5 s before it shows 1.5 s before that wall time,
    /// whatever the wall clock did since the check.
    #[test]
    fn last_checked_is_measured_back_from_the_wall_clock_of_the_question() {
        let ended = Duration::from_millis(10_000);
        let asked = Duration::from_millis(11_500);
        assert_eq!(
            unix_ms_of(ended, asked, 1_700_000_000_000),
            1_699_999_998_500
        );
        // Asked before the recorded end cannot happen, but must not underflow or
        // land in the future.
        assert_eq!(unix_ms_of(asked, ended, 5_000), 5_000);
        assert_eq!(unix_ms_of(Duration::ZERO, asked, 1_000), 0);
    }

    /// A start-up allocates one task per checker (10,000 and more): keep each small. The
    /// future of a TCP_CHECK task was 744 bytes before the task stopped holding itself twice
    /// and the larger checkers were boxed.
    #[tokio::test]
    async fn a_sleeping_checker_task_stays_small() {
        let task = tcp_task(1);
        assert!(std::mem::size_of::<Prepared>() <= 96);
        let future = task.run(Duration::ZERO);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 448, "checker task future is {size} bytes");
    }
}
