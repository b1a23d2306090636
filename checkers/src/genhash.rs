//! genhash: fetch one URL the way keepalived's checker does and print the MD5 of its body.
//!
//! `fetch` performs the exchange (streaming events for verbose output); the formatting
//! functions reproduce keepalived 2.2.7 genhash's output byte for byte (layout taken from
//! running it against nginx and test servers on loopback).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::config::{Connection, HttpCheck, HttpProtocol, TlsOptions};
use crate::http::{
    self, ExchangeError, ExchangeEvent, HttpChecker, HttpConnectError, Reply, ReplyError, Stream,
};
use crate::tcp::ConnectError;
use crate::tls::TlsConfigError;

/// `lvsd genhash`'s default timeout for each connect, write and read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's genhash has no timeout unless `-t` is given (a reply held back for 200 s was
/// still awaited); as `genhash` lvsd waits this long, which is the same in practice.
pub const KEEPALIVED_DEFAULT_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenhashOptions {
    pub server: IpAddr,
    pub port: u16,
    pub url: String,
    pub use_ssl: bool,
    pub use_sni: bool,
    pub virtualhost: Option<String>,
    pub protocol: HttpProtocol,
    pub fwmark: u32,
    pub timeout: Duration,
}

impl GenhashOptions {
    pub fn target(&self) -> SocketAddr {
        SocketAddr::new(self.server, self.port)
    }

    fn as_check(&self) -> HttpCheck {
        let mut connection = Connection::new(self.target());
        connection.connect_timeout = self.timeout;
        connection.fwmark = self.fwmark;
        HttpCheck {
            urls: Vec::new(),
            virtualhost: self.virtualhost.clone(),
            connection,
            http_protocol: self.protocol,
            tls: self.use_ssl.then(|| TlsOptions {
                // keepalived's -I sends the -V virtualhost as SNI.
                sni: if self.use_sni {
                    self.virtualhost.clone()
                } else {
                    None
                },
                verify_ca_file: None,
                client_cert: None,
            }),
            fast_recovery: false,
            // genhash has no bound on the body (it only keeps the MD5 state).
            max_body_bytes: u64::MAX,
        }
    }
}

/// Why genhash could not produce a digest.
#[derive(Debug, thiserror::Error)]
pub enum GenhashError {
    #[error("TLS setup: {0}")]
    TlsConfig(#[from] TlsConfigError),
    #[error("{target}: {source}")]
    Connect {
        target: SocketAddr,
        source: HttpConnectError,
    },
    #[error("{target}: {source}")]
    Exchange {
        target: SocketAddr,
        source: ExchangeError,
    },
}

impl GenhashError {
    /// The message keepalived's genhash prints for this failure (on stdout).
    pub fn keepalived_message(&self) -> &'static str {
        match self {
            GenhashError::TlsConfig(_) => "SSL handshake/communication error connecting to",
            GenhashError::Connect { source, .. } => match source {
                HttpConnectError::Connect(ConnectError::Refused { .. }) => "Connection failed",
                HttpConnectError::Connect(ConnectError::Timeout { .. }) => "Timeout connecting",
                HttpConnectError::Connect(_) => "Error connecting",
                HttpConnectError::Handshake(_) | HttpConnectError::HandshakeTimeout(_) => {
                    "SSL handshake/communication error connecting to"
                }
            },
            GenhashError::Exchange { source, .. } => match source {
                ExchangeError::WriteTimeout(_) => "Timeout WEB write",
                ExchangeError::Write(_) => "Cannot send get request to",
                ExchangeError::ReadTimeout(_) => "Timeout WEB read",
                ExchangeError::Read(_) | ExchangeError::Reply(ReplyError::HeadTooLarge { .. }) => {
                    "Read error with"
                }
                ExchangeError::Reply(ReplyError::BodyTooLarge { .. }) => "Read error with",
                ExchangeError::Reply(ReplyError::NoHead { .. }) => {
                    "no data received from remote webserver"
                }
            },
        }
    }

    /// The reply ended before its head did (with this many bytes received): keepalived
    /// reports this on stderr and still prints (empty) hash sections.
    pub fn no_head(&self) -> Option<usize> {
        match self {
            GenhashError::Exchange {
                source: ExchangeError::Reply(ReplyError::NoHead { received }),
                ..
            } => Some(*received),
            _ => None,
        }
    }
}

/// A fetched URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub reply: Reply,
    pub elapsed: Duration,
}

/// Fetches the URL; `on_event` sees the head and each body read as they arrive. The error
/// comes with the time spent, which verbose output reports too.
pub async fn fetch<F>(
    options: &GenhashOptions,
    mut on_event: F,
) -> Result<Fetched, (GenhashError, Duration)>
where
    F: FnMut(ExchangeEvent<'_>),
{
    let start = Instant::now();
    let target = options.target();
    let checker = HttpChecker::new(options.as_check()).map_err(|e| (e.into(), start.elapsed()))?;
    let host = options
        .virtualhost
        .clone()
        .unwrap_or_else(|| http::default_host(target));
    let sni = checker.spec().tls.as_ref().and_then(|t| t.sni.clone());
    let mut stream = checker
        .connect(sni.as_deref())
        .await
        .map_err(|source| (GenhashError::Connect { target, source }, start.elapsed()))?;
    let request = http::request_bytes(&options.url, &host, options.protocol);
    let reply = match &mut stream {
        Stream::Plain(s) => {
            http::exchange(s, &request, options.timeout, u64::MAX, &mut on_event).await
        }
        Stream::Tls(s) => {
            http::exchange(
                s.as_mut(),
                &request,
                options.timeout,
                u64::MAX,
                &mut on_event,
            )
            .await
        }
    };
    match reply {
        Ok(reply) => Ok(Fetched {
            reply,
            elapsed: start.elapsed(),
        }),
        Err(source) => Err((GenhashError::Exchange { target, source }, start.elapsed())),
    }
}

fn title(text: &str) -> String {
    format!("-----------------------[{text}]-----------------------\n")
}

pub fn header_title() -> String {
    title("    HTTP Header Buffer    ")
}

pub fn header_ascii_title() -> String {
    title(" HTTP Header Ascii Buffer ")
}

pub fn body_title() -> String {
    title("        HTML Buffer        ")
}

pub fn hash_title() -> String {
    title("    HTML hash resulting    ")
}

pub fn final_title() -> String {
    title(" HTML hash final resulting ")
}

/// keepalived's hex dump: decimal offset, 16 bytes in two groups of 8, printable ASCII.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (line, chunk) in bytes.chunks(16).enumerate() {
        out.push_str(&format!("{:04}  ", line * 16));
        for i in 0..16 {
            if i == 8 {
                out.push_str("- ");
            }
            match chunk.get(i) {
                Some(b) => out.push_str(&format!("{b:02x} ")),
                None => out.push_str("   "),
            }
        }
        out.push_str("  ");
        for i in 0..16 {
            out.push(match chunk.get(i) {
                Some(&b) if (0x20..0x7f).contains(&b) => char::from(b),
                Some(_) => '.',
                None => ' ',
            });
        }
        out.push('\n');
    }
    out
}

/// Verbose output as the exchange progresses, keepalived's layout.
#[derive(Debug, Default)]
pub struct VerbosePrinter {
    body_started: bool,
}

impl VerbosePrinter {
    pub fn event(&mut self, event: ExchangeEvent<'_>) -> String {
        match event {
            ExchangeEvent::Head(head) => {
                let mut s = header_title();
                s.push_str(&hexdump(head));
                s.push_str(&header_ascii_title());
                s.push_str(&String::from_utf8_lossy(head));
                s.push('\n');
                s
            }
            ExchangeEvent::Body(chunk) => {
                let mut s = String::new();
                if !self.body_started {
                    self.body_started = true;
                    s.push_str(&body_title());
                }
                s.push_str(&hexdump(chunk));
                s
            }
        }
    }

    /// After a complete reply: the digest sections.
    pub fn digest(&self, digest: &[u8; 16]) -> String {
        format!(
            "\n{}{}{}{}\n",
            hash_title(),
            hexdump(digest),
            final_title(),
            http::hex(digest)
        )
    }

    /// After a reply without a head end: keepalived prints the header title (only if some
    /// bytes came), the MD5 of nothing, and an empty final digest.
    pub fn no_head(&self, received: usize) -> String {
        let empty: [u8; 16] = md5::Digest::finalize(<md5::Md5 as md5::Digest>::new()).into();
        let header = if received > 0 {
            header_title()
        } else {
            String::new()
        };
        format!(
            "{header}\n{}{}{}",
            hash_title(),
            hexdump(&empty),
            final_title()
        )
    }
}

/// The closing line of verbose output.
pub fn response_time_line(url: &str, elapsed: Duration) -> String {
    format!(
        "\nGlobal response time for [{url}] = {} usecs\n",
        elapsed.as_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_matches_keepalived_layout() {
        // From `genhash -v` (keepalived 2.2.7) against a test server.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            hexdump(head),
            "0000  48 54 54 50 2f 31 2e 31 - 20 32 30 30 20 4f 4b 0d   HTTP/1.1 200 OK.\n\
             0016  0a 43 6f 6e 74 65 6e 74 - 2d 4c 65 6e 67 74 68 3a   .Content-Length:\n\
             0032  20 31 30 0d 0a 0d 0a    -                            10....         \n"
        );
        assert_eq!(
            hexdump(b"ab"),
            "0000  61 62                   -                           ab              \n"
        );
    }
}
