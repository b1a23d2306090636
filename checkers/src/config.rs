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
    /// Log every failed check, not only the state changes (`log_all_failures`).
    pub log_all_failures: bool,
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
            log_all_failures: false,
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
    pub connect_timeout: Duration,
    /// SO_MARK on the check socket (`fwmark`), 0 for none.
    pub fwmark: u32,
    /// Where the check's socket is bound (see [`Connection::set_source`]).
    /// Boxed: rare, and 10,000 checkers would carry the room inline (in
    /// UML every page a start-up touches is a trap).
    source: Option<Box<Source>>,
}

/// Where a check's socket is bound: `bindto`, `bind_port`, `bind_if`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    /// SO_BINDTODEVICE (`bind_if`): needed for IPv6 link-local real servers,
    /// whose address alone does not say which link.
    pub bind_if: Option<String>,
}

impl Connection {
    pub fn new(target: SocketAddr) -> Self {
        Connection {
            connect_ip: target.ip(),
            connect_port: target.port(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            fwmark: 0,
            source: None,
        }
    }

    pub fn target(&self) -> SocketAddr {
        SocketAddr::new(self.connect_ip, self.connect_port)
    }

    /// Binds the check's socket as `source` says (nothing set: not bound).
    pub fn set_source(&mut self, source: Source) {
        self.source = (source != Source::default()).then(|| Box::new(source));
    }

    pub fn bindto(&self) -> Option<IpAddr> {
        self.source.as_ref().and_then(|s| s.bindto)
    }

    pub fn bind_port(&self) -> Option<u16> {
        self.source.as_ref().and_then(|s| s.bind_port)
    }

    pub fn bind_if(&self) -> Option<&str> {
        self.source.as_ref().and_then(|s| s.bind_if.as_deref())
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

/// The `regex_options` that change what a pattern matches (keepalived's
/// PCRE2 names); the others only tune PCRE2's matcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RegexFlags {
    pub caseless: bool,
    pub multiline: bool,
    pub dotall: bool,
    pub extended: bool,
    pub ungreedy: bool,
    pub utf: bool,
    pub ucp: bool,
    pub dupnames: bool,
}

/// A url's `regex`: the reply (head and body, as keepalived sees it) must
/// (or, with `regex_no_match`, must not) contain a match that starts at an
/// offset in `min_offset..=max_offset`. PCRE2, as in keepalived, so patterns and
/// their meaning carry over (PCRE's `$` matches before a final newline,
/// look-around and back-references work); compiled once, with the JIT.
#[derive(Debug, Clone)]
pub struct BodyRegex {
    pub pattern: String,
    pub flags: RegexFlags,
    pub no_match: bool,
    pub min_offset: usize,
    pub max_offset: Option<usize>,
    compiled: pcre2::bytes::Regex,
}

impl PartialEq for BodyRegex {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.pattern,
            self.flags,
            self.no_match,
            self.min_offset,
            self.max_offset,
        ) == (
            &other.pattern,
            other.flags,
            other.no_match,
            other.min_offset,
            other.max_offset,
        )
    }
}

impl Eq for BodyRegex {}

/// What lvsd does with one of keepalived's `regex_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexOptionKind {
    /// Changes what matches, and lvsd does the same.
    Applied,
    /// Tunes PCRE2 only, or is already how lvsd's engine matches (Unicode).
    NoEffect,
    /// Changes what matches in PCRE2, and lvsd's engine has no such mode.
    NoEquivalent,
}

impl RegexFlags {
    /// Applies keepalived's `regex_options` word `name`; `None` if keepalived
    /// does not know it either.
    pub fn apply(&mut self, name: &str) -> Option<RegexOptionKind> {
        let flag = match name {
            "caseless" => &mut self.caseless,
            "multiline" => &mut self.multiline,
            "dotall" => &mut self.dotall,
            "extended" => &mut self.extended,
            "ungreedy" => &mut self.ungreedy,
            "utf" => &mut self.utf,
            "ucp" => &mut self.ucp,
            "dupnames" => &mut self.dupnames,
            "auto_callout" | "no_auto_capture" | "no_auto_possess" | "no_dotstar_anchor"
            | "no_start_optimize" | "use_offset_limit" | "never_backslash_c" => {
                return Some(RegexOptionKind::NoEffect)
            }
            "allow_empty_class"
            | "alt_bsux"
            | "alt_circumflex"
            | "alt_verbnames"
            | "dollar_endonly"
            | "firstline"
            | "match_unset_backref"
            | "never_ucp"
            | "never_utf" => return Some(RegexOptionKind::NoEquivalent),
            _ => return None,
        };
        *flag = true;
        Some(RegexOptionKind::Applied)
    }
}

impl BodyRegex {
    pub fn new(
        pattern: &str,
        flags: RegexFlags,
        no_match: bool,
        min_offset: usize,
        max_offset: Option<usize>,
    ) -> Result<BodyRegex, pcre2::Error> {
        // Two options the builder lacks have inline forms at the start.
        let inline = match (flags.ungreedy, flags.dupnames) {
            (false, false) => "",
            (true, false) => "(?U)",
            (false, true) => "(?J)",
            (true, true) => "(?UJ)",
        };
        let compiled = pcre2::bytes::RegexBuilder::new()
            .caseless(flags.caseless)
            .multi_line(flags.multiline)
            .dotall(flags.dotall)
            .extended(flags.extended)
            .utf(flags.utf)
            .ucp(flags.ucp)
            .jit_if_available(true)
            .build(&format!("{inline}{pattern}"))?;
        Ok(BodyRegex {
            pattern: pattern.to_string(),
            flags,
            no_match,
            min_offset,
            max_offset,
            compiled,
        })
    }

    /// Where in `body` the first match inside the offset window starts; a
    /// matching error (PCRE2's match limit) counts as no match, as in keepalived.
    pub fn find(&self, body: &[u8]) -> Option<usize> {
        if self.min_offset > body.len() {
            return None;
        }
        // The leftmost match from min_offset on: if it starts past the
        // window, every other one does too.
        let m = self.compiled.find_at(body, self.min_offset).ok()??;
        match self.max_offset {
            Some(max) if m.start() > max => None,
            _ => Some(m.start()),
        }
    }

    /// The verdict on a body: `Ok(detail)` or `Err(reason)`.
    pub fn judge(&self, body: &[u8]) -> Result<String, String> {
        match (self.find(body), self.no_match) {
            (Some(at), false) => Ok(format!("regex matches at byte {at}")),
            (None, true) => Ok("regex does not match (regex_no_match)".to_string()),
            (Some(at), true) => Err(format!(
                "regex {:?} matches at byte {at} (regex_no_match)",
                self.pattern
            )),
            (None, false) => Err(format!("regex {:?} does not match", self.pattern)),
        }
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
    /// `regex` and its options; boxed, as few URLs have one.
    pub regex: Option<Box<BodyRegex>>,
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
    /// A client certificate to present (keepalived's `SSL { certificate key password }`).
    pub client_cert: Option<ClientCertFiles>,
}

/// The files of a client certificate: a PEM chain (the certificate first) and a PEM
/// private key, unencrypted or encrypted PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) with
/// `password`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientCertFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    pub password: Option<String>,
}

impl std::fmt::Debug for ClientCertFiles {
    /// The password never reaches a log or a dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertFiles")
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
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
/// have) must equal `data` except in its wildcard nibbles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPattern {
    pub data: HexBytes,
    pub min_len: u16,
    pub max_len: u16,
}

/// Bytes written in hex as UDP_CHECK's `payload` and `require_reply` take them:
/// words separated by blanks, each read two digits a byte from the left, a
/// word's odd last digit a byte of its own (`Ab12f 3` is AB 12 0F 03). In
/// `require_reply`, an `x` digit matches any nibble (its bits set in `wildcard`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes {
    pub bytes: Vec<u8>,
    /// Same length as `bytes`; all zero when no `x` was written.
    pub wildcard: Vec<u8>,
}

impl HexBytes {
    /// The largest payload a UDP datagram over IPv4 carries.
    pub const MAX_LEN: usize = 65_507;

    /// Parses the words of one keyword; `Err` holds the first word that is
    /// not hex (or too long).
    pub fn parse<'w>(
        words: impl IntoIterator<Item = &'w str>,
        wildcards: bool,
    ) -> Result<HexBytes, &'w str> {
        let nibble = |c: char| match c {
            'x' | 'X' if wildcards => Some((0, 0x0f)),
            c => c.to_digit(16).map(|d| (d as u8, 0)),
        };
        let mut out = HexBytes {
            bytes: Vec::new(),
            wildcard: Vec::new(),
        };
        for word in words {
            let digits: Option<Vec<(u8, u8)>> = word.chars().map(nibble).collect();
            let digits = digits.ok_or(word)?;
            for pair in digits.chunks(2) {
                let (byte, wild) = match pair {
                    [(hi, hw), (lo, lw)] => (hi << 4 | lo, hw << 4 | lw),
                    [(lo, lw)] => (*lo, *lw),
                    _ => (0, 0),
                };
                out.bytes.push(byte);
                out.wildcard.push(wild);
            }
            if out.bytes.len() > Self::MAX_LEN {
                return Err(word);
            }
        }
        Ok(out)
    }

    /// Two digits a byte, `x` for a wildcard nibble.
    pub fn to_hex(&self) -> String {
        (0..self.bytes.len()).map(|at| self.byte_text(at)).collect()
    }

    /// Byte `at` as the config wrote it: two digits, `x` for a wildcard nibble.
    pub fn byte_text(&self, at: usize) -> String {
        let (byte, wild) = (self.bytes[at], self.wildcard[at]);
        [(byte >> 4, wild >> 4), (byte & 0x0f, wild & 0x0f)]
            .iter()
            .map(|&(nibble, w)| {
                if w != 0 {
                    'x'
                } else {
                    char::from_digit(u32::from(nibble), 16).unwrap_or('?')
                }
            })
            .collect()
    }
}

impl serde::Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
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

    /// The connection the check makes (MISC_CHECK makes none).
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        match self {
            CheckSpec::Tcp(c) => Some(&mut c.connection),
            CheckSpec::Http(c) => Some(&mut c.connection),
            CheckSpec::Misc(_) => None,
            CheckSpec::Ping(c) => Some(&mut c.connection),
            CheckSpec::Udp(c) => Some(&mut c.connection),
            CheckSpec::Smtp(c) => Some(&mut c.connection),
            CheckSpec::Dns(c) => Some(&mut c.connection),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(pattern: &str, no_match: bool, min: usize, max: Option<usize>) -> BodyRegex {
        BodyRegex::new(pattern, RegexFlags::default(), no_match, min, max)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    #[test]
    fn hex_bytes_read_as_keepalived_reads_them() {
        // keepalived.conf(5)'s own example.
        let h = HexBytes::parse("Ab12f 3 456 546443123".split(' '), false);
        assert_eq!(
            h.as_ref().map(|h| h.bytes.clone()),
            Ok(vec![
                0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03
            ])
        );
        assert_eq!(h.map(|h| h.wildcard.iter().all(|w| *w == 0)), Ok(true));
        let w = HexBytes::parse(["x2", "1X", "x"], true);
        assert_eq!(
            w.as_ref().map(|w| (w.bytes.clone(), w.wildcard.clone())),
            Ok((vec![0x02, 0x10, 0x00], vec![0xf0, 0x0f, 0x0f]))
        );
        assert_eq!(w.map(|w| w.to_hex()), Ok("x21x0x".to_string()));
        // Wildcards only where allowed; anything else names the word.
        assert_eq!(HexBytes::parse(["ab", "x2"], false), Err("x2"));
        assert_eq!(HexBytes::parse(["0g"], true), Err("0g"));
        assert_eq!(HexBytes::parse(["标识"], true), Err("标识"));
        let huge = "00".repeat(HexBytes::MAX_LEN + 1);
        assert_eq!(HexBytes::parse([huge.as_str()], false), Err(huge.as_str()));
    }

    #[test]
    fn a_match_must_start_inside_the_offset_window() {
        let body = b"<html>status: up</html>";
        assert_eq!(regex("status: (up|ok)", false, 0, None).find(body), Some(6));
        assert_eq!(regex("status", false, 6, Some(6)).find(body), Some(6));
        assert_eq!(
            regex("status", false, 7, None).find(body),
            None,
            "starts before min"
        );
        assert_eq!(
            regex("status", false, 0, Some(5)).find(body),
            None,
            "starts after max"
        );
        assert_eq!(
            regex("x", false, 100, None).find(body),
            None,
            "min beyond the body"
        );
        // Anchors see the whole body, not the window.
        assert_eq!(regex("^status", false, 6, None).find(body), None);
        // PCRE's meaning, as keepalived's: `$` also matches before a final
        // newline; look-behind and back-references work.
        assert_eq!(regex("^OK$", false, 0, None).find(b"OK\n"), Some(0));
        assert_eq!(regex("(?<=: )(u)(p)", false, 0, None).find(body), Some(14));
        assert_eq!(
            regex(r"(<\w+>).*\1", false, 0, None).find(b"<a>x<a>"),
            Some(0)
        );
        // PCRE's meaning, as keepalived's: `$` also matches before a final
        // newline; look-behind and back-references work.
        assert_eq!(regex("^OK$", false, 0, None).find(b"OK\n"), Some(0));
        assert_eq!(regex("(?<=: )(u)(p)", false, 0, None).find(body), Some(14));
        assert_eq!(
            regex("(<\\w+>).*\\1", false, 0, None).find(b"<a>x<a>"),
            Some(0)
        );
    }

    #[test]
    fn verdicts_follow_regex_no_match() {
        let up = regex("status: up", false, 0, None);
        assert_eq!(
            up.judge(b"status: up"),
            Ok("regex matches at byte 0".into())
        );
        assert_eq!(
            up.judge(b"status: down"),
            Err("regex \"status: up\" does not match".into())
        );
        let maint = regex("maintenance", true, 0, None);
        assert!(maint.judge(b"all good").is_ok());
        assert_eq!(
            maint.judge(b"in maintenance"),
            Err("regex \"maintenance\" matches at byte 3 (regex_no_match)".into())
        );
    }

    #[test]
    fn keepalived_options_map_to_the_engine() {
        let mut flags = RegexFlags::default();
        for o in ["caseless", "multiline", "dotall", "extended", "ungreedy"] {
            assert_eq!(flags.apply(o), Some(RegexOptionKind::Applied), "{o}");
        }
        assert_eq!(
            flags.apply("no_start_optimize"),
            Some(RegexOptionKind::NoEffect)
        );
        assert_eq!(
            flags.apply("firstline"),
            Some(RegexOptionKind::NoEquivalent)
        );
        assert_eq!(flags.apply("bogus"), None);
        let r = BodyRegex::new("^ STATUS . up $", flags, false, 0, None).expect("compiles");
        // caseless + extended (blanks ignored) + multiline (^ $ at lines) + dotall.
        assert_eq!(r.find(b"x\nstatus\nup\ny"), Some(2));
        // ungreedy: the shortest match.
        let lazy = BodyRegex::new(
            "a+",
            RegexFlags {
                ungreedy: true,
                ..RegexFlags::default()
            },
            false,
            0,
            None,
        )
        .expect("compiles");
        assert_eq!(
            lazy.compiled.find(b"aaa").ok().flatten().map(|m| m.end()),
            Some(1)
        );
        // dupnames allows a name twice.
        let twice = "(?<n>a)|(?<n>b)";
        assert!(BodyRegex::new(twice, RegexFlags::default(), false, 0, None).is_err());
        let dup = RegexFlags {
            dupnames: true,
            ..RegexFlags::default()
        };
        assert!(BodyRegex::new(twice, dup, false, 0, None).is_ok());
    }
}
