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

/// VS as `lvsd status` names it: `10.0.0.100:80 TCP` (the protocol may be
/// left out when only one has that address), `fwmark 7`, `group NAME`,
/// with or without `virtual_server` in front. RS: `10.0.0.4:80`,
/// `[2001:db8::4]:80`, or the address alone when one port has it.
#[derive(Debug, Subcommand)]
pub enum CtlOp {
    /// Weight 0: no new connections, the existing ones finish; kept in the table.
    Drain { vs: String, rs: String },
    /// Out of the table (maintenance).
    Maint { vs: String, rs: String },
    /// Back to the checkers' verdict (clears drain, maint and weight).
    Ready { vs: String, rs: String },
    /// This weight while its checkers say up.
    Weight {
        vs: String,
        rs: String,
        #[arg(value_parser = clap::value_parser!(i64).range(0..=i64::from(i32::MAX)))]
        weight: i64,
    },
}

fn request(op: CtlOp) -> Request {
    let (command, vs, rs, weight) = match op {
        CtlOp::Drain { vs, rs } => ("drain", vs, rs, None),
        CtlOp::Maint { vs, rs } => ("maint", vs, rs, None),
        CtlOp::Ready { vs, rs } => ("ready", vs, rs, None),
        CtlOp::Weight { vs, rs, weight } => ("weight", vs, rs, Some(weight)),
    };
    Request {
        command: command.into(),
        virtual_server: Some(vs),
        real_server: Some(rs),
        weight,
    }
}

/// Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.
pub fn execute(args: CtlArgs) -> ExitCode {
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
    let reply = match rt.block_on(control::send(&args.socket, &request(args.op))) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsd: error: {e} (is lvsd running?)");
            return ExitCode::from(1);
        }
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
