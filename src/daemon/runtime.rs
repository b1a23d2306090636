//! The director loop: checker transitions, signals and status requests in;
//! reconciled IPVS writes, scripts and checker starts/stops out. All
//! decisions are the pure director's; this file only moves events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use checkers::runner::ServerTransition;
use ipvs::model::{ServiceKey, SyncState, Table};
use ipvs::reconcile::PlanSummary;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::checks::CheckerPool;
use super::control::{self, AdminRequest, ControlOptions, Reply, StatusRequest};
use super::kernel::Kernel;
use super::prepare::Prepared as LoadedConfig;
use super::status::{self, Status};
use super::{failed, sd_notify, sync_daemon, Options};
use crate::config::model::LvsSyncDaemon;
use crate::config::ConfigOptions;
use crate::director::plan::{plan, planner, removal, scoped, PLAN_PIECE};
use crate::director::spec::CheckedFile;
use crate::director::{Action, Director};
use crate::events::sinks::EventsConfig;
use crate::events::{publish, Event};
use crate::histogram::Histogram;
use crate::track_file;
use crate::vrrp::config::{NotifyCommand, RunAs};
use crate::vrrp::notify;
use crate::vrrp::runner::{RunnerOptions, VrrpConfig};

fn load(opts: &Options) -> Result<LoadedConfig, String> {
    let copts = ConfigOptions {
        config_id: opts.config_id.clone(),
        ..ConfigOptions::default()
    };
    let mut loaded =
        super::prepare::load(&opts.config_file, &copts, opts.strict).map_err(|d| d.render())?;
    if let Some(ssl) = loaded.config.ssl.as_mut() {
        ssl.verify = opts.ssl_verify_ca;
    }
    for w in &loaded.warnings {
        tracing::warn!("{}", w.render(&loaded.sources));
    }
    let mut translated = super::prepare::prepare(loaded.config)?;
    // Files and users are looked up now, at each (re)load, as keepalived does.
    let mut vetting = crate::script_security::Vetting::new(translated.vrrp.script_security);
    vetting.vrrp(&mut translated.vrrp);
    vetting.director(&mut translated.director, translated.script_user.as_ref());
    vetting.events(&mut translated.events);
    vetting.log();
    translated.runs_scripts = vetting.any_script() || translated.director.has_misc_checks();
    Ok(translated)
}

/// The FIFO and mail settings for this mode: `-C` (like keepalived's
/// checker process alone) has no VRRP notify FIFO.
fn events_for(mut events: EventsConfig, checkers_only: bool) -> EventsConfig {
    if checkers_only {
        events.vrrp_notify_fifo = None;
    }
    events
}

/// Scripts (MISC_CHECK, track, notify, start-up and shutdown) are started
/// by a helper process, so that no thread of lvsd's (VRRP's above all)
/// stalls while a process is created (checkers::spawner). Without it they
/// are started here, as before, and lvsd says so.
/// `role`: what lvsd's scheduling keywords make of the thread that reads
/// the helper's replies.
pub fn start_spawn_helper(role: super::tuning::Role) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| start_helper_process(role));
}

fn start_helper_process(role: super::tuning::Role) {
    let on_reader_start: fn() = match role {
        super::tuning::Role::Vrrp => || super::tuning::register_current(super::tuning::Role::Vrrp),
        super::tuning::Role::Checker => {
            || super::tuning::register_current(super::tuning::Role::Checker)
        }
    };
    let exe = std::path::Path::new("/proc/self/exe");
    if let Err(e) = checkers::spawner::start_helper(exe, on_reader_start) {
        tracing::warn!("no spawn helper ({e}): scripts are started by lvsd itself");
    }
}

/// `lvsd run` without `-P`: the whole director (or checkers only with `-C`).
pub fn run(opts: Options) -> ExitCode {
    tracing::info!(
        "lvsd {}: loading {}",
        env!("CARGO_PKG_VERSION"),
        opts.config_file.display()
    );
    let loaded = match load(&opts) {
        Ok(l) => {
            tracing::info!(
                "configuration loaded: {} virtual servers, {} VRRP instances",
                l.director.virtual_servers.len(),
                l.vrrp.instances.len()
            );
            l
        }
        Err(e) => {
            return failed(format!(
                "{}: configuration is not usable:\n{e}",
                opts.config_file.display()
            ))
        }
    };
    if let Some(pid) = &opts.pid_file {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            return failed(format!("writing pid file {}: {e}", pid.display()));
        }
    }
    // The helper is a second lvsd process: in a slow start-up (a big table,
    // UML's costly page faults) it would compete for the CPU with the first
    // table, so it starts once that is written, unless a startup_script
    // needs it first. Nothing else runs a script before then. A
    // configuration without scripts starts none (a reload that brings
    // some starts it then).
    if loaded.vrrp.start_stop.startup.is_some() {
        start_spawn_helper(super::tuning::Role::Checker);
    }
    // Every thread of this runtime does what keepalived's checker process
    // does (checkers_*: tuning); the VRRP thread has its own (vrrp_*).
    super::tuning::register_current(super::tuning::Role::Checker);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| super::tuning::register_current(super::tuning::Role::Checker))
        .on_thread_stop(super::tuning::unregister_current)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed(format!("starting the runtime: {e}")),
    };
    let start_stop = loaded.vrrp.start_stop.clone();
    let result = rt.block_on(async {
        if let Some((cmd, timeout)) = &start_stop.startup {
            crate::vrrp::runner::run_start_stop_script("startup_script", cmd, *timeout).await;
        }
        let result = match connect_ipvs(&loaded).await {
            Ok(kernel) => serve(opts.clone(), loaded, kernel).await,
            Err(e) => Err(e),
        };
        if let Some((cmd, timeout)) = &start_stop.shutdown {
            crate::vrrp::runner::run_start_stop_script("shutdown_script", cmd, *timeout).await;
        }
        result
    });
    // Stop scripts handed to the spawn helper in the last moments may still
    // be queued here: they are written before lvsd exits.
    if !checkers::spawner::flush(Duration::from_secs(2)) {
        tracing::warn!("not every last script reached the spawn helper (gone, or 2 s passed)");
    }
    if let Some(pid) = &opts.pid_file {
        let _ = std::fs::remove_file(pid);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(e),
    }
}

/// IPVS for the director. A configuration with virtual servers cannot run
/// without it (keepalived's checker process ends then, and keepalived with
/// it); one without runs VRRP only, as keepalived does, and connects later
/// if a reload adds virtual servers.
async fn connect_ipvs(loaded: &LoadedConfig) -> Result<super::kernel::OptionalIpvs, String> {
    if !loaded.director.virtual_servers.is_empty() {
        return super::kernel::connect().await.map(Into::into);
    }
    let (kernel, missing) = super::kernel::OptionalIpvs::connect().await;
    if let Some(e) = missing {
        tracing::info!("{e}; no virtual servers are configured, so VRRP runs without it");
    }
    Ok(kernel)
}

/// A running VRRP runner and the way to stop it.
struct VrrpTask {
    stop: oneshot::Sender<()>,
    /// Resolves when the VRRP thread has handed over and returned.
    done: oneshot::Receiver<()>,
    /// The configuration it runs, to tell whether a reload changes it.
    fingerprint: String,
    /// New configurations for the running VRRP core (applied in place).
    reload: mpsc::Sender<VrrpConfig>,
}

/// Whether the configuration has anything for the VRRP core: instances, or static
/// addresses, routes or rules (keepalived 2.2.7 starts its VRRP process for those too:
/// vrrp_parser.c sets have_vrrp_config for each).
fn has_vrrp(config: &VrrpConfig) -> bool {
    !config.instances.is_empty() || config.statics != Default::default()
}

/// Starts the VRRP core on a thread and runtime of its own (issue #16): no
/// checker, reload, IPVS write, metrics scrape or mail shares its thread, so
/// none can hold up an advert. (keepalived gets the same from a process of
/// its own.) The rest of the daemon talks to it through channels only.
fn start_vrrp(config: VrrpConfig, opts: &Options) -> Option<VrrpTask> {
    if !has_vrrp(&config) {
        return None;
    }
    let fingerprint = format!("{config:?}");
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel::<()>();
    let (reload, reloads) = mpsc::channel::<VrrpConfig>(4);
    let options = RunnerOptions {
        state_file: opts.vrrp_state_file.clone(),
        dont_release_vrrp: opts.dont_release_vrrp,
    };
    let thread = std::thread::Builder::new()
        .name("lvsd-vrrp".into())
        .spawn(move || {
            super::tuning::register_current_deferred(super::tuning::Role::Vrrp);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_start(|| super::tuning::register_current(super::tuning::Role::Vrrp))
                .on_thread_stop(super::tuning::unregister_current)
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("VRRP not started: its runtime: {e}");
                    let _ = done_tx.send(());
                    return;
                }
            };
            rt.block_on(async move {
                let shutdown = async {
                    let _ = stopped.await;
                };
                let runner =
                    crate::vrrp::runner::run_reloadable(config, options, reloads, shutdown);
                tokio::pin!(runner);
                // Tuned (vrrp_rt_priority, ...) once its start-up is done.
                let result = tokio::select! {
                    r = &mut runner => r,
                    () = tokio::time::sleep(super::tuning::VRRP_STARTUP_GRACE) => {
                        super::tuning::activate_current();
                        runner.await
                    }
                };
                if let Err(e) = result {
                    tracing::error!("VRRP stopped: {e}");
                }
            });
            // Tasks the runner left (GARP spacing, script feeds) end with it.
            drop(rt);
            super::tuning::unregister_current();
            let _ = done_tx.send(());
        });
    if let Err(e) = thread {
        tracing::error!("VRRP not started: no thread for it: {e}");
        return None;
    }
    Some(VrrpTask {
        stop,
        done,
        fingerprint,
        reload,
    })
}

async fn stop_vrrp(task: VrrpTask) {
    let _ = task.stop.send(());
    let _ = task.done.await;
}

/// Back-off bounds for retrying a failed IPVS apply.
const HEAL_MIN: Duration = Duration::from_secs(1);
const HEAL_MAX: Duration = Duration::from_secs(60);
/// How often the kernel's table is compared with the desired one (one dump
/// of the table, as every `lvsd status` and `/metrics` scrape does).
const DRIFT_CHECK: Duration = Duration::from_secs(10);

struct Daemon<K: Kernel> {
    opts: Options,
    kernel: K,
    director: Director,
    pool: CheckerPool,
    /// What the kernel holds of our services after the last successful
    /// apply; `None`: read the kernel before planning.
    programmed: Option<Table>,
    /// After a failed apply: when to re-read the kernel and retry, and the
    /// current back-off (1 s doubling to 60 s, so a refused operation such
    /// as a missing scheduler module is not retried every second).
    heal_at: Option<Instant>,
    heal_backoff: Duration,
    /// When the kernel's table is next compared with the desired one.
    drift_check_at: Instant,
    /// Times the table had changed behind lvsd's back and was repaired.
    drift_repairs: u64,
    /// Services owned before the last reload (deleted if no longer wanted).
    previously_owned: BTreeSet<ServiceKey>,
    ipvs_writes: u64,
    /// How long reconciles took, by scope ("full", "virtual_servers").
    reconcile_durations: BTreeMap<String, Histogram>,
    reloads: u64,
    reload_failures: u64,
    last_reload_error: Option<String>,
    /// Unix seconds: start, and the last successful load.
    started_at: f64,
    last_reload_success_at: f64,
    started: Instant,
    vrrp: Option<VrrpTask>,
    sync: Option<LvsSyncDaemon>,
    sync_running: Option<SyncState>,
    /// `lvs_sync_daemon` without a VRRP instance: both daemons run.
    sync_both: bool,
    script_user: Option<RunAs>,
    /// `lvs_timeouts` as configured, the kernel's timeouts from before lvsd
    /// first changed them, and what lvsd last set.
    timeouts: crate::config::LvsTimeouts,
    flush: super::prepare::Flush,
    original_timeouts: Option<ipvs::model::Timeouts>,
    applied_timeouts: Option<ipvs::model::Timeouts>,
    /// FILE_CHECK files: their inotify watcher, the files it watches, and
    /// where it sends (name, value).
    file_watch: Option<(JoinHandle<()>, track_file::WatchedFiles)>,
    file_tx: mpsc::Sender<(String, i32)>,
    /// Notify FIFO and mail settings (keepalived's names for the servers).
    events: EventsConfig,
    /// The admin overrides changed since the state file was last written.
    admin_dirty: bool,
}

/// `init_file`, then the number now, of each FILE_CHECK file (an unreadable
/// file reads as 0, logged, as in keepalived).
fn read_checked_files(files: &[CheckedFile], starting: bool) -> Vec<(Arc<str>, i32)> {
    files
        .iter()
        .map(|f| {
            let init = f.init.map(|i| (i.value, i.overwrite));
            let value = track_file::init_and_read(&f.name, &f.path, init, starting);
            (f.name.clone(), value)
        })
        .collect()
}

impl<K: Kernel> Daemon<K> {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sets the IPVS timeouts `lvs_timeouts` asks for, remembering the
    /// kernel's own the first time (see [`crate::director::timeouts`]); a
    /// value the kernel already has is not written again.
    async fn apply_timeouts(&mut self) {
        use crate::director::timeouts;
        if timeouts::any(&self.timeouts) && self.original_timeouts.is_none() {
            match self.kernel.timeouts().await {
                Ok(t) => {
                    self.original_timeouts = Some(t);
                    self.applied_timeouts = Some(t);
                }
                Err(e) => {
                    tracing::error!("lvs_timeouts: {e}");
                    return;
                }
            }
        }
        let Some(want) = timeouts::wanted(&self.timeouts, self.original_timeouts) else {
            return;
        };
        if self.applied_timeouts == Some(want) {
            return;
        }
        self.ipvs_writes += 1;
        match self.kernel.apply(&[ipvs::ops::Op::SetTimeouts(want)]).await {
            Ok(()) => {
                tracing::info!(
                    "IPVS timeouts set: tcp {} tcpfin {} udp {}",
                    want.tcp,
                    want.tcp_fin,
                    want.udp
                );
                self.applied_timeouts = Some(want);
            }
            Err(e) => tracing::error!("lvs_timeouts: {e}"),
        }
    }

    /// Watches the FILE_CHECK files of the current spec (restarting the
    /// watcher only when that set changed).
    fn watch_checked_files(&mut self) {
        let files: track_file::WatchedFiles = self
            .director
            .spec()
            .track_files
            .iter()
            .map(|f| (f.name.to_string(), f.path.clone()))
            .collect();
        if self.file_watch.as_ref().map(|(_, w)| w) == Some(&files) {
            return;
        }
        if let Some((task, _)) = self.file_watch.take() {
            task.abort();
        }
        if files.is_empty() {
            return;
        }
        let tx = self.file_tx.clone();
        let watched = files.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = track_file::watch(watched, tx, |name, v| (name, v)).await {
                tracing::error!("FILE_CHECK: cannot watch the track files: {e}");
            }
        });
        self.file_watch = Some((task, files));
    }

    /// A FILE_CHECK file now reads `value`: the weights of the real servers
    /// checking it change (and with them maybe a quorum).
    async fn on_file_value(&mut self, name: &str, value: i32) {
        let (actions, touched) = self.director.on_file_value(name, value);
        if touched.is_empty() {
            return;
        }
        tracing::info!("track_file {name}: now {value} (FILE_CHECK)");
        let quorum = self.quorum_of(&touched);
        self.perform(actions);
        self.publish_quorum_changes(quorum);
        self.reconcile_virtual_servers(&touched).await;
    }

    /// The quorum state of these virtual servers, to compare after a change.
    fn quorum_of(&self, names: &BTreeSet<Arc<str>>) -> Vec<(Arc<str>, Option<bool>)> {
        names
            .iter()
            .map(|n| (n.clone(), self.director.quorum_up(n)))
            .collect()
    }

    /// Publishes a quorum event for each virtual server whose quorum changed.
    fn publish_quorum_changes(&self, before: Vec<(Arc<str>, Option<bool>)>) {
        for (name, was) in before {
            let now = self.director.quorum_up(&name);
            let (Some(was), Some(up)) = (was, now) else {
                continue;
            };
            if was == up {
                continue;
            }
            let Some(vs) = self
                .director
                .spec()
                .virtual_servers
                .iter()
                .find(|v| v.name == name)
            else {
                continue;
            };
            publish(Event::Quorum {
                vs_text: self.vs_text(&name),
                weight_sum: self.director.weight_sum_of(&name).unwrap_or(0),
                virtual_server: name,
                up,
                init: false,
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
            });
        }
    }

    /// At start, as keepalived: each virtual server with its quorum
    /// reached reports it up; one without, down if a sorry server serves.
    fn publish_initial_quorum(&self) {
        for vs in &self.director.spec().virtual_servers {
            let up = match self.director.quorum_up(&vs.name) {
                Some(true) => true,
                Some(false) if vs.sorry_server.is_some() => false,
                _ => continue,
            };
            publish(Event::Quorum {
                vs_text: self.vs_text(&vs.name),
                weight_sum: self.director.weight_sum_of(&vs.name).unwrap_or(0),
                virtual_server: vs.name.clone(),
                up,
                init: true,
                quorum: vs.quorum,
                hysteresis: vs.hysteresis,
            });
        }
    }

    fn vs_text(&self, name: &str) -> String {
        self.events
            .vs_texts
            .get(name)
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| name.to_string())
    }

    fn perform(&mut self, actions: Vec<Action>) {
        let starts = actions
            .iter()
            .filter(|a| matches!(a, Action::StartChecks { .. }))
            .count();
        self.pool.reserve(starts);
        // One clock read for the whole batch (10k servers at start-up).
        let now = tokio::time::Instant::now();
        // In order: scripts run in the order keepalived runs them (a real
        // server's notify before its virtual server's quorum script).
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            match action {
                Action::StartChecks { key, checks } => {
                    let weight = checks.weight;
                    if let Err(e) = self.pool.start(key.clone(), &checks, now) {
                        tracing::error!("{key}: cannot start its checkers: {e}");
                        let more = self.director.on_transition(
                            &key,
                            false,
                            weight,
                            &format!("checkers not started: {e}"),
                        );
                        queue.extend(more);
                    }
                }
                Action::StopChecks { key } => self.pool.stop(&key),
                Action::AdminDropped { key, admin } => {
                    tracing::warn!(
                        "{key}: no longer configured, its admin override ({}) is dropped",
                        admin.state
                    );
                    self.admin_dirty = true;
                }
                Action::RunScript { script, why } => {
                    // The script's own user, else script_user, else keepalived's default.
                    let run_as = script
                        .user
                        .clone()
                        .map(|user| RunAs {
                            user,
                            group: script.group.clone(),
                        })
                        .or_else(|| self.script_user.clone());
                    tracing::info!("{why}: running {}", script.command);
                    notify::spawn_all(&[NotifyCommand {
                        command: script.command,
                        run_as,
                    }]);
                }
            }
        }
    }

    fn scope(&self) -> BTreeSet<ServiceKey> {
        self.director
            .owned_services()
            .union(&self.previously_owned)
            .copied()
            .collect()
    }

    async fn read_kernel(&mut self) -> Option<Table> {
        match self.kernel.table().await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    }

    /// Every [`DRIFT_CHECK`]: reads the kernel's table and, if someone changed
    /// lvsd's services behind its back (`ipvsadm -d`, `-C`, a flush), puts
    /// them back, logged and counted.
    async fn check_drift(&mut self) {
        if Instant::now() < self.drift_check_at {
            return;
        }
        self.drift_check_at = Instant::now() + DRIFT_CHECK;
        if self.programmed.is_none() {
            return; // the heal path re-reads and repairs already
        }
        let Some(table) = self.read_kernel().await else {
            return;
        };
        let current = scoped(&table, &self.scope());
        let ops = plan(&self.director.desired(), &current);
        if ops.is_empty() {
            return;
        }
        tracing::warn!(
            "IPVS: the table changed behind lvsd's back ({} operations to repair it): repairing",
            ops.len()
        );
        self.drift_repairs += 1;
        // Plan against the kernel's table as it is, not as lvsd left it.
        self.programmed = None;
        self.reconcile().await;
    }

    /// Logs a batch: every operation when few, else counts (each at debug).
    fn log_ops(ops: &[ipvs::ops::Op]) {
        if ops.len() <= 20 {
            for op in ops {
                tracing::info!("IPVS: {op}");
            }
        } else {
            tracing::info!("IPVS: {:?}", PlanSummary::of(ops));
            for op in ops {
                tracing::debug!("IPVS: {op}");
            }
        }
    }

    /// Brings the services of the virtual servers in `names` to the
    /// director's desired state, planning against the programmed table only
    /// for them (a checker transition costs its virtual server, not the
    /// whole table). Without a programmed table: the full reconcile.
    async fn reconcile_virtual_servers(&mut self, names: &BTreeSet<std::sync::Arc<str>>) {
        let started = Instant::now();
        if self.programmed.is_none() {
            self.reconcile_all().await;
            self.timed("full", started);
            return;
        }
        self.reconcile_some(names).await;
        self.timed("virtual_servers", started);
    }

    /// Files how long a reconcile took (plan, writes and the table's
    /// bookkeeping), by scope, for `lvsd_ipvs_reconcile_duration_seconds`.
    fn timed(&mut self, scope: &str, started: Instant) {
        self.reconcile_durations
            .entry(scope.to_string())
            .or_insert_with(|| Histogram::new(&crate::histogram::LATENCY_BUCKETS))
            .observe(started.elapsed().as_secs_f64());
    }

    async fn reconcile_some(&mut self, names: &BTreeSet<std::sync::Arc<str>>) {
        let Some(programmed) = self.programmed.as_mut() else {
            return;
        };
        let desired = self.director.desired_for(names);
        let keys: BTreeSet<ServiceKey> = desired.services.iter().map(|(s, _)| s.key).collect();
        let current = Table {
            services: programmed
                .services
                .iter()
                .filter(|(s, _)| keys.contains(&s.key))
                .cloned()
                .collect(),
        };
        let ops = plan(&desired, &current);
        if ops.is_empty() {
            return;
        }
        Self::log_ops(&ops);
        self.ipvs_writes += ops.len() as u64;
        match self.kernel.apply(&ops).await {
            Ok(()) => {
                for (service, dests) in desired.services {
                    match programmed
                        .services
                        .iter_mut()
                        .find(|(s, _)| s.key == service.key)
                    {
                        Some(entry) => *entry = (service, dests),
                        None => programmed.services.push((service, dests)),
                    }
                }
            }
            Err(e) => self.apply_failed(&e),
        }
    }

    fn apply_failed(&mut self, e: &str) {
        tracing::error!("IPVS: {e}");
        self.programmed = None;
        self.heal_backoff = (self.heal_backoff * 2).clamp(HEAL_MIN, HEAL_MAX);
        self.heal_at = Some(Instant::now() + self.heal_backoff);
        tracing::warn!("IPVS: retrying in {:?}", self.heal_backoff);
    }

    /// Brings the kernel's table to the director's desired one.
    async fn reconcile(&mut self) {
        let started = Instant::now();
        self.reconcile_all().await;
        self.timed("full", started);
    }

    async fn reconcile_all(&mut self) {
        let current = match self.programmed.take() {
            Some(t) => t,
            None => match self.read_kernel().await {
                Some(t) => scoped(&t, &self.scope()),
                None => return,
            },
        };
        let desired = self.director.desired();
        // Planned and written a piece at a time: a first table of 10,000
        // real servers never holds all its operations at once.
        let mut planner = planner(&desired, &current);
        let Some(mut ops) = planner.next_chunk(PLAN_PIECE) else {
            self.programmed = Some(current);
            self.previously_owned = self.director.owned_services();
            return;
        };
        let mut summary = None;
        loop {
            let next = planner.next_chunk(PLAN_PIECE);
            if summary.is_none() && next.is_none() {
                // One piece: the whole plan, logged as it always was.
                Self::log_ops(&ops);
            } else {
                if summary.is_none() {
                    tracing::info!(
                        "IPVS: more than {PLAN_PIECE} operations: planned and written in pieces"
                    );
                }
                summary
                    .get_or_insert_with(PlanSummary::default)
                    .add(&PlanSummary::of(&ops));
                for op in &ops {
                    tracing::debug!("IPVS: {op}");
                }
            }
            self.ipvs_writes += ops.len() as u64;
            if let Err(e) = self.kernel.apply(&ops).await {
                if let Some(summary) = summary {
                    tracing::info!("IPVS: {summary:?} (up to the failed piece)");
                }
                self.apply_failed(&e);
                return;
            }
            match next {
                Some(more) => ops = more,
                None => break,
            }
        }
        if let Some(summary) = summary {
            tracing::info!("IPVS: {summary:?}");
        }
        drop(planner);
        self.programmed = Some(desired);
        self.heal_at = None;
        self.heal_backoff = Duration::ZERO;
        self.previously_owned = self.director.owned_services();
    }

    async fn on_transitions(
        &mut self,
        first: ServerTransition,
        rx: &mut mpsc::UnboundedReceiver<ServerTransition>,
    ) {
        let mut next = Some(first);
        let mut touched = BTreeSet::new();
        // Batch everything already queued into one reconcile.
        while let Some(t) = next {
            if let Some(key) = self.pool.key_of(t.server).cloned() {
                let was_down = self.director.real_server(&key).is_some_and(|s| !s.up);
                let was_up = self.director.real_server(&key).is_some_and(|s| s.up);
                let quorum = self.quorum_of(&BTreeSet::from([key.virtual_server.clone()]));
                if was_down && !t.up {
                    // Still down, for another reason: nothing in the table changes.
                    tracing::info!("{key}: still DOWN: {}", t.reason);
                } else {
                    touched.insert(key.virtual_server.clone());
                    tracing::info!(
                        "{key}: {} (weight {}): {}",
                        if t.up { "UP" } else { "DOWN" },
                        t.weight,
                        t.reason
                    );
                }
                let actions = self.director.on_transition(&key, t.up, t.weight, &t.reason);
                let proto = self
                    .events
                    .vs_texts
                    .get(&*key.virtual_server)
                    .map_or("tcp", |(_, p)| *p);
                publish(Event::RealServer {
                    vs_text: self.vs_text(&key.virtual_server),
                    rs_text: crate::events::sinks::trio(key.addr, proto, key.port),
                    virtual_server: key.virtual_server.clone(),
                    up: t.up,
                    changed: t.up != was_up,
                    weight: t.weight,
                    reason: t.reason.clone(),
                });
                self.perform(actions);
                self.publish_quorum_changes(quorum);
            }
            next = rx.try_recv().ok();
        }
        if !touched.is_empty() {
            self.reconcile_virtual_servers(&touched).await;
        }
    }

    async fn reload(&mut self) {
        sd_notify::reloading();
        tracing::info!("SIGHUP: reloading {}", self.opts.config_file.display());
        match load(&self.opts) {
            Err(e) => {
                tracing::error!(
                    "reload refused, the running configuration stays: {}",
                    e.trim_end()
                );
                publish(Event::Reload {
                    error: Some(e.clone()),
                });
                self.last_reload_error = Some(e);
                self.reload_failures += 1;
            }
            Ok(loaded) => {
                if loaded.runs_scripts {
                    // Before any of its scripts can run.
                    start_spawn_helper(super::tuning::Role::Checker);
                }
                super::tuning::configure(&loaded.tuning);
                self.reloads += 1;
                self.last_reload_error = None;
                self.last_reload_success_at = status::unix_now();
                self.previously_owned = self.scope();
                self.script_user = loaded.script_user;
                self.timeouts = loaded.timeouts;
                // lvs_flush applies at start only; lvs_flush_on_stop follows the file.
                self.flush.whole_table_at_stop = loaded.flush.whole_table_at_stop;
                self.apply_timeouts().await;
                let actions = self.director.reload(loaded.director, self.now());
                self.perform(actions);
                if let Err(e) = self.save_admin() {
                    tracing::error!("{e}");
                }
                let files = read_checked_files(&self.director.spec().track_files, false);
                for (name, value) in files {
                    let (actions, _) = self.director.on_file_value(&name, value);
                    self.perform(actions);
                }
                self.watch_checked_files();
                // Plan against what we programmed (no table dump: a reload
                // changing one weight is one netlink write and nothing else).
                self.reconcile().await;
                if !self.opts.checkers_only {
                    let fingerprint = format!("{:?}", loaded.vrrp);
                    let changed = self.vrrp.as_ref().map(|v| &v.fingerprint) != Some(&fingerprint)
                        && (self.vrrp.is_some() || has_vrrp(&loaded.vrrp));
                    if changed {
                        self.reload_vrrp(loaded.vrrp).await;
                    }
                    if !sync_daemon::same_config(self.sync.as_ref(), loaded.sync.as_ref()) {
                        self.stop_sync_both().await;
                        // Stopped here; the next tick starts the new one in the VRRP role.
                        if let Some(role) = self.sync_running.take() {
                            tracing::info!(
                                "lvs_sync_daemon changed: stopping the {role:?} sync daemon"
                            );
                            self.ipvs_writes += 1;
                            if let Err(e) =
                                self.kernel.apply(&[ipvs::ops::Op::StopDaemon(role)]).await
                            {
                                tracing::error!("lvs_sync_daemon: {e}");
                            }
                        }
                    }
                    self.sync = loaded.sync;
                }
                self.events = loaded.events.clone();
                crate::announce::announcer::configure(loaded.announce.clone());
                crate::events::sinks::configure(
                    events_for(loaded.events, self.opts.checkers_only),
                    false,
                );
                publish(Event::Reload { error: None });
                tracing::info!("reload done");
            }
        }
        sd_notify::notify("READY=1");
    }

    /// Hand a changed VRRP configuration to the running core, which applies
    /// it in place (kept instances keep their state and unchanged VIPs); start
    /// or stop the core when instances appear or all disappear.
    async fn reload_vrrp(&mut self, config: VrrpConfig) {
        let fingerprint = format!("{config:?}");
        match self.vrrp.take() {
            Some(v) if !has_vrrp(&config) => {
                tracing::info!(
                    "VRRP configuration changed: no instance or static entry left, stopping VRRP"
                );
                stop_vrrp(v).await;
            }
            Some(mut v) => {
                tracing::info!("VRRP configuration changed: reloading VRRP in place");
                match v.reload.send(config).await {
                    Ok(()) => {
                        v.fingerprint = fingerprint;
                        self.vrrp = Some(v);
                    }
                    Err(mpsc::error::SendError(config)) => {
                        // The core has stopped (logged why): start it afresh.
                        stop_vrrp(v).await;
                        self.vrrp = start_vrrp(config, &self.opts);
                    }
                }
            }
            None => {
                tracing::info!("VRRP configuration changed: starting VRRP");
                self.vrrp = start_vrrp(config, &self.opts);
            }
        }
    }

    async fn status(&mut self) -> Status {
        let kernel = self.read_kernel().await.unwrap_or_default();
        let vrrp = self
            .opts
            .vrrp_state_file
            .as_ref()
            .filter(|_| self.vrrp.is_some())
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
            .unwrap_or_default();
        Status {
            pid: std::process::id(),
            config_file: self.opts.config_file.display().to_string(),
            mode: if self.opts.checkers_only {
                "checkers-only".into()
            } else {
                "full".into()
            },
            reloads: self.reloads,
            last_reload_error: self.last_reload_error.clone(),
            ipvs_writes: self.ipvs_writes,
            reconcile_durations: self.reconcile_durations.clone(),
            vrrp,
            virtual_servers: status::snapshot(&self.director, &kernel, &|k| {
                self.pool.check_record(k)
            }),
            version: env!("CARGO_PKG_VERSION").into(),
            started_at: self.started_at,
            reload_failures: self.reload_failures,
            last_reload_success_at: self.last_reload_success_at,
            ipvs_programmed: Some(self.programmed.is_some()),
            checks: Some({
                let stats = self.pool.stats();
                let durations = stats.durations();
                status::CheckStats {
                    started: stats.checks_started(),
                    late_over_50ms: stats.late_over_50ms(),
                    max_lateness_seconds: stats.max_lateness().as_secs_f64(),
                    skipped: stats.checks_skipped(),
                    results: stats
                        .results()
                        .into_iter()
                        .map(|(kind, result, count)| status::CheckCount {
                            kind: kind.into(),
                            result: result.into(),
                            count,
                        })
                        .collect(),
                    durations: crate::histogram::Histogram::from_counts(
                        &checkers::runner::DURATION_BUCKETS,
                        &durations.buckets,
                        durations.sum_seconds,
                    ),
                    in_flight: stats.in_flight(),
                }
            }),
            announce: crate::announce::announcer::snapshot(),
            drift_repairs: self.drift_repairs,
            ipvs_operations: self
                .kernel
                .op_counts()
                .into_iter()
                .map(|(operation, result, count)| status::OpCount {
                    operation: operation.into(),
                    result: result.into(),
                    count,
                })
                .collect(),
            sync_daemons: self.sync.as_ref().map(|_| {
                if self.sync_both {
                    vec!["master".into(), "backup".into()]
                } else {
                    self.sync_running
                        .iter()
                        .map(|r| format!("{r:?}").to_ascii_lowercase())
                        .collect()
                }
            }),
        }
    }

    /// Writes the admin state file if the overrides changed.
    fn save_admin(&mut self) -> Result<(), String> {
        if !self.admin_dirty {
            return Ok(());
        }
        super::admin_file::save(&self.opts.admin_state_file, &self.director)?;
        self.admin_dirty = false;
        Ok(())
    }

    /// `lvsd ctl`: sets or clears an admin override, logs who asked,
    /// persists it and brings the table in line.
    async fn on_admin(&mut self, req: AdminRequest) {
        use crate::director::admin::{resolve, AdminOverride};
        let what = match req.admin {
            Some(a) => a.to_string(),
            None => "ready".into(),
        };
        let key = match resolve(self.director.spec(), &req.virtual_server, &req.real_server) {
            Ok(k) => k,
            Err(e) => {
                tracing::info!("ctl {what} by {}: refused: {e}", req.peer);
                let _ = req.reply.send(Reply::error(e));
                return;
            }
        };
        let before = self.director.admin(&key).map(|a| a.state);
        let admin = req.admin.map(|state| AdminOverride {
            state,
            set_by_uid: req.peer.uid,
            set_at: status::unix_now() as u64,
        });
        let actions = match self.director.set_admin(&key, admin) {
            Ok(a) => a,
            Err(e) => {
                let _ = req.reply.send(Reply::error(e));
                return;
            }
        };
        tracing::info!(
            "ctl: {key}: {what} (was {}), asked by {}",
            before.map_or("ready".into(), |b| b.to_string()),
            req.peer
        );
        self.admin_dirty = true;
        self.perform(actions);
        let saved = self.save_admin();
        self.reconcile_virtual_servers(&BTreeSet::from([key.virtual_server.clone()]))
            .await;
        let now = match req.admin {
            Some(crate::director::admin::AdminState::Drain) => {
                "drain: weight 0, its connections finish".to_owned()
            }
            Some(crate::director::admin::AdminState::Maint) => "maint: out of the table".into(),
            Some(crate::director::admin::AdminState::Weight(w)) => {
                format!("weight {w} while its checkers say up")
            }
            None => "ready: its checkers decide".into(),
        };
        let reply = match saved {
            Ok(()) => Reply::ok(format!("{key}: {now}")),
            Err(e) => {
                tracing::error!("{e}");
                Reply::error(format!(
                    "{key}: {now}, but not saved ({e}): it will not survive a restart"
                ))
            }
        };
        let _ = req.reply.send(reply);
    }

    async fn dump(&mut self) {
        let text = status::render(&self.status().await);
        let path = self.opts.data_file.clone();
        match std::fs::write(&path, text) {
            Ok(()) => tracing::info!("SIGUSR1: state written to {}", path.display()),
            Err(e) => tracing::error!("SIGUSR1: writing {}: {e}", path.display()),
        }
    }

    async fn drain_tick(&mut self) {
        if self.director.draining().next().is_none() {
            return;
        }
        let Some(kernel) = self.read_kernel().await else {
            return;
        };
        if self.director.drain_tick(self.now(), &kernel) {
            self.programmed = Some(scoped(&kernel, &self.scope()));
            self.reconcile().await;
        }
    }

    /// `lvs_sync_daemon IF` without a VRRP instance (N active directors,
    /// issue #17): as keepalived 2.2.7, the master and the backup sync
    /// daemon both run from start to stop, so every director sends its
    /// connections and receives the others'. Daemons already running with
    /// this interface and sync id are adopted; others of a role are
    /// stopped first.
    async fn start_sync_both(&mut self) {
        let Some(cfg) = self.sync.clone() else {
            return;
        };
        if cfg.instance.is_some() || self.sync_both {
            return;
        }
        let running = self.kernel.daemons().await.unwrap_or_default();
        let sync_id = u32::from(cfg.sync_id.unwrap_or(0));
        for role in [SyncState::Master, SyncState::Backup] {
            let of_role: Vec<&ipvs::model::SyncDaemon> =
                running.iter().filter(|d| d.state == role).collect();
            if of_role
                .iter()
                .any(|d| d.mcast_ifn == cfg.interface && d.sync_id == sync_id)
            {
                continue;
            }
            if !of_role.is_empty() {
                let _ = self.kernel.apply(&[ipvs::ops::Op::StopDaemon(role)]).await;
            }
            self.ipvs_writes += 1;
            match self
                .kernel
                .apply(&[ipvs::ops::Op::StartDaemon(sync_daemon::daemon(&cfg, role))])
                .await
            {
                Ok(()) => tracing::info!(
                    "lvs_sync_daemon: no VRRP instance: running the {role:?} sync daemon on {}",
                    cfg.interface
                ),
                Err(e) => {
                    tracing::error!("lvs_sync_daemon: {e}");
                    return;
                }
            }
        }
        self.sync_both = true;
    }

    async fn stop_sync_both(&mut self) {
        if !std::mem::take(&mut self.sync_both) {
            return;
        }
        for role in [SyncState::Master, SyncState::Backup] {
            self.ipvs_writes += 1;
            if let Err(e) = self.kernel.apply(&[ipvs::ops::Op::StopDaemon(role)]).await {
                tracing::error!("lvs_sync_daemon: {e}");
            }
        }
    }

    async fn follow_vrrp_for_sync_daemon(&mut self) {
        self.start_sync_both().await;
        let (Some(cfg), Some(path)) = (self.sync.clone(), self.opts.vrrp_state_file.clone()) else {
            return;
        };
        if self.vrrp.is_none() {
            return;
        }
        let Some(instance) = cfg.instance.clone() else {
            return;
        };
        let Some(state) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| sync_daemon::instance_state(&t, &instance))
        else {
            return;
        };
        let role = sync_daemon::role_for(&state);
        let ops = sync_daemon::switch(&cfg, self.sync_running, role);
        if ops.is_empty() {
            return;
        }
        tracing::info!("lvs_sync_daemon: {instance} is {state}: running the {role:?} sync daemon");
        self.ipvs_writes += ops.len() as u64;
        match self.kernel.apply(&ops).await {
            Ok(()) => self.sync_running = Some(role),
            Err(e) => tracing::error!("lvs_sync_daemon: {e}"),
        }
    }

    async fn shutdown(&mut self) {
        sd_notify::notify("STOPPING=1");
        // The routers first: withdraw, let them move the flows (drain delay).
        crate::announce::announcer::stop().await;
        let omega = self.director.stop_notifies();
        self.perform(omega);
        if let Some(v) = self.vrrp.take() {
            stop_vrrp(v).await;
        }
        if let Some(role) = self.sync_running.take() {
            let _ = self.kernel.apply(&[ipvs::ops::Op::StopDaemon(role)]).await;
        }
        self.stop_sync_both().await;
        publish(Event::Daemon { running: false });
        crate::events::sinks::stop().await;
        // As keepalived, even with --dont-release-ipvs: the timeouts go back.
        self.timeouts = crate::config::LvsTimeouts::default();
        self.apply_timeouts().await;
        if self.opts.dont_release_ipvs {
            tracing::info!("--dont-release-ipvs: leaving the IPVS table in place");
            return;
        }
        if self.flush.whole_table_at_stop {
            tracing::info!("lvs_flush_on_stop: flushing the whole IPVS table");
            if let Err(e) = self.kernel.apply(&[ipvs::ops::Op::Flush]).await {
                tracing::error!("lvs_flush_on_stop: {e}");
            }
            return;
        }
        let Some(kernel) = self.read_kernel().await else {
            return;
        };
        let ops = removal(
            &scoped(&kernel, &self.scope()),
            &self.director.configured_services(),
        );
        for op in &ops {
            tracing::info!("IPVS: {op}");
        }
        if let Err(e) = self.kernel.apply(&ops).await {
            tracing::error!("IPVS: removing our services: {e}");
        }
    }
}

fn signal_stream(kind: SignalKind, name: &str) -> Result<tokio::signal::unix::Signal, String> {
    signal(kind).map_err(|e| format!("installing the {name} handler: {e}"))
}

async fn serve<K: Kernel>(opts: Options, loaded: LoadedConfig, kernel: K) -> Result<(), String> {
    super::tuning::configure(&loaded.tuning);
    let runs_scripts = loaded.runs_scripts;
    let mut hup = signal_stream(SignalKind::hangup(), "SIGHUP")?;
    let mut term = signal_stream(SignalKind::terminate(), "SIGTERM")?;
    let mut int = signal_stream(SignalKind::interrupt(), "SIGINT")?;
    let mut usr1 = signal_stream(SignalKind::user_defined1(), "SIGUSR1")?;

    // Bound first: a status request during start-up waits instead of failing.
    let (status_tx, mut status_rx) = mpsc::channel::<StatusRequest>(16);
    let http = match opts.metrics_listen {
        Some(addr) => {
            let options = super::http::HttpOptions {
                detail: opts.metrics_detail,
            };
            match super::http::bind(addr, status_tx.clone(), options).await {
                Ok(h) => Some(h),
                Err(e) => return Err(format!("--metrics-listen {addr}: {e}")),
            }
        }
        None => None,
    };
    let (admin_tx, mut admin_rx) = mpsc::channel::<AdminRequest>(16);
    let control_options = ControlOptions {
        admin: Some(admin_tx),
        group: opts.control_group,
    };
    let control = match control::serve(&opts.control_socket, status_tx, control_options) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!("{e}; `lvsd status` will not work");
            None
        }
    };
    // Subscribers first: they see every event from the first one on.
    crate::events::sinks::configure(events_for(loaded.events.clone(), opts.checkers_only), false);
    crate::announce::announcer::configure(loaded.announce.clone());
    let (tx, mut transitions) = mpsc::unbounded_channel();
    // Adopt what the kernel already has: real servers start in the state
    // its table shows, so a restart with the same config writes nothing.
    let mut kernel = kernel;
    if loaded.flush.at_start {
        // keepalived's lvs_flush: start from an empty table, whoever's it was.
        tracing::info!("lvs_flush: flushing the IPVS table before the first table");
        if let Err(e) = kernel.apply(&[ipvs::ops::Op::Flush]).await {
            tracing::error!("lvs_flush: {e}");
        }
    }
    let at_start = match kernel.table().await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    };
    // The checks to start are asked for once the table is written.
    let mut director = match &at_start {
        Some(t) => Director::adopting_unchecked(loaded.director, t),
        None => Director::unchecked(loaded.director),
    };
    director.start_with_file_values(read_checked_files(&director.spec().track_files, true));
    // Operators' overrides from the last run, before the first table.
    let admin_dirty = super::admin_file::load_into(&opts.admin_state_file, &mut director);
    let (file_tx, mut file_values) = mpsc::channel(64);
    let programmed = at_start.map(|t| scoped(&t, &director.owned_services()));
    let mut d = Daemon {
        opts: opts.clone(),
        kernel,
        director,
        pool: CheckerPool::new(tx),
        programmed,
        heal_at: None,
        heal_backoff: Duration::ZERO,
        drift_check_at: Instant::now() + DRIFT_CHECK,
        drift_repairs: 0,
        previously_owned: BTreeSet::new(),
        ipvs_writes: 0,
        reconcile_durations: BTreeMap::new(),
        reloads: 0,
        reload_failures: 0,
        last_reload_error: None,
        started_at: status::unix_now(),
        last_reload_success_at: status::unix_now(),
        started: Instant::now(),
        vrrp: None,
        sync: loaded.sync,
        sync_running: None,
        sync_both: false,
        script_user: loaded.script_user,
        timeouts: loaded.timeouts,
        flush: loaded.flush,
        original_timeouts: None,
        applied_timeouts: None,
        file_watch: None,
        file_tx,
        events: loaded.events,
        admin_dirty,
    };
    if let Err(e) = d.save_admin() {
        tracing::error!("{e}");
    }
    d.apply_timeouts().await;
    d.watch_checked_files();
    d.reconcile().await;
    if d.programmed.is_some() {
        tracing::info!("IPVS table reconciled: {} writes", d.ipvs_writes);
    } else {
        tracing::warn!(
            "IPVS table not fully programmed ({} writes tried); the refused part is retried",
            d.ipvs_writes
        );
    }
    // Before the checkers (MISC_CHECK) and notify scripts start.
    if runs_scripts {
        start_spawn_helper(super::tuning::Role::Checker);
    }
    if let Some(cfg) = d.sync.clone() {
        if cfg.instance.is_some() {
            match d.kernel.daemons().await {
                Ok(running) => d.sync_running = sync_daemon::adopt(&cfg, &running),
                Err(e) => tracing::warn!("{e}"),
            }
        } else {
            d.start_sync_both().await;
        }
    }
    let initial_checks = d.director.initial_checks();
    d.perform(initial_checks);
    let init_notifies = d.director.init_notifies();
    d.perform(init_notifies);
    d.publish_initial_quorum();
    tracing::info!(
        "{} virtual servers, {} real servers checked; IPVS writes at start: {}",
        d.director.spec().virtual_servers.len(),
        d.pool.len(),
        d.ipvs_writes
    );
    if !opts.checkers_only {
        d.vrrp = start_vrrp(loaded.vrrp, &opts);
    }

    sd_notify::notify("READY=1");
    publish(Event::Daemon { running: true });
    tracing::info!("lvsd running (pid {})", std::process::id());

    // ha_suspend: the addresses on this machine, watched while some virtual
    // server asks for it (a reload that adds one starts the watch).
    let (addrs_tx, mut local_addrs) = mpsc::channel(4);
    let mut addr_watch = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if addr_watch.is_none()
            && d.director
                .spec()
                .virtual_servers
                .iter()
                .any(|v| v.ha_suspend)
        {
            addr_watch = Some(tokio::spawn(crate::local_addrs::watch(addrs_tx.clone())));
        }
        tokio::select! {
            Some(t) = transitions.recv() => d.on_transitions(t, &mut transitions).await,
            Some(addrs) = local_addrs.recv() => {
                let actions = d.director.set_local_addresses(addrs);
                d.perform(actions);
            }
            Some((name, value)) = file_values.recv() => d.on_file_value(&name, value).await,
            _ = hup.recv() => d.reload().await,
            _ = usr1.recv() => d.dump().await,
            Some(req) = admin_rx.recv() => d.on_admin(req).await,
            Some(req) = status_rx.recv() => {
                let s = d.status().await;
                let _ = req.send(s);
            }
            _ = tick.tick() => {
                sd_notify::watchdog();
                // A failed apply left the kernel unknown: re-read and heal.
                if d.programmed.is_none() && d.heal_at.is_none_or(|t| Instant::now() >= t) {
                    d.reconcile().await;
                }
                d.drain_tick().await;
                d.check_drift().await;
                d.follow_vrrp_for_sync_daemon().await;
            }
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
        }
    }
    if let Some(w) = addr_watch {
        w.abort();
    }
    d.shutdown().await;
    if let Some(c) = control {
        c.abort();
    }
    if let Some(h) = http {
        h.abort();
    }
    let _ = std::fs::remove_file(&opts.control_socket);
    Ok(())
}

/// For `lvsd status`: the default control socket path.
pub fn default_socket() -> &'static Path {
    Path::new(control::DEFAULT_SOCKET)
}
