//! `lvsd check-config`: load a keepalived.conf, report every problem, optionally dump it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::config::{self, ConfigOptions};

/// Exit status when the configuration cannot be used.
pub const EXIT_INVALID: u8 = 1;

#[derive(Debug, Args)]
#[command(
    about = "Check a keepalived.conf and report every problem with file:line:column",
    long_about = "Reads a keepalived.conf (following include, @conditional lines, $PARAMETERS \
                  and ~SEQ/~LST blocks as keepalived does), checks it and prints every error \
                  and warning to stderr as file:line:column: severity: message, with the \
                  source line and a caret. Exits 0 if the configuration is usable, 1 if not.",
    after_help = "Problems are printed to stderr as FILE:LINE:COLUMN: error|warning: MESSAGE, \
                  followed by the source line and a caret under the token. Warnings are what \
                  keepalived 2.2.7 logs and runs anyway, and lvsd runs the same way: values it \
                  falls back on (the message says what both do), unknown or unsupported \
                  keywords, look-alike spaces inside words, repairs. They do not make a \
                  configuration unusable unless --strict is given, which makes every warning \
                  an error (`lvsd run --strict` refuses to start or reload on them too). \
                  Errors include every check `lvsd run` makes before starting.\n\n\
                  Exit status: 0 the configuration is usable, 1 it is not (or --strict and \
                  there are warnings), 2 usage error.\n\n\
                  `lvsd run -t` performs the same check, like `keepalived -t`."
)]
pub struct CheckConfigArgs {
    /// Configuration file to check.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = config::DEFAULT_CONFIG_PATH)]
    pub file: PathBuf,
    /// Treat every warning as an error (exit 1 if there are any): values keepalived
    /// falls back on, unknown or unsupported keywords, look-alike spaces, repairs.
    #[arg(long)]
    pub strict: bool,
    /// Print the parsed configuration as JSON on stdout (secrets are redacted).
    #[arg(long)]
    pub dump: bool,
    /// Config id matched by @ID / @^ID lines (default: the short host name).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
}

pub fn execute(args: CheckConfigArgs) -> ExitCode {
    check(
        &args.file,
        args.strict,
        args.dump,
        args.config_id.as_deref(),
    )
}

/// Checks `file` like `lvsd check-config` (also used by `lvsd run -t`): problems go to
/// stderr, the model to stdout with `dump`. 0 if usable, 1 if not.
pub fn check(file: &Path, strict: bool, dump: bool, config_id: Option<&str>) -> ExitCode {
    let opts = ConfigOptions {
        config_id: config_id.map(str::to_string),
        check_interfaces: true,
        ..ConfigOptions::default()
    };
    let loaded = match crate::daemon::prepare::load(file, &opts, strict) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprintln!("{}", problems.render());
            if strict {
                eprintln!(
                    "{}: configuration is not usable (with --strict, warnings are errors)",
                    file.display()
                );
            } else {
                eprintln!("{}: configuration is not usable", file.display());
            }
            return ExitCode::from(EXIT_INVALID);
        }
    };
    if !loaded.warnings.is_empty() {
        eprintln!("{}", config::render_all(&loaded.warnings, &loaded.sources));
    }
    if dump {
        match serde_json::to_string_pretty(&loaded.config) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("lvsd: error: cannot serialize the configuration: {e}");
                return ExitCode::from(super::EXIT_ERROR);
            }
        }
    }
    // Everything `lvsd run` decides before starting: a configuration passed here
    // never fails at start for a configuration reason.
    if let Err(e) = crate::daemon::prepare::prepare(loaded.config) {
        eprintln!("lvsd: error: {e}");
        eprintln!("{}: configuration is not usable", file.display());
        return ExitCode::from(EXIT_INVALID);
    }
    eprintln!("{}: configuration OK", file.display());
    ExitCode::SUCCESS
}
