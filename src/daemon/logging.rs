//! Where `lvsd run` logs: stderr (journald under systemd, the default), the
//! local syslog socket with keepalived's `-S` facility, and/or a file (`-g`).
//!
//! The syslog client is written here instead of taken from a crate: it is one
//! datagram per event to a unix socket, and it has to be pointed at another
//! socket in tests ([`SYSLOG_SOCKET_ENV`]), which libc's process-global
//! `openlog`/`syslog` cannot do; the syslog crates on crates.io either wrap
//! libc's or bring their own formatting layer on top of `tracing` that we do
//! not need.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The local syslog socket (what glibc's syslog(3) and keepalived write to).
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Environment variable overriding [`DEFAULT_SYSLOG_SOCKET`] (tests bind their own).
pub const SYSLOG_SOCKET_ENV: &str = "LVSD_SYSLOG_SOCKET";

/// A syslog facility code (RFC 5424 numbering: daemon = 3, local0 = 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(pub u8);

impl Facility {
    pub const USER: Facility = Facility(1);
    pub const DAEMON: Facility = Facility(3);
    pub const LOCAL0: Facility = Facility(16);

    /// Parses keepalived's `-S` argument: `0`-`7` and `local0`-`local7` mean
    /// LOG_LOCAL0-7; `user` and `daemon` name those facilities.
    pub fn parse_keepalived(s: &str) -> Option<Facility> {
        let digit = s.strip_prefix("local").unwrap_or(s);
        if let Ok(n) = digit.parse::<u8>() {
            if digit.len() == 1 && n <= 7 {
                return Some(Facility(Self::LOCAL0.0 + n));
            }
            return None;
        }
        match s {
            "user" => Some(Self::USER),
            "daemon" => Some(Self::DAEMON),
            _ => None,
        }
    }
}

/// Syslog severity of a tracing level (err, warning, info, debug).
pub fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// What `lvsd run` was asked for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Default filter when RUST_LOG is unset: "info", "debug" (`-D`) or "trace" (`-D -D`).
    pub level: &'static str,
    /// Log to stderr (always, unless syslog is used without `-l`).
    pub stderr: bool,
    /// Log to syslog with this facility.
    pub syslog: Option<Facility>,
    /// Append log lines to this file.
    pub file: Option<PathBuf>,
}

/// Installs the global subscriber. Returns an error naming a log file that cannot be opened.
pub fn init(opts: &LogOptions) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(opts.level));
    let stderr = opts.stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            // No colour codes in log files and journald, only on a terminal.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
    });
    let syslog = opts.syslog.map(|facility| {
        tracing_subscriber::fmt::layer()
            .with_writer(Syslog::new(facility))
            .with_ansi(false)
            .without_time()
            .with_target(false)
    });
    let file = match &opts.file {
        None => None,
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("opening log file {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(Mutex::new(f))
                    .with_ansi(false),
            )
        }
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(syslog)
        .with(file)
        .try_init();
    Ok(())
}

/// Sends each log event as one datagram `<PRI>lvsd[PID]: message` to the syslog socket.
/// (No timestamp: syslog daemons stamp a message that has none with its arrival time.)
#[derive(Debug, Clone)]
pub struct Syslog {
    inner: Arc<SyslogInner>,
}

#[derive(Debug)]
struct SyslogInner {
    socket: Option<UnixDatagram>,
    path: PathBuf,
    facility: Facility,
    tag: String,
}

impl Syslog {
    pub fn new(facility: Facility) -> Syslog {
        let path = std::env::var_os(SYSLOG_SOCKET_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SYSLOG_SOCKET));
        Syslog::with_path(facility, &path)
    }

    pub fn with_path(facility: Facility, path: &Path) -> Syslog {
        Syslog {
            inner: Arc::new(SyslogInner {
                socket: UnixDatagram::unbound().ok(),
                path: path.to_path_buf(),
                facility,
                tag: format!("lvsd[{}]", std::process::id()),
            }),
        }
    }
}

/// One event being formatted; sent when dropped.
pub struct SyslogLine {
    inner: Arc<SyslogInner>,
    severity: u8,
    buf: Vec<u8>,
}

impl Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let pri = u16::from(self.inner.facility.0) * 8 + u16::from(self.severity);
        let datagram = format!("<{pri}>{}: {text}", self.inner.tag);
        if let Some(socket) = &self.inner.socket {
            // Nobody to tell if the syslog daemon is away: the line is lost, as with syslog(3).
            let _ = socket.send_to(datagram.as_bytes(), &self.inner.path);
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;

    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            inner: Arc::clone(&self.inner),
            severity: 6,
            buf: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine {
        SyslogLine {
            inner: Arc::clone(&self.inner),
            severity: severity(meta.level()),
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_facility_names() {
        assert_eq!(Facility::parse_keepalived("0"), Some(Facility(16)));
        assert_eq!(Facility::parse_keepalived("7"), Some(Facility(23)));
        assert_eq!(Facility::parse_keepalived("local3"), Some(Facility(19)));
        assert_eq!(Facility::parse_keepalived("daemon"), Some(Facility(3)));
        assert_eq!(Facility::parse_keepalived("user"), Some(Facility(1)));
        for bad in ["8", "local8", "-1", "kern", "", "local"] {
            assert_eq!(Facility::parse_keepalived(bad), None, "{bad}");
        }
    }
}
