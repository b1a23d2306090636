//! `lvsd ctl`: runtime operations on a running lvsd over its control socket
//! (drain, maint, ready, weight of one real server).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::daemon::control::{self, Request, DEFAULT_SOCKET};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The daemon's control socket (`lvsd run --control-socket`).
    #[arg(short = 's', long = "socket", value_name = "PATH", default_value = DEFAULT_SOCKET, global = true)]
    pub socket: PathBuf,
    /// Print the daemon's reply as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub op: CtlOp,
}

/// The real server to change, named as `lvsd status` names it.
#[derive(Debug, Args)]
pub struct Target {
    /// The virtual server: `10.0.0.100:80 TCP` (the protocol may be left
    /// out when only one has that address), `[2001:db8::1]:80 TCP`,
    /// `fwmark 7`, `group NAME`, with or without `virtual_server` in front.
    #[arg(value_name = "VS")]
    pub vs: String,
    /// The real server: `10.0.0.4:80`, `[2001:db8::4]:80`, or the address
    /// alone when one port of it serves that virtual server.
    #[arg(value_name = "RS")]
    pub rs: String,
}

#[derive(Debug, Subcommand)]
pub enum CtlOp {
    /// Weight 0: no new connections, the existing ones finish; kept in the table.
    Drain(Target),
    /// Out of the table (maintenance).
    Maint(Target),
    /// Back to the checkers' verdict (clears drain, maint and weight).
    Ready(Target),
    /// This weight while its checkers say up.
    Weight {
        #[command(flatten)]
        target: Target,
        /// 0..2147483647.
        #[arg(value_parser = clap::value_parser!(i64).range(0..=i64::from(i32::MAX)))]
        weight: i64,
    },
}

fn request(op: CtlOp) -> Request {
    let (command, t, weight) = match op {
        CtlOp::Drain(t) => ("drain", t, None),
        CtlOp::Maint(t) => ("maint", t, None),
        CtlOp::Ready(t) => ("ready", t, None),
        CtlOp::Weight { target, weight } => ("weight", target, Some(weight)),
    };
    Request {
        command: command.into(),
        virtual_server: Some(t.vs),
        real_server: Some(t.rs),
        weight,
    }
}

/// Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
pub fn execute(args: CtlArgs) -> ExitCode {
    let reply = match super::ask_daemon(control::send(&args.socket, &request(args.op))) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.json {
        match serde_json::to_string(&reply) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("lvsd: error: {e}"),
        }
    }
    if reply.ok {
        if !args.json {
            println!("{}", reply.message.unwrap_or_default());
        }
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "lvsd: error: {}",
            reply.error.unwrap_or_else(|| "refused".into())
        );
        ExitCode::from(1)
    }
}
