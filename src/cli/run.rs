//! `lvsd run`: keepalived's command line; `-P` runs the VRRP core alone.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::vrrp::runner::{self, RunnerOptions};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

#[derive(Debug, Args)]
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
    /// Log messages to the local console (lvsd always logs to stderr; accepted for compatibility).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages (debug level).
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Write the daemon's pid to FILE.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,
    /// Don't remove VRRP VIPs and VROUTEs on daemon stop.
    #[arg(long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Don't remove the IPVS topology on daemon stop.
    #[arg(long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Check the configuration for obvious errors and exit.
    #[arg(short = 't', long = "config-test")]
    pub config_test: bool,
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
    /// lvsd extension: the control socket `lvsd status` reads.
    #[arg(long = "control-socket", value_name = "PATH", default_value = crate::daemon::control::DEFAULT_SOCKET)]
    pub control_socket: PathBuf,
}

pub fn execute(args: RunArgs) -> ExitCode {
    let level = if args.log_detail { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // No colour codes in log files and journald, only on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    if !args.config_test {
        raise_open_files_limit();
    }

    if args.config_test {
        return super::check_config::check(&args.use_file, false, false, args.config_id.as_deref());
    }
    if !args.vrrp {
        // The whole director, or checkers + IPVS only with -C.
        let vrrp_state_file = args
            .vrrp_state_file
            .clone()
            .or_else(|| Some(args.control_socket.with_extension("vrrp.json")));
        return crate::daemon::run(crate::daemon::Options {
            config_file: args.use_file,
            config_id: args.config_id,
            checkers_only: args.check,
            dont_release_vrrp: args.dont_release_vrrp,
            dont_release_ipvs: args.dont_release_ipvs,
            pid_file: args.pid,
            data_file: args.data_file,
            control_socket: args.control_socket,
            vrrp_state_file,
        });
    }

    let (vrrp, events) = match load_vrrp(&args.use_file, args.config_id.as_deref()) {
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
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lvsd: error: starting the runtime: {e}");
            return ExitCode::from(super::EXIT_ERROR);
        }
    };
    let options = RunnerOptions {
        state_file: args.vrrp_state_file.clone(),
        dont_release_vrrp: args.dont_release_vrrp,
    };
    let (reload_tx, reloads) = tokio::sync::mpsc::channel(4);
    let use_file = args.use_file.clone();
    let config_id = args.config_id.clone();
    let result = rt.block_on(async {
        // SIGHUP: re-read the file and reload VRRP in place; a file that
        // fails to load leaves the running configuration untouched.
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading {}", use_file.display());
                        match load_vrrp(&use_file, config_id.as_deref()) {
                            Ok((v, events)) => {
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
        crate::events::sinks::configure(events, true);
        crate::events::publish(crate::events::Event::Daemon { running: true });
        let result = runner::run_reloadable(vrrp, options, reloads, shutdown).await;
        crate::events::publish(crate::events::Event::Daemon { running: false });
        crate::events::sinks::stop().await;
        result
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

/// Open files `lvsd run` asks for (the systemd unit's LimitNOFILE too).
const OPEN_FILES_WANTED: u64 = 65536;

/// `lvsd run -P`'s loader: the VRRP part of the file, its scripts vetted as
/// keepalived vets them at each (re)load.
fn load_vrrp(
    path: &std::path::Path,
    config_id: Option<&str>,
) -> Result<
    (
        crate::vrrp::runner::VrrpConfig,
        crate::events::sinks::EventsConfig,
    ),
    crate::vrrp::translate::TranslateError,
> {
    let (mut vrrp, mut events) = crate::vrrp::translate::load_file_with(path, config_id, |c| {
        crate::events::sinks::translate(c)
    })?;
    let mut vetting = crate::script_security::Vetting::new(vrrp.script_security);
    vetting.vrrp(&mut vrrp);
    vetting.events(&mut events);
    vetting.log();
    Ok((vrrp, events))
}
