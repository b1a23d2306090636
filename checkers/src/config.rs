//! Plain descriptions of checks, independent of lvsd's config types.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// keepalived's default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's default `delay_loop`.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// Default bound on an HTTP reply body; a longer body fails the check.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Timing and verdict options every checker has (`delay_loop`, `retry`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSchedule {
    pub delay_loop: Duration,
    /// Extra attempts after a failure of a checker that is up (`retry`, alias `nb_get_retry`).
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// Upper bound of the random offset of the first check; `None` means `delay_loop`.
    pub warmup: Option<Duration>,
    /// Start the checker as down (`alpha`).
    pub alpha: bool,
}

impl CheckSchedule {
    /// keepalived's defaults for a checker kind: `delay_before_retry` is 3 s for HTTP_GET and
    /// SSL_GET, 1 s otherwise; `retry` is 1 (MISC_CHECK: 0).
    pub fn keepalived_default(kind: CheckKind) -> Self {
        let (retry, delay_before_retry) = match kind {
            CheckKind::Http | CheckKind::Ssl => (1, Duration::from_secs(3)),
            CheckKind::Misc => (0, Duration::from_secs(1)),
            CheckKind::Tcp | CheckKind::Ping | CheckKind::Udp | CheckKind::Smtp => {
                (1, Duration::from_secs(1))
            }
            CheckKind::Dns => (3, Duration::from_secs(1)),
        };
        CheckSchedule {
            delay_loop: DEFAULT_DELAY_LOOP,
            retry,
            delay_before_retry,
            warmup: None,
            alpha: false,
        }
    }

    /// The effective warmup bound (defaults to `delay_loop`; 0 disables).
    pub fn warmup_bound(&self) -> Duration {
        self.warmup.unwrap_or(self.delay_loop)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    Tcp,
    Http,
    Ssl,
    Misc,
    Ping,
    Udp,
    Smtp,
    Dns,
}

impl CheckKind {
    /// keepalived's keyword, used in reasons.
    pub fn keyword(self) -> &'static str {
        match self {
            CheckKind::Tcp => "TCP_CHECK",
            CheckKind::Http => "HTTP_GET",
            CheckKind::Ssl => "SSL_GET",
            CheckKind::Misc => "MISC_CHECK",
            CheckKind::Ping => "PING_CHECK",
            CheckKind::Udp => "UDP_CHECK",
            CheckKind::Smtp => "SMTP_CHECK",
            CheckKind::Dns => "DNS_CHECK",
        }
    }
}

/// Where to connect: the real server's address unless `connect_ip`/`connect_port` say otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connect_ip: IpAddr,
    pub connect_port: u16,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub connect_timeout: Duration,
    /// SO_MARK on the check socket (`fwmark`), 0 for none.
    pub fwmark: u32,
}

impl Connection {
    pub fn new(target: SocketAddr) -> Self {
        Connection {
            connect_ip: target.ip(),
            connect_port: target.port(),
            bindto: None,
            bind_port: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            fwmark: 0,
        }
    }

    pub fn target(&self) -> SocketAddr {
        SocketAddr::new(self.connect_ip, self.connect_port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpCheck {
    pub connection: Connection,
}

/// A set of accepted HTTP status codes (`status_code 200 300-399`); empty means 200-299.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCodes {
    pub ranges: Vec<(u16, u16)>,
}

impl StatusCodes {
    pub fn accepts(&self, code: u16) -> bool {
        if self.ranges.is_empty() {
            return (200..=299).contains(&code);
        }
        self.ranges
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&code))
    }

    /// Human text for reasons: "200" / "200-299, 503".
    pub fn describe(&self) -> String {
        if self.ranges.is_empty() {
            return "200-299".to_string();
        }
        self.ranges
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCheck {
    pub path: String,
    /// Expected MD5 of the raw body, lowercase hex (as genhash prints it).
    pub digest: Option<String>,
    pub status_codes: StatusCodes,
    /// Per-URL `virtualhost`, overriding the checker's.
    pub virtualhost: Option<String>,
}

/// `http_protocol`: 1.0 (default), 1.0C (1.0 plus `Connection: close`), 1.1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpProtocol {
    #[default]
    Http10,
    Http10Close,
    Http11,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// SNI server name (`enable_sni`: keepalived sends the virtualhost).
    pub sni: Option<String>,
    /// Verify the server certificate against this CA bundle; `None` keeps keepalived's
    /// default of not verifying.
    pub verify_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    pub urls: Vec<UrlCheck>,
    pub virtualhost: Option<String>,
    pub connection: Connection,
    pub http_protocol: HttpProtocol,
    /// `Some` for SSL_GET.
    pub tls: Option<TlsOptions>,
    pub fast_recovery: bool,
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    /// The `misc_path` line as written (program and arguments, keepalived quoting).
    pub misc_path: String,
    pub misc_timeout: Option<Duration>,
    pub misc_dynamic: bool,
    /// `user USERNAME [GROUPNAME]`; `None` runs as `script_user` (default root).
    pub user: Option<(String, Option<String>)>,
    /// `enable_script_security`: refuse scripts a non-root user could modify.
    pub script_security: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingCheck {
    pub connection: Connection,
}

/// UDP_CHECK: one datagram to the target; an ICMP error (port, host or network
/// unreachable) within `connect_timeout` fails the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    pub connection: Connection,
    /// The datagram sent (`payload`); `None` sends a filler of `UDP_FILLER_LEN` bytes.
    pub payload: Option<Vec<u8>>,
    pub reply: UdpReply,
}

/// Length of the datagram sent when a UDP_CHECK has no `payload`.
pub const UDP_FILLER_LEN: usize = 32;

/// What a UDP_CHECK needs back (`require_reply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpReply {
    /// No `require_reply`: silence until `connect_timeout` is a success.
    NotRequired,
    /// `require_reply` without data: any datagram back.
    Any,
    /// `require_reply HEX`: a datagram that matches.
    Matching(ReplyPattern),
}

/// `require_reply HEX` with `min_reply_length` / `max_reply_length`: a reply's
/// length must lie within the bounds, and its first bytes (as many as both
/// have) must equal `bytes` except in the bits set in `wildcard` (an `x`
/// nibble in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    pub bytes: Vec<u8>,
    /// Same length as `bytes`.
    pub wildcard: Vec<u8>,
    pub min_len: u16,
    pub max_len: u16,
}

/// SMTP_CHECK: greeting 220, `HELO helo_name` answered 250, `QUIT` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpCheck {
    pub connection: Connection,
    pub helo_name: String,
}

/// DNS_CHECK: a query (recursion desired, class IN) whose reply must come
/// back with RCODE 0 (NOERROR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsCheck {
    pub connection: Connection,
    /// The query type's number (SOA = 6, keepalived's default).
    pub qtype: u16,
    /// The name asked for, dotted (`.` = the root, keepalived's default).
    pub name: String,
}

/// One checker of a real server, with its schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSpec {
    Tcp(TcpCheck),
    // Boxed: a pool of 10,000 TCP_CHECKs would otherwise carry an HTTP check's room each.
    Http(Box<HttpCheck>),
    Misc(Box<MiscCheck>),
    Ping(PingCheck),
    Udp(Box<UdpCheck>),
    Smtp(Box<SmtpCheck>),
    Dns(Box<DnsCheck>),
}

impl CheckSpec {
    pub fn kind(&self) -> CheckKind {
        match self {
            CheckSpec::Tcp(_) => CheckKind::Tcp,
            CheckSpec::Http(h) if h.tls.is_some() => CheckKind::Ssl,
            CheckSpec::Http(_) => CheckKind::Http,
            CheckSpec::Misc(_) => CheckKind::Misc,
            CheckSpec::Ping(_) => CheckKind::Ping,
            CheckSpec::Udp(_) => CheckKind::Udp,
            CheckSpec::Smtp(_) => CheckKind::Smtp,
            CheckSpec::Dns(_) => CheckKind::Dns,
        }
    }

    /// Number of sequential steps of one round (URLs for HTTP, 1 otherwise).
    pub fn steps(&self) -> usize {
        match self {
            CheckSpec::Http(h) => h.urls.len().max(1),
            _ => 1,
        }
    }

    pub fn fast_recovery(&self) -> bool {
        matches!(self, CheckSpec::Http(h) if h.fast_recovery)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checker {
    pub spec: CheckSpec,
    pub schedule: CheckSchedule,
}

/// Opaque id the director uses to recognise a real server in transitions.
pub type RealServerId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerChecks {
    pub id: RealServerId,
    /// Configured `weight`; misc_dynamic adjusts relative to it.
    pub weight: u32,
    pub checkers: Vec<Checker>,
}
