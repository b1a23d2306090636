//! `lvsd run`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct RunArgs {}

pub fn execute(_args: RunArgs) -> ExitCode {
    eprintln!("lvsd: error: 'run' is not built yet");
    ExitCode::from(super::EXIT_ERROR)
}
