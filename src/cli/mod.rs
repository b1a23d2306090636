//! Command-line interface: one file per subcommand, argument structs and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod check_config;
pub mod ctl;
pub mod generate;
pub mod genhash;
pub mod keepalived;
pub mod list;
pub mod metrics;
pub mod run;
pub mod status;
pub mod withdraw;

/// Exit status for a usage or internal error (clap uses 2 for usage errors too).
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    about = "A keepalived-compatible LVS director: VRRP failover, IPVS programming and health checks",
    long_about = "lvsd reads keepalived.conf, floats virtual IPs between two directors with VRRP, \
                  programs the kernel's IPVS table over generic netlink and adds or removes real \
                  servers on the word of its health checkers."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the director daemon from a keepalived.conf (VRRP, checkers and IPVS).
    Run(Box<run::RunArgs>),
    /// Print the MD5 digest of a URL's body, like keepalived's genhash.
    Genhash(genhash::GenhashArgs),
    /// List the kernel's IPVS table, in `ipvsadm -Ln` format or as JSON.
    List(list::ListArgs),
    /// Check a keepalived.conf and report every problem with file:line:column.
    CheckConfig(check_config::CheckConfigArgs),
    /// Show a running lvsd's state: VRRP instances, real servers with verdicts, IPVS counters.
    Status(status::StatusArgs),
    /// Write the man pages or shell completions (for packaging).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
    /// Print a running lvsd's Prometheus metrics (as `/metrics` serves them).
    Metrics(metrics::MetricsArgs),
    /// Change a real server at run time: drain, maint, ready, weight (kept across restarts).
    Ctl(ctl::CtlArgs),
    /// Delete lvsd's announce routes (route_announce), e.g. from ExecStopPost= after a crash.
    Withdraw(withdraw::WithdrawArgs),
}

/// One request to a running lvsd over its control socket (`status`, `metrics`,
/// `ctl`): a small runtime for it, and failures printed the same way (exit 1
/// when the daemon cannot be reached, 2 when the runtime cannot start).
pub(crate) fn ask_daemon<T, E: std::fmt::Display>(
    request: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ExitCode> {
    let rt = runtime()?;
    rt.block_on(request).map_err(|e| {
        eprintln!("lvsd: error: {e} (is lvsd running?)");
        ExitCode::from(1)
    })
}

/// A single-threaded runtime for one command; failing to start one is
/// reported and exits 2.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("lvsd: error: starting the runtime: {e}");
            ExitCode::from(EXIT_ERROR)
        })
}

/// One subcommand's arguments (those after its name), parsed by that
/// subcommand's parser alone.
fn parse_alone<T: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    args: &[std::ffi::OsString],
) -> Result<T, clap::Error> {
    let matches = T::augment_args(clap::Command::new(name))
        .try_get_matches_from(std::iter::once(name.into()).chain(args.iter().cloned()))?;
    T::from_arg_matches(&matches)
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    // The spawn helper lvsd starts for its scripts (checkers::spawner).
    let mut args_os = std::env::args_os().skip(1);
    if args_os
        .next()
        .is_some_and(|a| a == checkers::spawner::HELPER_ARG)
    {
        return match args_os.next().and_then(|fd| fd.to_str()?.parse().ok()) {
            Some(fd) => checkers::spawner::serve(fd),
            None => ExitCode::from(EXIT_ERROR),
        };
    }
    // Invoked as `genhash` (a symlink to lvsd): behave exactly like keepalived's genhash.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0).file_name();
    if name == Some(std::ffi::OsStr::new("genhash")) {
        return genhash::main_compat();
    }
    // Invoked as `keepalived` (a symlink, or a unit's ExecStart): `lvsd run` with
    // keepalived's usage errors and `-t` exit statuses.
    if name == Some(std::ffi::OsStr::new("keepalived")) {
        return keepalived::main_compat();
    }
    // `lvsd run -T ...`: keepalived's genhash mode (its arguments are genhash's, not run's).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "run") {
        if let Some(g) = keepalived::genhash_args(&args[1..]) {
            return genhash::main_compat_from(g);
        }
    }
    // `lvsd list` and `lvsd run` read their own arguments alone: clap then
    // builds one command instead of lvsd's whole tree, which is most of what
    // a listing costs beside ipvsadm's, and page faults before a start-up's
    // first log line (issue #19). Help and any error go through the full
    // parser, so they read as always.
    let own = args.get(2..).unwrap_or_default();
    if !own.iter().any(|a| a == "-h" || a == "--help") {
        match args.get(1).and_then(|a| a.to_str()) {
            Some("list") => {
                if let Ok(list_args) = parse_alone::<list::ListArgs>("lvsd list", own) {
                    return list::execute(list_args);
                }
            }
            Some("run") => {
                if let Ok(run_args) = parse_alone::<run::RunArgs>("lvsd run", own) {
                    return run::execute(run_args);
                }
            }
            _ => {}
        }
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::execute(*args),
        Command::Genhash(args) => genhash::execute(args),
        Command::List(args) => list::execute(args),
        Command::CheckConfig(args) => check_config::execute(args),
        Command::Status(args) => status::execute(args),
        Command::Generate(args) => generate::execute(args),
        Command::Metrics(args) => metrics::execute(args),
        Command::Ctl(args) => ctl::execute(args),
        Command::Withdraw(args) => withdraw::execute(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// What a subcommand's own parser makes of its arguments equals what
    /// the whole tree makes of them (`main` takes the first when it parses).
    fn same_as_full(argv: &[&str]) {
        let own: Vec<OsString> = argv[2..].iter().map(OsString::from).collect();
        let full = Cli::try_parse_from(argv).expect("the full parser accepts it");
        match (argv[1], full.command) {
            ("run", Command::Run(full)) => {
                let alone = parse_alone::<run::RunArgs>("lvsd run", &own).expect("run alone");
                assert_eq!(format!("{alone:?}"), format!("{full:?}"), "{argv:?}");
            }
            ("list", Command::List(full)) => {
                let alone = parse_alone::<list::ListArgs>("lvsd list", &own).expect("list alone");
                assert_eq!(format!("{alone:?}"), format!("{full:?}"), "{argv:?}");
            }
            (name, other) => panic!("{name}: parsed as {other:?}"),
        }
    }

    #[test]
    fn run_and_list_parsed_alone_equal_the_full_parse() {
        same_as_full(&["lvsd", "run"]);
        // getopt's rules: the last -f wins, -D counts.
        same_as_full(&["lvsd", "run", "-f", "/a.conf", "-D", "-D", "-f", "/b.conf"]);
        same_as_full(&["lvsd", "run", "-t", "--strict", "-f", "/c.conf"]);
        same_as_full(&["lvsd", "run", "-D", "-d", "-S", "1", "-P"]);
        // keepalived's -v: run's own flag.
        same_as_full(&["lvsd", "run", "--version"]);
        same_as_full(&["lvsd", "list", "-n"]);
        same_as_full(&["lvsd", "list", "-n", "--stats", "--json"]);
    }

    #[test]
    fn what_the_full_parser_refuses_is_refused_alone_too() {
        for argv in [
            &["lvsd", "run", "--no-such-option"][..],
            &["lvsd", "run", "-f"],
            &["lvsd", "list", "--sort", "--nosort"],
        ] {
            assert!(Cli::try_parse_from(argv).is_err(), "{argv:?}");
            let own: Vec<OsString> = argv[2..].iter().map(OsString::from).collect();
            let alone = match argv[1] {
                "run" => parse_alone::<run::RunArgs>("lvsd run", &own).map(|_| ()),
                _ => parse_alone::<list::ListArgs>("lvsd list", &own).map(|_| ()),
            };
            assert!(alone.is_err(), "{argv:?}");
        }
    }
}
