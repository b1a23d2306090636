//! `lvsd genhash`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct GenhashArgs {}

pub fn execute(_args: GenhashArgs) -> ExitCode {
    eprintln!("lvsd: error: 'genhash' is not built yet");
    ExitCode::from(super::EXIT_ERROR)
}
