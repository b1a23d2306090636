//! The daemon runtime (thin): loads the configuration, runs the VRRP runner,
//! the health checkers and the director loop on one tokio runtime, turns
//! signals into events (SIGHUP reload, SIGTERM/SIGINT stop, SIGUSR1 dump)
//! and serves the status on a control socket.

pub mod admin_file;
pub mod checks;
pub mod control;
pub mod http;
pub mod kernel;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod page;
pub mod prepare;
pub mod runtime;
pub mod sd_notify;
pub mod status;
pub mod sync_daemon;
pub mod tuning;

use std::path::PathBuf;
use std::process::ExitCode;

pub use runtime::run;

/// Default path of the SIGUSR1 state dump (keepalived writes /tmp/keepalived.data).
pub const DEFAULT_DATA_FILE: &str = "/tmp/lvsd.data";

/// How `lvsd run` was asked to behave.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_file: PathBuf,
    pub config_id: Option<String>,
    /// `-C`: checkers and IPVS only, no VRRP.
    pub checkers_only: bool,
    pub dont_release_vrrp: bool,
    pub dont_release_ipvs: bool,
    pub pid_file: Option<PathBuf>,
    pub data_file: PathBuf,
    pub control_socket: PathBuf,
    /// Where the VRRP runner writes its instance snapshots (status, sync daemon).
    pub vrrp_state_file: Option<PathBuf>,
    /// `--strict`: a configuration with warnings is refused (at start and on reload).
    pub strict: bool,
    /// `--metrics-listen`: serve `/metrics`, the status page and health checks here.
    pub metrics_listen: Option<std::net::SocketAddr>,
    pub metrics_detail: metrics::RealServerDetail,
    /// `--admin-state-file`: where `lvsd ctl` overrides are kept.
    pub admin_state_file: PathBuf,
    /// `--control-group`: a group whose members may change state.
    pub control_group: Option<u32>,
    /// `--ssl-verify-ca`: SSL_GET verifies against `SSL { ca }`.
    pub ssl_verify_ca: bool,
}

/// Exit status of a daemon that could not start.
pub const EXIT_START_FAILED: u8 = 2;

/// (Printed, not logged: the log also goes to stderr, and this must show
/// even with logging filtered off.)
pub(crate) fn failed(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("lvsd: error: {e}");
    ExitCode::from(EXIT_START_FAILED)
}
