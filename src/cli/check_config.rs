//! `lvsd check-config`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct CheckConfigArgs {}

pub fn execute(_args: CheckConfigArgs) -> ExitCode {
    eprintln!("lvsd: error: 'check-config' is not built yet");
    ExitCode::from(super::EXIT_ERROR)
}
