//! `lvsd metrics`: the `/metrics` exposition of a running lvsd, from the
//! snapshot on its control socket (for node_exporter's textfile collector).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::daemon::control::{self, DEFAULT_SOCKET};
use crate::daemon::metrics::{self, Format, RealServerDetail};

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The daemon's control socket (`lvsd run --control-socket`).
    #[arg(short = 's', long = "socket", value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print OpenMetrics text instead of Prometheus text 0.0.4.
    #[arg(long)]
    pub openmetrics: bool,
    /// Only `up` and `weight` per real server.
    #[arg(long = "minimal-real-servers")]
    pub minimal_real_servers: bool,
}

pub fn execute(args: MetricsArgs) -> ExitCode {
    let status = match super::ask_daemon(control::fetch(&args.socket)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let format = if args.openmetrics {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    };
    let options = metrics::Options {
        detail: if args.minimal_real_servers {
            RealServerDetail::Minimal
        } else {
            RealServerDetail::Full
        },
        // The daemon's process, read from /proc by its pid.
        process: true,
    };
    print!("{}", metrics::render(&status, format, options));
    ExitCode::SUCCESS
}
