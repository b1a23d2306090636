//! `lvsd list`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ListArgs {}

pub fn execute(_args: ListArgs) -> ExitCode {
    eprintln!("lvsd: error: 'list' is not built yet");
    ExitCode::from(super::EXIT_ERROR)
}
