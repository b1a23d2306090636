//! `lvsd withdraw`: delete every route of lvsd's from its announce table
//! (`route_announce`), for `ExecStopPost=` so that a crashed or killed lvsd
//! stops attracting traffic too. Reads the table and protocol numbers from
//! the configuration, or takes them as options.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::{self, ConfigOptions};

#[derive(Debug, Args)]
pub struct WithdrawArgs {
    /// The configuration whose `route_announce` names the table.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = config::DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// The table, instead of the configuration's.
    #[arg(long, value_name = "N")]
    pub table: Option<u32>,
    /// The routes' protocol number, instead of the configuration's.
    #[arg(long, value_name = "N")]
    pub protocol: Option<u8>,
    /// Withdraw even when the configuration says `withdraw_on_exit no`.
    #[arg(long)]
    pub force: bool,
}

pub fn execute(args: WithdrawArgs) -> ExitCode {
    let (table, protocol) = match (args.table, args.protocol) {
        (Some(t), Some(p)) => (t, p),
        (t, p) => {
            let loaded = match config::load(&args.config, &ConfigOptions::default()) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("lvsd: error: {}: {e}", args.config.display());
                    return ExitCode::from(super::EXIT_ERROR);
                }
            };
            let Some(r) = loaded.config.route_announce.as_ref() else {
                eprintln!(
                    "lvsd withdraw: {} has no route_announce block: nothing to withdraw",
                    args.config.display()
                );
                return ExitCode::SUCCESS;
            };
            if !r.withdraw_on_exit && !args.force {
                println!(
                    "lvsd withdraw: {} says withdraw_on_exit no: the routes stay (--force withdraws)",
                    args.config.display()
                );
                return ExitCode::SUCCESS;
            }
            (t.unwrap_or(r.table), p.unwrap_or(r.protocol))
        }
    };
    let withdraw = async {
        let t = crate::announce::routes::AnnounceTable::open(table, protocol).await?;
        t.withdraw_all().await
    };
    let rt = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match rt.block_on(withdraw) {
        Ok(n) => {
            println!(
                "lvsd withdraw: {n} route(s) deleted from table {table} (protocol {protocol})"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("lvsd: error: {e}");
            ExitCode::from(1)
        }
    }
}
