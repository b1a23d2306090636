//! `lvsd status`: ask a running lvsd for its state over the control socket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::daemon::control::{self, DEFAULT_SOCKET};
use crate::daemon::status::render;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's control socket (`lvsd run --control-socket`).
    #[arg(short = 's', long = "socket", value_name = "PATH", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print the snapshot as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn execute(args: StatusArgs) -> ExitCode {
    let status = match super::ask_daemon(control::fetch(&args.socket)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.json {
        match serde_json::to_string_pretty(&status) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("lvsd: error: {e}");
                return ExitCode::from(super::EXIT_ERROR);
            }
        }
    } else {
        print!("{}", render(&status));
    }
    ExitCode::SUCCESS
}
