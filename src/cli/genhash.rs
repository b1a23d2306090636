//! `lvsd genhash`, and `genhash` itself when lvsd is invoked under that name (a symlink).
//!
//! Both print exactly what keepalived's genhash prints on success. They differ on failure:
//! keepalived's genhash prints the failure on stdout and exits 0 (kept when invoked as
//! `genhash`, so existing scripts keep working); `lvsd genhash` prints it on stderr and exits 1.

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use checkers::genhash::{self, GenhashError, GenhashOptions, VerbosePrinter};
use checkers::http::{hex, ExchangeEvent};
use checkers::HttpProtocol;
use clap::{ArgAction, Args, Parser};

/// keepalived 2.2.7's `genhash --help` text (its usage, `{argv0}` being the program name as
/// invoked), printed on stderr on usage errors.
const KEEPALIVED_USAGE: &str = "Usage: {argv0} COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
";

#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    disable_version_flag = true,
    after_help = "Output is keepalived genhash's (a bare digest, or the verbose dump with -v). \
                  Unlike keepalived's genhash, failures go to stderr with exit status 1; run \
                  lvsd as `genhash` (a symlink) for keepalived's exact behaviour."
)]
pub struct GenhashArgs {
    /// Server IP address (not a name).
    #[arg(short = 's', long = "server", value_name = "ADDRESS")]
    pub server: Option<String>,
    /// Server port.
    #[arg(short = 'p', long = "port")]
    pub port: Option<String>,
    /// URL path to fetch, e.g. /health.
    #[arg(short = 'u', long = "url")]
    pub url: Option<String>,
    /// Use TLS (SSL_GET).
    #[arg(short = 'S', long = "use-ssl")]
    pub use_ssl: bool,
    /// Send the virtualhost (-V) as SNI in the TLS handshake.
    #[arg(short = 'I', long = "use-sni")]
    pub use_sni: bool,
    /// Host header to send (default ip:port).
    #[arg(short = 'V', long = "use-virtualhost", value_name = "HOST")]
    pub virtualhost: Option<String>,
    /// HTTP protocol: 1.0, 1.0c (1.0 with Connection: close) or 1.1.
    #[arg(short = 'P', long = "protocol", value_name = "VERSION")]
    pub protocol: Option<String>,
    /// Firewall mark (SO_MARK) on the connection.
    #[arg(short = 'm', long = "fwmark", value_name = "MARK")]
    pub fwmark: Option<String>,
    /// Timeout in seconds for each connect, write and read (default 5; none as `genhash`).
    #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<String>,
    /// Verbose output: head and body dumps, digest, response time.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Print the result as a JSON object (lvsd extension).
    #[arg(long = "json")]
    pub json: bool,
    /// Print help.
    #[arg(short = 'h', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `genhash` when invoked under that name: parse like keepalived's genhash.
#[derive(Debug, Parser)]
#[command(
    name = "genhash",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct CompatCli {
    #[command(flatten)]
    args: GenhashArgs,
}

/// A usage problem, with keepalived's wording.
#[derive(Debug, PartialEq, Eq)]
enum UsageError {
    Missing,
    Server(String),
    Port(String),
    Protocol(String),
    Number(&'static str, String),
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::Missing => write!(f, "-s, -p and -u are required"),
            UsageError::Server(s) => write!(f, "server should be an IP, not {s}"),
            UsageError::Port(p) => write!(f, "invalid port number '{p}'"),
            UsageError::Protocol(v) => write!(f, "invalid HTTP protocol version '{v}'"),
            UsageError::Number(what, v) => write!(f, "invalid {what} '{v}'"),
        }
    }
}

fn options(args: &GenhashArgs, default_timeout: Duration) -> Result<GenhashOptions, UsageError> {
    let (Some(server), Some(port), Some(url)) = (&args.server, &args.port, &args.url) else {
        return Err(UsageError::Missing);
    };
    let server: IpAddr = server
        .parse()
        .map_err(|_| UsageError::Server(server.clone()))?;
    let port: u16 = port.parse().map_err(|_| UsageError::Port(port.clone()))?;
    let protocol = match args.protocol.as_deref() {
        None | Some("1.0") => HttpProtocol::Http10,
        Some("1.0c") | Some("1.0C") => HttpProtocol::Http10Close,
        Some("1.1") => HttpProtocol::Http11,
        Some(other) => return Err(UsageError::Protocol(other.to_string())),
    };
    let fwmark = match &args.fwmark {
        None => 0,
        Some(m) => m
            .parse()
            .map_err(|_| UsageError::Number("fwmark", m.clone()))?,
    };
    let timeout = match &args.timeout {
        None => default_timeout,
        Some(t) => Duration::from_secs(
            t.parse()
                .map_err(|_| UsageError::Number("timeout", t.clone()))?,
        ),
    };
    Ok(GenhashOptions {
        server,
        port,
        url: url.clone(),
        use_ssl: args.use_ssl,
        use_sni: args.use_sni,
        virtualhost: args.virtualhost.clone(),
        protocol,
        fwmark,
        timeout,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// keepalived's genhash: failures on stdout, exit 0.
    Keepalived,
    /// `lvsd genhash`: failures on stderr, exit 1.
    Lvsd,
}

/// `lvsd genhash ...`
pub fn execute(args: GenhashArgs) -> ExitCode {
    match options(&args, genhash::DEFAULT_TIMEOUT) {
        Ok(opts) => run(&opts, args.verbose, args.json, Mode::Lvsd),
        Err(e) => {
            eprintln!("lvsd genhash: error: {e}\nTry 'lvsd genhash --help'.");
            ExitCode::from(super::EXIT_ERROR)
        }
    }
}

/// `genhash ...` (lvsd invoked through a symlink named genhash): keepalived's behaviour.
pub fn main_compat() -> ExitCode {
    main_compat_from(std::env::args_os().collect())
}

/// [`main_compat`] with the arguments given (`keepalived -T ...` passes what follows `-T`).
pub fn main_compat_from(args: Vec<std::ffi::OsString>) -> ExitCode {
    let argv0 = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "genhash".to_string());
    let usage = KEEPALIVED_USAGE.replace("{argv0}", &argv0);
    let cli = match CompatCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(_) => {
            eprint!("{usage}");
            return ExitCode::from(1);
        }
    };
    match options(&cli.args, genhash::KEEPALIVED_DEFAULT_TIMEOUT) {
        Ok(opts) => run(&opts, cli.args.verbose, cli.args.json, Mode::Keepalived),
        Err(e) => {
            if e != UsageError::Missing {
                eprintln!("{e}");
            }
            eprint!("{usage}");
            ExitCode::from(1)
        }
    }
}

fn run(opts: &GenhashOptions, verbose: bool, json: bool, mode: Mode) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genhash: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_ERROR);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let verbose_text = verbose && !json;
    let mut printer = VerbosePrinter::default();
    let result = runtime.block_on(genhash::fetch(opts, &mut |event: ExchangeEvent<'_>| {
        if verbose_text {
            let _ = out.write_all(printer.event(event).as_bytes());
        }
    }));
    if json {
        let value = match &result {
            Ok(f) => serde_json::json!({
                "server": opts.server.to_string(),
                "port": opts.port,
                "url": opts.url,
                "digest": f.reply.digest_hex(),
                "status": f.reply.status.as_ref().ok(),
                "body_bytes": f.reply.body_len,
                "response_time_us": f.elapsed.as_micros() as u64,
            }),
            Err((e, elapsed)) => serde_json::json!({
                "server": opts.server.to_string(),
                "port": opts.port,
                "url": opts.url,
                "error": e.to_string(),
                "keepalived_message": e.keepalived_message(),
                "response_time_us": elapsed.as_micros() as u64,
            }),
        };
        let _ = writeln!(out, "{value}");
        return if result.is_ok() || mode == Mode::Keepalived {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let code = match &result {
        Ok(fetched) => {
            if verbose {
                let _ = out.write_all(printer.digest(&fetched.reply.digest).as_bytes());
            } else {
                let _ = writeln!(out, "{}", hex(&fetched.reply.digest));
            }
            ExitCode::SUCCESS
        }
        Err((error, _)) => report_failure(&mut out, error, verbose, &printer, mode),
    };
    if verbose {
        let elapsed = match &result {
            Ok(f) => f.elapsed,
            Err((_, elapsed)) => *elapsed,
        };
        let _ = out.write_all(genhash::response_time_line(&opts.url, elapsed).as_bytes());
    }
    let _ = out.flush();
    code
}

fn report_failure(
    out: &mut impl Write,
    error: &GenhashError,
    verbose: bool,
    printer: &VerbosePrinter,
    mode: Mode,
) -> ExitCode {
    let message = error.keepalived_message();
    if let Some(received) = error.no_head() {
        if mode == Mode::Keepalived {
            eprintln!("{message}");
        }
        if verbose {
            let _ = out.write_all(printer.no_head(received).as_bytes());
        }
    } else if mode == Mode::Keepalived {
        let _ = writeln!(out, "{message}");
    }
    match mode {
        Mode::Keepalived => ExitCode::SUCCESS,
        Mode::Lvsd => {
            if error.no_head().is_none() {
                eprintln!("lvsd genhash: {message}: {error}");
            } else {
                eprintln!("lvsd genhash: {error}");
            }
            ExitCode::from(1)
        }
    }
}
