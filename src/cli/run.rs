//! `lvsd run`: keepalived's command line; `-P` runs the VRRP core alone.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::vrrp::runner::{self, RunnerOptions};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

#[derive(Debug, Args)]
// The last of a repeated option wins, as with keepalived's getopt (a unit's -f and
// one in /etc/default/keepalived's DAEMON_ARGS).
#[command(args_override_self = true)]
pub struct RunArgs {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub use_file: PathBuf,
    /// Only run the VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,
    /// Only run the health-checker (IPVS) subsystem.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Don't fork the daemon process (lvsd always runs in the foreground; accepted for compatibility).
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Log messages to the local console (stderr): the default; with -S, to stderr as well as syslog.
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages (debug level; twice: trace).
    #[arg(short = 'D', long = "log-detail", action = clap::ArgAction::Count)]
    pub log_detail: u8,
    /// Write the daemon's pid to FILE.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// Don't remove VRRP VIPs and VROUTEs on daemon stop.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Don't remove the IPVS topology on daemon stop.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Check the configuration for obvious errors and exit (problems to stderr, or appended to LOG_FILE).
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1,
          require_equals = true)]
    pub config_test: Option<Option<PathBuf>>,
    /// lvsd extension: refuse a configuration with warnings (with -t: report them as
    /// errors, exit 1). Warnings are what keepalived logs and runs anyway: values it
    /// falls back on, unknown keywords, look-alike spaces, repairs.
    #[arg(long)]
    pub strict: bool,
    /// Use configuration id ID (for `@ID` conditional lines); defaults to the short hostname.
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// lvsd extension: write a JSON snapshot of every VRRP instance (state,
    /// priorities, master, counters, conflicts) to FILE whenever it changes.
    #[arg(long = "vrrp-state-file", value_name = "FILE")]
    pub vrrp_state_file: Option<PathBuf>,
    /// lvsd extension: where SIGUSR1 writes the human-readable state dump.
    #[arg(long = "data-file", value_name = "FILE", default_value = crate::daemon::DEFAULT_DATA_FILE)]
    pub data_file: PathBuf,
    /// lvsd extension: the control socket `lvsd status` and `lvsd metrics`
    /// read [default: /run/lvsd/lvsd.sock; with -P, none unless given].
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// lvsd extension: members of GROUP (name or number) may change state
    /// over the control socket (`lvsd ctl`), besides root; the socket is
    /// made group GROUP, group read/write.
    #[arg(long = "control-group", value_name = "GROUP")]
    pub control_group: Option<String>,
    /// lvsd extension: where `lvsd ctl` overrides are kept across reloads
    /// and restarts [default: lvsd.admin.json next to the control socket].
    #[arg(long = "admin-state-file", value_name = "FILE")]
    pub admin_state_file: Option<PathBuf>,
    /// lvsd extension: serve Prometheus `/metrics`, the status page `/`,
    /// `/status.json`, `/healthz` and `/healthz/master/INSTANCE` on ADDR:PORT
    /// (off by default; the documented port is 9662, e.g. 127.0.0.1:9662).
    #[arg(long = "metrics-listen", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// lvsd extension: export only `lvsd_real_server_up` and
    /// `lvsd_real_server_weight` per real server (pools in the thousands).
    #[arg(long = "metrics-minimal-real-servers")]
    pub metrics_minimal_real_servers: bool,
    /// lvsd extension: SSL_GET verifies real servers' certificates against
    /// the `SSL { ca }` file (keepalived loads it and verifies nothing; the
    /// certificates must then name the address or the SNI virtualhost).
    #[arg(long = "ssl-verify-ca")]
    pub ssl_verify_ca: bool,
    /// The rest of keepalived's options (logging, pid files, namespace, ...).
    #[command(flatten)]
    pub keepalived: super::keepalived::KeepalivedOptions,
}

pub fn execute(args: RunArgs) -> ExitCode {
    // keepalived's -v, --signum, -t=LOG_FILE, logging (-l, -D, -S, -G, -g) and notices.
    if let Some(code) = super::keepalived::start(&args) {
        return code;
    }
    if args.config_test.is_some() {
        if args.keepalived.as_keepalived {
            return super::keepalived::config_test(
                &args.use_file,
                args.keepalived.dump_conf,
                args.config_id.as_deref(),
            );
        }
        return super::check_config::check(
            &args.use_file,
            args.strict,
            false,
            args.config_id.as_deref(),
        );
    }
    raise_open_files_limit();
    if !crate::daemon::memory::tune_malloc() {
        tracing::debug!("malloc's thresholds left at their defaults");
    }
    // -e, -u, -m/-M, -s, -d, and -r/-c/-b pid files (removed when `_process` drops).
    let _process = match super::keepalived::prepare_daemon(&args) {
        Ok(guard) => guard,
        Err(code) => return code,
    };
    run_director(args)
}

/// The daemon proper: the whole director, checkers only (-C) or VRRP only (-P).
fn run_director(args: RunArgs) -> ExitCode {
    if !args.vrrp {
        // The whole director, or checkers + IPVS only with -C.
        let control_socket = args
            .control_socket
            .clone()
            .unwrap_or_else(|| PathBuf::from(crate::daemon::control::DEFAULT_SOCKET));
        let vrrp_state_file = args
            .vrrp_state_file
            .clone()
            .or_else(|| Some(control_socket.with_extension("vrrp.json")));
        let metrics_detail = detail(&args);
        let control_group = match args.control_group.as_deref().map(group_id).transpose() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("lvsd: error: --control-group: {e}");
                return ExitCode::from(super::EXIT_ERROR);
            }
        };
        let admin_state_file = args.admin_state_file.clone().unwrap_or_else(|| {
            control_socket.with_file_name(crate::daemon::admin_file::DEFAULT_FILE_NAME)
        });
        return crate::daemon::run(crate::daemon::Options {
            config_file: args.use_file,
            config_id: args.config_id,
            checkers_only: args.check,
            dont_release_vrrp: args.dont_release_vrrp,
            dont_release_ipvs: args.dont_release_ipvs,
            pid_file: args.pid,
            data_file: args.data_file,
            control_socket,
            vrrp_state_file,
            strict: args.strict,
            metrics_listen: args.metrics_listen,
            metrics_detail,
            admin_state_file,
            control_group,
            ssl_verify_ca: args.ssl_verify_ca,
        });
    }

    let (vrrp, events, tuning) =
        match load_vrrp(&args.use_file, args.config_id.as_deref(), args.strict) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("lvsd: error: {e}");
                return ExitCode::from(super::EXIT_ERROR);
            }
        };
    if let Some(pid) = &args.pid {
        if let Err(e) = std::fs::write(pid, format!("{}\n", std::process::id())) {
            eprintln!("lvsd: error: writing pid file {}: {e}", pid.display());
            return ExitCode::from(super::EXIT_ERROR);
        }
    }
    crate::daemon::runtime::start_spawn_helper(crate::daemon::tuning::Role::Vrrp);
    // -P: the whole process is keepalived's VRRP process (vrrp_priority,
    // vrrp_rt_priority, ... apply to every thread).
    use crate::daemon::tuning::{self, Role};
    tuning::register_current_deferred(Role::Vrrp);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(|| tuning::register_current(Role::Vrrp))
        .on_thread_stop(tuning::unregister_current)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lvsd: error: starting the runtime: {e}");
            return ExitCode::from(super::EXIT_ERROR);
        }
    };
    // Observed (control socket or --metrics-listen): the runner's snapshots
    // go to a state file, which the status is read from.
    let observed = args.control_socket.is_some() || args.metrics_listen.is_some();
    // (Not the full daemon's default file: both may run side by side.)
    let state_file = args.vrrp_state_file.clone().or_else(|| {
        observed.then(|| match &args.control_socket {
            Some(sock) => sock.with_extension("vrrp.json"),
            None => PathBuf::from(VRRP_ONLY_STATE_FILE),
        })
    });
    if let Some(dir) = state_file.as_deref().and_then(std::path::Path::parent) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("lvsd: error: creating {}: {e}", dir.display());
            return ExitCode::from(super::EXIT_ERROR);
        }
    }
    let options = RunnerOptions {
        state_file: state_file.clone(),
        dont_release_vrrp: args.dont_release_vrrp,
    };
    let reload_record = std::sync::Arc::new(std::sync::Mutex::new(vrrp_only::Reloads::new()));
    let (reload_tx, reloads) = tokio::sync::mpsc::channel(4);
    let use_file = args.use_file.clone();
    let config_id = args.config_id.clone();
    let strict = args.strict;
    let record = reload_record.clone();
    let result = rt.block_on(async {
        tuning::configure(&tuning);
        let observers = match vrrp_only::observe(&args, state_file, reload_record).await {
            Ok(o) => o,
            Err(e) => return Err(e),
        };
        // SIGHUP: re-read the file and reload VRRP in place; a file that
        // fails to load leaves the running configuration untouched.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading {}", use_file.display());
                        match load_vrrp(&use_file, config_id.as_deref(), strict) {
                            Ok((v, events, tuning)) => {
                                tuning::configure(&tuning);
                                vrrp_only::Reloads::record(&record, None);
                                if reload_tx.send(v).await.is_err() {
                                    return;
                                }
                                crate::events::sinks::configure(events, true);
                                crate::events::publish(crate::events::Event::Reload {
                                    error: None,
                                });
                            }
                            Err(e) => {
                                tracing::error!(
                                    "reload refused, the running configuration stays: {e}"
                                );
                                vrrp_only::Reloads::record(&record, Some(e.to_string()));
                                crate::events::publish(crate::events::Event::Reload {
                                    error: Some(e.to_string()),
                                });
                            }
                        }
                    }
                });
            }
            Err(e) => tracing::error!("cannot install the SIGHUP handler: {e}"),
        }
        // Installed now, not when the runner first waits on `shutdown`: a SIGTERM during
        // start-up (the VIPs may be up already) must stop lvsd cleanly, not kill it.
        use tokio::signal::unix::{signal, SignalKind};
        let handlers = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        let shutdown = async {
            match handlers {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                        _ = int.recv() => tracing::info!("SIGINT: stopping"),
                    }
                }
                _ => {
                    tracing::error!("cannot install signal handlers; stop with SIGKILL");
                    std::future::pending::<()>().await;
                }
            }
        };
        // keepalived starts once its startup_script has ended.
        let start_stop = vrrp.start_stop.clone();
        if let Some((cmd, timeout)) = &start_stop.startup {
            runner::run_start_stop_script("startup_script", cmd, *timeout).await;
        }
        crate::events::sinks::configure(events, true);
        crate::events::publish(crate::events::Event::Daemon { running: true });
        let runner = runner::run_reloadable(vrrp, options, reloads, shutdown);
        tokio::pin!(runner);
        // Tuned (vrrp_rt_priority, ...) once its start-up is done.
        let result = tokio::select! {
            r = &mut runner => r,
            () = tokio::time::sleep(tuning::VRRP_STARTUP_GRACE) => {
                tuning::activate_current();
                runner.await
            }
        };
        for task in observers {
            task.abort();
        }
        if let Some((cmd, timeout)) = &start_stop.shutdown {
            runner::run_start_stop_script("shutdown_script", cmd, *timeout).await;
        }
        crate::events::publish(crate::events::Event::Daemon { running: false });
        crate::events::sinks::stop().await;
        result.map_err(|e| e.to_string())
    });
    if let Some(pid) = &args.pid {
        let _ = std::fs::remove_file(pid);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvsd: error: {e}");
            ExitCode::from(super::EXIT_ERROR)
        }
    }
}

/// Where `lvsd run -P --metrics-listen` keeps the VRRP snapshots the
/// listener reads, without `--control-socket` or `--vrrp-state-file`.
const VRRP_ONLY_STATE_FILE: &str = "/run/lvsd/lvsd-vrrp-only.json";

fn detail(args: &RunArgs) -> crate::daemon::metrics::RealServerDetail {
    if args.metrics_minimal_real_servers {
        crate::daemon::metrics::RealServerDetail::Minimal
    } else {
        crate::daemon::metrics::RealServerDetail::Full
    }
}

/// `lvsd run -P` observed: its status is the VRRP runner's snapshots.
mod vrrp_only {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use super::RunArgs;
    use crate::daemon::control::{self, StatusRequest};
    use crate::daemon::http;
    use crate::daemon::status::{unix_now, Status};

    /// What reloads did, for the status.
    #[derive(Debug)]
    pub struct Reloads {
        started_at: f64,
        ok: u64,
        failed: u64,
        last_error: Option<String>,
        last_success_at: f64,
    }

    impl Reloads {
        pub fn new() -> Reloads {
            let now = unix_now();
            Reloads {
                started_at: now,
                ok: 0,
                failed: 0,
                last_error: None,
                last_success_at: now,
            }
        }

        pub fn record(shared: &Mutex<Reloads>, error: Option<String>) {
            let Ok(mut r) = shared.lock() else { return };
            match error {
                None => {
                    r.ok += 1;
                    r.last_success_at = unix_now();
                }
                Some(_) => r.failed += 1,
            }
            r.last_error = error;
        }
    }

    fn status(args_file: &str, state_file: Option<&PathBuf>, reloads: &Mutex<Reloads>) -> Status {
        let vrrp = state_file
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
            .unwrap_or_default();
        let mut s = Status {
            pid: std::process::id(),
            config_file: args_file.to_owned(),
            mode: "vrrp-only".into(),
            vrrp,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Status::default()
        };
        // (Never held across an await.)
        if let Ok(r) = reloads.lock() {
            s.started_at = r.started_at;
            s.reloads = r.ok;
            s.reload_failures = r.failed;
            s.last_reload_error = r.last_error.clone();
            s.last_reload_success_at = r.last_success_at;
        }
        s
    }

    /// Starts the control socket and the HTTP listener asked for, and the
    /// task answering their status requests.
    pub async fn observe(
        args: &RunArgs,
        state_file: Option<PathBuf>,
        reloads: Arc<Mutex<Reloads>>,
    ) -> Result<Vec<JoinHandle<()>>, String> {
        let mut tasks = Vec::new();
        if args.control_socket.is_none() && args.metrics_listen.is_none() {
            return Ok(tasks);
        }
        let (tx, mut rx) = mpsc::channel::<StatusRequest>(16);
        let file = args.use_file.display().to_string();
        tasks.push(tokio::spawn(async move {
            while let Some(req) = rx.recv().await {
                let _ = req.send(status(&file, state_file.as_ref(), &reloads));
            }
        }));
        if let Some(path) = &args.control_socket {
            let options = control::ControlOptions {
                admin: None,
                group: None,
            };
            tasks.push(control::serve(path, tx.clone(), options).map_err(|e| e.to_string())?);
        }
        if let Some(addr) = args.metrics_listen {
            let options = http::HttpOptions {
                detail: super::detail(args),
            };
            let h = http::bind(addr, tx, options)
                .await
                .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
            tasks.push(h);
        }
        Ok(tasks)
    }
}

/// Every checker holds a socket while it runs, so a pool of thousands of
/// real servers outgrows the usual limits of 1024 (soft) or 4096 (hard) open
/// files; running out would make checks fail and take healthy servers out.
/// Raise the limit to at least [`OPEN_FILES_WANTED`] where the process may
/// (root, as keepalived raises its own), else the soft limit to the hard one.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(limits) => limits,
        Err(e) => {
            tracing::warn!("cannot read the open files limit: {e}");
            return;
        }
    };
    let wanted = hard.max(OPEN_FILES_WANTED);
    if soft >= wanted {
        return;
    }
    if setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted).is_ok() {
        tracing::debug!("open files limit raised from {soft}/{hard} to {wanted}");
        return;
    }
    if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::debug!("open files limit raised from {soft} to {hard}"),
            Err(e) => tracing::warn!("cannot raise the open files limit from {soft}: {e}"),
        }
    }
}

/// The gid of `--control-group` (a name, or a number).
fn group_id(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("no group {name:?}")),
        Err(e) => Err(format!("looking up group {name:?}: {e}")),
    }
}

/// Open files `lvsd run` asks for (the systemd unit's LimitNOFILE too).
const OPEN_FILES_WANTED: u64 = 65536;

/// `lvsd run -P`'s loader: the VRRP part of the file, its scripts vetted as
/// keepalived vets them at each (re)load.
fn load_vrrp(
    path: &std::path::Path,
    config_id: Option<&str>,
    strict: bool,
) -> Result<
    (
        crate::vrrp::runner::VrrpConfig,
        crate::events::sinks::EventsConfig,
        crate::daemon::tuning::Tuning,
    ),
    crate::vrrp::translate::TranslateError,
> {
    let (mut vrrp, (mut events, tuning)) =
        crate::vrrp::translate::load_file_with(path, config_id, strict, |c| {
            let tuning = crate::daemon::tuning::Tuning {
                vrrp: c.global.vrrp_tuning.clone(),
                // No checkers in -P (keepalived starts no checker process).
                checker: Default::default(),
            };
            (crate::events::sinks::translate(c), tuning)
        })?;
    let mut vetting = crate::script_security::Vetting::new(vrrp.script_security);
    vetting.vrrp(&mut vrrp);
    vetting.events(&mut events);
    vetting.log();
    Ok((vrrp, events, tuning))
}
