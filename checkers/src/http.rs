//! HTTP_GET and SSL_GET, and the exchange genhash shares with them.
//!
//! Why a small raw HTTP/1.x exchange instead of hyper: keepalived's digest is the MD5 of the
//! raw bytes after the first blank line, cut at Content-Length or at close, with chunked
//! framing NOT decoded (the chunk-size lines are hashed too). hyper always decodes framing
//! and hides those bytes, so a hyper-based check could never match digests made with
//! keepalived's genhash. The exchange is one request on a fresh connection with HTTP/1.0
//! semantics (close-delimited), which needs no client machinery: `httparse` parses the head
//! and the rest is a byte counter and an MD5 context.
//!
//! The request/reply codec (`request_bytes`, `ResponseReader`) is pure; `exchange` only
//! moves bytes; `HttpChecker` turns the outcome into a verdict with a reason.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::{HttpCheck, HttpProtocol, StatusCodes};
use crate::tcp::{self, ConnectError};
use crate::timeout::within;
use crate::tls::{self, TlsConfigError};
use crate::verdict::CheckResult;

/// Read size per system call; small because thousands of checks may be in flight at once.
const READ_BUFFER_BYTES: usize = 4096;

/// First read of a health check (see `exchange_reading`).
const CHECK_FIRST_READ_BYTES: usize = 1024;

/// Longest reply head accepted; keepalived's own buffer is smaller.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// `Host:` value keepalived sends without a virtualhost: `ip:port` (`[ip]:port` for IPv6).
pub fn default_host(target: SocketAddr) -> String {
    target.to_string()
}

/// The request keepalived's checker and genhash send, byte for byte (checked against
/// keepalived 2.2.7's genhash by capturing what it sent to a test server).
pub fn request_bytes(path: &str, host: &str, protocol: HttpProtocol) -> Vec<u8> {
    let (version, close) = match protocol {
        HttpProtocol::Http10 => ("1.0", false),
        HttpProtocol::Http10Close => ("1.0", true),
        HttpProtocol::Http11 => ("1.1", true),
    };
    let mut request = format!("GET {path} HTTP/{version}\r\nUser-Agent: KeepAliveClient\r\n");
    if close {
        request.push_str("Connection: close\r\n");
    }
    request.push_str(&format!("Host: {host}\r\n\r\n"));
    request.into_bytes()
}

/// A malformed or oversized reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("connection closed before the end of the reply head ({received} bytes received)")]
    NoHead { received: usize },
    #[error("reply head longer than {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("reply body longer than {limit} bytes")]
    BodyTooLarge { limit: u64 },
}

/// A complete reply, as far as the checks need it (the body itself is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Raw head bytes including the blank line.
    pub head: Vec<u8>,
    /// Status code, or the parse error of a malformed head.
    pub status: Result<u16, String>,
    pub body_len: u64,
    pub digest: [u8; 16],
}

impl Reply {
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What one `feed` call found in the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fed {
    /// The head was completed by these bytes.
    pub head_completed: bool,
    /// Range of the given bytes that counted as body (and went into the digest).
    pub body: std::ops::Range<usize>,
    /// The body is complete (Content-Length reached); stop reading.
    pub complete: bool,
}

/// Incremental reply parser and digester: bytes in as they arrive, `finish` at the end.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    head: Vec<u8>,
    head_done: bool,
    status: Result<u16, String>,
    content_length: Option<u64>,
    body_len: u64,
    md5: Md5,
    max_body: u64,
}

impl ResponseReader {
    pub fn new(max_body: u64) -> Self {
        ResponseReader {
            head: Vec::new(),
            head_done: false,
            status: Err("no reply".to_string()),
            content_length: None,
            body_len: 0,
            md5: Md5::new(),
            max_body,
        }
    }

    pub fn head_done(&self) -> bool {
        self.head_done
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }

    pub fn feed(&mut self, data: &[u8]) -> Result<Fed, ReplyError> {
        let mut start = 0;
        let mut head_completed = false;
        if !self.head_done {
            // The blank line may straddle two reads: search from 3 bytes before the new data.
            let search_from = self.head.len().saturating_sub(3);
            self.head.extend_from_slice(data);
            match find_blank_line(&self.head[search_from..]) {
                Some(end) => {
                    let head_end = search_from + end;
                    if head_end > MAX_HEAD_BYTES {
                        return Err(ReplyError::HeadTooLarge {
                            limit: MAX_HEAD_BYTES,
                        });
                    }
                    start = data.len() - (self.head.len() - head_end);
                    self.head.truncate(head_end);
                    self.head_done = true;
                    head_completed = true;
                    self.parse_head();
                }
                None => {
                    if self.head.len() > MAX_HEAD_BYTES {
                        return Err(ReplyError::HeadTooLarge {
                            limit: MAX_HEAD_BYTES,
                        });
                    }
                    return Ok(Fed {
                        head_completed: false,
                        body: 0..0,
                        complete: false,
                    });
                }
            }
        }
        let available = (data.len() - start) as u64;
        let wanted = match self.content_length {
            Some(total) => available.min(total.saturating_sub(self.body_len)),
            None => available,
        };
        if self.body_len + wanted > self.max_body {
            return Err(ReplyError::BodyTooLarge {
                limit: self.max_body,
            });
        }
        // `wanted <= available`, which came from a slice length.
        let end = start + wanted as usize;
        self.md5.update(&data[start..end]);
        self.body_len += wanted;
        let complete = self
            .content_length
            .is_some_and(|total| self.body_len >= total);
        Ok(Fed {
            head_completed,
            body: start..end,
            complete,
        })
    }

    /// The reply once the peer closed or Content-Length was reached.
    pub fn finish(self) -> Result<Reply, ReplyError> {
        if !self.head_done {
            return Err(ReplyError::NoHead {
                received: self.head.len(),
            });
        }
        Ok(Reply {
            head: self.head,
            status: self.status,
            body_len: self.body_len,
            digest: self.md5.finalize().into(),
        })
    }

    fn parse_head(&mut self) {
        let mut headers = [httparse::EMPTY_HEADER; 100];
        let mut response = httparse::Response::new(&mut headers);
        self.status = match response.parse(&self.head) {
            Ok(httparse::Status::Complete(_)) => {
                response.code.ok_or_else(|| "no status code".to_string())
            }
            Ok(httparse::Status::Partial) => Err("incomplete head".to_string()),
            Err(e) => Err(e.to_string()),
        };
        // Content-Length is honoured even in a head httparse rejects, like keepalived does.
        self.content_length = self.head.split(|&b| b == b'\n').find_map(|line| {
            let text = std::str::from_utf8(line).ok()?;
            let (name, value) = text.split_once(':')?;
            if name.trim().eq_ignore_ascii_case("content-length") {
                value.trim().parse().ok()
            } else {
                None
            }
        });
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
}

/// Why an exchange failed at the I/O level; the texts are keepalived's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("timed out sending the request after {0:?}")]
    WriteTimeout(Duration),
    #[error("sending the request: {0}")]
    Write(io::Error),
    #[error("timed out reading the reply after {0:?}")]
    ReadTimeout(Duration),
    #[error("reading the reply: {0}")]
    Read(io::Error),
    #[error("{0}")]
    Reply(#[from] ReplyError),
}

/// One event of an exchange, for genhash's verbose output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeEvent<'a> {
    Head(&'a [u8]),
    Body(&'a [u8]),
}

/// Sends `request` and reads the reply until close or Content-Length, each I/O step bounded
/// by `io_timeout` (keepalived's connect_timeout applies to every step, not the whole).
pub async fn exchange<S, F>(
    stream: &mut S,
    request: &[u8],
    io_timeout: Duration,
    max_body: u64,
    on_event: F,
) -> Result<Reply, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(ExchangeEvent<'_>),
{
    // genhash's verbose dump shows each read: keep keepalived's read size throughout.
    exchange_reading(
        stream,
        request,
        io_timeout,
        max_body,
        READ_BUFFER_BYTES,
        on_event,
    )
    .await
}

/// `exchange` with a smaller first read. The read buffer exists while the reply is awaited,
/// and with thousands of checks in flight (a slow pool) those buffers are most of the
/// checker's memory; a health reply usually fits in `first_read` bytes, and a reply that
/// fills it switches to full-size reads.
async fn exchange_reading<S, F>(
    stream: &mut S,
    request: &[u8],
    io_timeout: Duration,
    max_body: u64,
    first_read: usize,
    on_event: F,
) -> Result<Reply, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(ExchangeEvent<'_>),
{
    match within(io_timeout, stream.write_all(request)).await {
        Err(_) => return Err(ExchangeError::WriteTimeout(io_timeout)),
        Ok(Err(e)) => return Err(ExchangeError::Write(e)),
        Ok(Ok(())) => {}
    }
    let _ = within(io_timeout, stream.flush()).await;
    let reader = ResponseReader::new(max_body);
    let buffer = vec![0u8; first_read.clamp(1, READ_BUFFER_BYTES)];
    read_reply(stream, io_timeout, reader, buffer, on_event).await
}

/// Reads the rest of a reply into `reader`, each read bounded by `io_timeout`.
async fn read_reply<S, F>(
    stream: &mut S,
    io_timeout: Duration,
    mut reader: ResponseReader,
    mut buffer: Vec<u8>,
    mut on_event: F,
) -> Result<Reply, ExchangeError>
where
    S: AsyncRead + Unpin,
    F: FnMut(ExchangeEvent<'_>),
{
    loop {
        let n = match within(io_timeout, stream.read(&mut buffer)).await {
            Err(_) => return Err(ExchangeError::ReadTimeout(io_timeout)),
            // TLS peers that close without close_notify: the reply ends there all the same.
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof && reader.head_done() => 0,
            Ok(Err(e)) => return Err(ExchangeError::Read(e)),
            Ok(Ok(n)) => n,
        };
        if n == 0 || take(&mut reader, &mut buffer, n, &mut on_event)? {
            break;
        }
    }
    Ok(reader.finish()?)
}

/// Feeds the `n` bytes just read into `buffer` to `reader`; `true` once the reply is
/// complete (Content-Length reached). A read that filled the buffer grows it to full size.
fn take<F>(
    reader: &mut ResponseReader,
    buffer: &mut Vec<u8>,
    n: usize,
    on_event: &mut F,
) -> Result<bool, ReplyError>
where
    F: FnMut(ExchangeEvent<'_>),
{
    let full = n == buffer.len();
    let data = &buffer[..n];
    let fed = reader.feed(data)?;
    if fed.head_completed {
        on_event(ExchangeEvent::Head(reader.head()));
    }
    if !fed.body.is_empty() {
        on_event(ExchangeEvent::Body(&data[fed.body.clone()]));
    }
    if !fed.complete && full && buffer.len() < READ_BUFFER_BYTES {
        buffer.resize(READ_BUFFER_BYTES, 0);
    }
    Ok(fed.complete)
}

/// A plain HTTP exchange in the runner's start slots: connect now, send the request at
/// `slot` (the runner's next start slot), read the reply one slot later. A check normally
/// costs the runner two wake-ups of its own (the connection is up; the reply is in) plus
/// registering and deregistering its socket with the reactor; here the socket is never
/// registered and both steps run in the wake-ups that start the checks of those slots.
/// A step that is not ready then (a connection still being set up, a reply not yet
/// complete) falls back to waiting for the socket as the unslotted exchange does, with the
/// same timeouts. The check's duration then counts in slots: about two.
async fn exchange_in_slots<F>(
    connection: &crate::config::Connection,
    request: &[u8],
    started: tokio::time::Instant,
    slot: tokio::time::Instant,
    max_body: u64,
    first_read: usize,
    mut on_event: F,
) -> Result<Result<Reply, ExchangeError>, ConnectError>
where
    F: FnMut(ExchangeEvent<'_>),
{
    let timeout = connection.connect_timeout;
    let begun = tcp::begin(connection)?;
    tokio::time::sleep_until(slot).await;
    let written = match begun.try_send(request) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(e) => return Ok(Err(ExchangeError::Write(e))),
    };
    if written < request.len() {
        let mut stream = begun.wait_connected(started + timeout, timeout).await?;
        return Ok(exchange_reading(
            &mut stream,
            &request[written..],
            timeout,
            max_body,
            first_read,
            on_event,
        )
        .await);
    }
    tokio::time::sleep_until(slot + crate::schedule::START_SLOT).await;
    let mut reader = ResponseReader::new(max_body);
    let mut buffer = vec![0u8; first_read.clamp(1, READ_BUFFER_BYTES)];
    loop {
        match begun.try_recv(&mut buffer) {
            Ok(0) => return Ok(reader.finish().map_err(ExchangeError::from)),
            Ok(n) => match take(&mut reader, &mut buffer, n, &mut on_event) {
                Ok(true) => return Ok(reader.finish().map_err(ExchangeError::from)),
                Ok(false) => {}
                Err(e) => return Ok(Err(e.into())),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Ok(Err(ExchangeError::Read(e))),
        }
    }
    let mut stream = match begun.into_stream() {
        Ok(stream) => stream,
        Err(e) => return Ok(Err(ExchangeError::Read(e))),
    };
    Ok(read_reply(&mut stream, timeout, reader, buffer, on_event).await)
}

/// `exchange_in_slots` through the runner's ring (see `slot_ring`): the socket is opened
/// here, its connect, send and first read go to the ring as one chain, submitted with the
/// other chains of its start slot and looked at in the next slot. A reply longer than that read goes on
/// as the unslotted exchange does, with the same timeouts; the socket is closed through
/// the ring. Gives what `exchange_in_slots` gives, in every case; a ring that broke makes
/// the check inconclusive (its verdict kept) and the next ones take plain system calls.
async fn exchange_in_ring<F>(
    ring: &Arc<crate::slot_ring::SlotRing>,
    connection: &crate::config::Connection,
    request: &[u8],
    started: tokio::time::Instant,
    max_body: u64,
    first_read: usize,
    mut on_event: F,
) -> Result<Result<Reply, ExchangeError>, ConnectError>
where
    F: FnMut(ExchangeEvent<'_>),
{
    use crate::slot_ring::{ChainError, Stage};
    let timeout = connection.connect_timeout;
    let target = connection.target();
    let read_size = first_read.clamp(1, READ_BUFFER_BYTES);
    // A socket with nothing to set on it is opened on the ring too.
    let plain_socket = connection.bindto().is_none()
        && connection.bind_port().is_none()
        && connection.fwmark == 0
        && connection.bind_if().is_none();
    let opened = plain_socket
        .then(|| ring.exchange_opening(target.into(), request, read_size))
        .flatten();
    let mut pending = match opened {
        Some(pending) => pending,
        None => {
            let socket = tcp::open_socket(connection)?;
            let Ok(pending) = ring.exchange(socket, target.into(), request, read_size) else {
                // The ring broke since the caller looked: this check is inconclusive.
                return Err(ConnectError::LocalResources {
                    target,
                    source: io::Error::other("io_uring failed"),
                });
            };
            pending
        }
    };
    let done = match tokio::time::timeout_at(started + timeout, &mut pending).await {
        Ok(done) => done,
        Err(_) => {
            return match pending.stage() {
                Stage::Connecting => Err(ConnectError::Timeout { target, timeout }),
                Stage::Sending => Ok(Err(ExchangeError::WriteTimeout(timeout))),
                Stage::Reading => Ok(Err(ExchangeError::ReadTimeout(timeout))),
            }
        }
    };
    let exchanged = match done {
        Ok(exchanged) => exchanged,
        Err(ChainError::Open(e)) => return Err(tcp::socket_error(target, e)),
        Err(broken @ ChainError::Broken(_)) => {
            return Err(ConnectError::LocalResources {
                target,
                source: io::Error::other(broken),
            })
        }
    };
    let crate::slot_ring::Exchanged {
        socket,
        connect,
        sent,
        received,
        mut buffer,
    } = exchanged;
    // As the plain exchange sees it: a failed connect is the first write's error.
    let sent = match connect.and(sent) {
        Ok(n) => n,
        Err(e) => {
            ring.close(socket);
            return Ok(Err(ExchangeError::Write(e)));
        }
    };
    let mut reader = ResponseReader::new(max_body);
    if sent < request.len() {
        // A short send (the link broke there): finish as the unslotted exchange does.
        let Ok(mut stream) = tokio::net::TcpStream::from_std(std::net::TcpStream::from(socket))
        else {
            return Ok(Err(ExchangeError::Write(io::Error::other(
                "cannot hand the socket to the runtime",
            ))));
        };
        return Ok(exchange_reading(
            &mut stream,
            &request[sent..],
            timeout,
            max_body,
            first_read,
            on_event,
        )
        .await);
    }
    let n = match received {
        Ok(n) => n,
        Err(e) => {
            ring.close(socket);
            return Ok(Err(ExchangeError::Read(e)));
        }
    };
    let complete = n == 0 || {
        match take(&mut reader, &mut buffer, n, &mut on_event) {
            Ok(complete) => complete,
            Err(e) => {
                ring.close(socket);
                return Ok(Err(e.into()));
            }
        }
    };
    if complete {
        ring.close(socket);
        return Ok(reader.finish().map_err(ExchangeError::from));
    }
    let mut stream = match tokio::net::TcpStream::from_std(std::net::TcpStream::from(socket)) {
        Ok(stream) => stream,
        Err(e) => return Ok(Err(ExchangeError::Read(e))),
    };
    Ok(read_reply(&mut stream, timeout, reader, buffer, on_event).await)
}

/// Either a plain or a TLS connection, so one exchange serves HTTP_GET and SSL_GET.
pub enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Why a connection for an HTTP check could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpConnectError {
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("TLS handshake: {0}")]
    Handshake(io::Error),
    #[error("TLS handshake timed out after {0:?}")]
    HandshakeTimeout(Duration),
}

/// An HTTP_GET or SSL_GET checker, ready to run (TLS configuration built once).
pub struct HttpChecker {
    spec: HttpCheck,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl HttpChecker {
    /// SSL_GET (HTTP over TLS), not HTTP_GET.
    pub fn is_ssl(&self) -> bool {
        self.tls.is_some()
    }

    pub fn new(spec: HttpCheck) -> Result<Self, TlsConfigError> {
        let tls = match &spec.tls {
            Some(options) => Some(tokio_rustls::TlsConnector::from(tls::client_config(
                options,
            )?)),
            None => None,
        };
        Ok(HttpChecker { spec, tls })
    }

    /// Shares one TLS configuration between many checkers (the runner caches them).
    pub fn with_tls_config(spec: HttpCheck, config: Option<Arc<rustls::ClientConfig>>) -> Self {
        HttpChecker {
            spec,
            tls: config.map(tokio_rustls::TlsConnector::from),
        }
    }

    pub fn spec(&self) -> &HttpCheck {
        &self.spec
    }

    fn keyword(&self) -> &'static str {
        if self.spec.tls.is_some() {
            "SSL_GET"
        } else {
            "HTTP_GET"
        }
    }

    fn url_text(&self, path: &str) -> String {
        let scheme = if self.spec.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.spec.connection.target())
    }

    fn host_for(&self, index: usize) -> String {
        self.spec
            .urls
            .get(index)
            .and_then(|u| u.virtualhost.clone())
            .or_else(|| self.spec.virtualhost.clone())
            .unwrap_or_else(|| default_host(self.spec.connection.target()))
    }

    pub async fn connect(&self, sni: Option<&str>) -> Result<Stream, HttpConnectError> {
        let tcp = tcp::connect(&self.spec.connection).await?;
        let Some(connector) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = tls::server_name(sni, self.spec.connection.connect_ip);
        let timeout = self.spec.connection.connect_timeout;
        match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
            Err(_) => Err(HttpConnectError::HandshakeTimeout(timeout)),
            Ok(Err(e)) => Err(HttpConnectError::Handshake(e)),
            Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream))),
        }
    }

    /// Whether a slot given to `check_in_slots` is used: a plain HTTP_GET whose
    /// `connect_timeout` leaves room for two slots of waiting.
    pub fn does_io_in_slots(&self) -> bool {
        self.tls.is_none() && self.spec.connection.connect_timeout >= tcp::SLOTTED_MIN_TIMEOUT
    }

    /// One attempt: URL `index` of the checker.
    pub async fn check(&self, index: usize) -> CheckResult {
        self.check_started_at(index, tokio::time::Instant::now())
            .await
    }

    /// `check` for a caller that already knows the time (the runner, just woken for it).
    pub async fn check_started_at(
        &self,
        index: usize,
        started: tokio::time::Instant,
    ) -> CheckResult {
        self.check_in_slots(index, started, None, None).await
    }

    /// `check_started_at` for a runner that starts checks in slots: with `slot` (its next
    /// start slot) a plain HTTP_GET sends and reads in that slot and the next (see
    /// `exchange_in_slots`); SSL_GET, a short `connect_timeout` or no slot take the usual
    /// exchange. With `ring` (the runner's, see `slot_ring`) the slotted exchange's
    /// connect, send and first read go through it. All give the same verdicts and reasons.
    pub async fn check_in_slots(
        &self,
        index: usize,
        started: tokio::time::Instant,
        slot: Option<tokio::time::Instant>,
        ring: Option<&Arc<crate::slot_ring::SlotRing>>,
    ) -> CheckResult {
        let Some(url) = self.spec.urls.get(index) else {
            return CheckResult::Failure {
                reason: format!("{}: no url #{index} configured", self.keyword()),
            };
        };
        let what = format!("{} {}", self.keyword(), self.url_text(&url.path));
        let fail = |why: String| CheckResult::Failure {
            reason: format!("{what}: {why}"),
        };
        let host = self.host_for(index);
        let sni = self.spec.tls.as_ref().and_then(|t| t.sni.as_deref());
        let target = self.spec.connection.target();
        let connect_failed = |e: HttpConnectError| match e {
            HttpConnectError::Connect(e) if e.is_local() => CheckResult::Inconclusive {
                reason: format!("{what}: {e}"),
            },
            e => fail(e.to_string()),
        };
        let request = request_bytes(&url.path, &host, self.spec.http_protocol);
        let max = self.spec.max_body_bytes;
        // The reply is kept only for a `regex` (bounded by the head and body
        // limits). The subject is head and body, as keepalived matches the
        // raw reply when head and body arrive together, as they usually do
        // for a health page: its offsets count from the status line.
        let mut body = Vec::new();
        let mut keep_body = |event: ExchangeEvent<'_>| {
            if url.regex.is_some() {
                match event {
                    ExchangeEvent::Head(bytes) | ExchangeEvent::Body(bytes) => {
                        body.extend_from_slice(bytes)
                    }
                }
            }
        };
        let first = CHECK_FIRST_READ_BYTES;
        let slotted = slot.filter(|_| self.does_io_in_slots());
        let (reply, plain) = if let Some(slot) = slotted {
            let connection = &self.spec.connection;
            let exchanged = match ring.filter(|r| !r.is_broken()) {
                Some(ring) => {
                    exchange_in_ring(
                        ring,
                        connection,
                        &request,
                        started,
                        max,
                        first,
                        &mut keep_body,
                    )
                    .await
                }
                None => {
                    exchange_in_slots(
                        connection,
                        &request,
                        started,
                        slot,
                        max,
                        first,
                        &mut keep_body,
                    )
                    .await
                }
            };
            match exchanged {
                Ok(reply) => (reply, true),
                Err(e) => return connect_failed(e.into()),
            }
        } else {
            match self
                .exchange_unslotted(started, sni, &request, first, &mut keep_body)
                .await
            {
                Ok(done) => done,
                Err(e) => return connect_failed(e),
            }
        };
        match reply {
            Err(ExchangeError::Write(e)) if plain => {
                fail(tcp::unconfirmed_connect_error(target, e).to_string())
            }
            Err(e) => fail(e.to_string()),
            // As keepalived: status, then digest, then regex.
            Ok(reply) => {
                match judge(&reply, url.digest.as_deref(), &url.status_codes).and_then(|detail| {
                    match &url.regex {
                        None => Ok(detail),
                        Some(regex) => regex.judge(&body).map(|m| format!("{detail}, {m}")),
                    }
                }) {
                    Ok(detail) => CheckResult::Success {
                        weight_code: None,
                        detail: format!("{what}: {detail}"),
                    },
                    Err(why) => fail(why),
                }
            }
        }
    }

    /// The usual exchange: connect (and handshake), then send and read, each step woken by
    /// its socket. Also says whether the connection is plain.
    async fn exchange_unslotted<F>(
        &self,
        started: tokio::time::Instant,
        sni: Option<&str>,
        request: &[u8],
        first: usize,
        on_event: F,
    ) -> Result<(Result<Reply, ExchangeError>, bool), HttpConnectError>
    where
        F: FnMut(ExchangeEvent<'_>),
    {
        let connected = match self.tls {
            // Plain HTTP writes at once: the request's write confirms the connection.
            None => tcp::connect_unconfirmed(
                &self.spec.connection,
                started + self.spec.connection.connect_timeout,
            )
            .await
            .map(Stream::Plain)
            .map_err(HttpConnectError::from),
            Some(_) => self.connect(sni).await,
        };
        let mut stream = connected?;
        let timeout = self.spec.connection.connect_timeout;
        let max = self.spec.max_body_bytes;
        Ok(match &mut stream {
            Stream::Plain(s) => (
                exchange_reading(s, request, timeout, max, first, on_event).await,
                true,
            ),
            Stream::Tls(s) => {
                let s = s.as_mut();
                (
                    exchange_reading(s, request, timeout, max, first, on_event).await,
                    false,
                )
            }
        })
    }
}

/// The verdict on a complete reply: the status must be in `status_code` (default 200-299,
/// applied even when a digest is configured), then the digest must match if one is given.
/// Observed with keepalived 2.2.7 in UML: a URL with a matching `digest` on a 503 reply and
/// no `status_code` stays down; with `status_code 503` it comes up.
pub fn judge(
    reply: &Reply,
    digest: Option<&str>,
    status_codes: &StatusCodes,
) -> Result<String, String> {
    let code = match &reply.status {
        Ok(code) => *code,
        Err(e) => return Err(format!("malformed reply head: {e}")),
    };
    if !status_codes.accepts(code) {
        return Err(format!(
            "status {code}, expected {}",
            status_codes.describe()
        ));
    }
    match digest {
        None => Ok(format!("status {code}")),
        Some(expected) => {
            let actual = reply.digest_hex();
            if actual.eq_ignore_ascii_case(expected.trim()) {
                Ok(format!("status {code}, digest matches"))
            } else {
                Err(format!(
                    "digest {actual}, expected {}",
                    expected.trim().to_ascii_lowercase()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]], max_body: u64) -> Result<(Reply, Vec<Vec<u8>>), ReplyError> {
        let mut r = ResponseReader::new(max_body);
        let mut bodies = Vec::new();
        for c in chunks {
            let fed = r.feed(c)?;
            if !fed.body.is_empty() {
                bodies.push(c[fed.body.clone()].to_vec());
            }
            if fed.complete {
                break;
            }
        }
        Ok((r.finish()?, bodies))
    }

    #[test]
    fn request_matches_keepalived_genhash() {
        // Captured from `genhash -s 127.0.0.1 -p 18103 -u /y [-P ..] [-V ..]` (keepalived 2.2.7)
        // by a test server that saved the request bytes.
        assert_eq!(
            request_bytes("/y", "127.0.0.1:18103", HttpProtocol::Http10),
            b"GET /y HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:18103\r\n\r\n"
        );
        assert_eq!(
            request_bytes("/y", "www.example.com", HttpProtocol::Http11),
            b"GET /y HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.com\r\n\r\n"
        );
        assert_eq!(
            request_bytes("/y", "h", HttpProtocol::Http10Close),
            b"GET /y HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: h\r\n\r\n"
        );
        assert_eq!(default_host("[::1]:80".parse().expect("addr")), "[::1]:80");
    }

    // Digests below: keepalived 2.2.7 `genhash -s 127.0.0.1 -p P -u /x` against test servers
    // sending exactly these replies.
    #[test]
    fn chunked_body_is_hashed_with_its_framing() {
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let (r, _) = feed_all(&[reply], 1 << 20).expect("reply");
        assert_eq!(r.digest_hex(), "fc3946cc674492e3e09d9e45c4c09023");
        assert_eq!(r.status, Ok(200));
    }

    #[test]
    fn content_length_cuts_the_body() {
        let (r, bodies) = feed_all(
            &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"],
            100,
        )
        .expect("reply");
        assert_eq!(r.digest_hex(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(bodies, vec![b"hello".to_vec()]);
    }

    #[test]
    fn close_delimited_body_and_split_blank_line() {
        let (r, _) = feed_all(
            &[
                b"HTTP/1.0 200 OK\r",
                b"\n\r",
                b"\nclose delimited",
                b" body",
            ],
            100,
        )
        .expect("reply");
        assert_eq!(r.digest_hex(), "dcdce72aaeaa72613694698be0b90b20");
        assert_eq!(r.head, b"HTTP/1.0 200 OK\r\n\r\n");
    }

    #[test]
    fn garbage_head_still_digests_after_the_blank_line() {
        let (r, _) = feed_all(&[b"garbage garbage\r\n\r\nxx"], 100).expect("reply");
        assert_eq!(r.digest_hex(), "9336ebf25087d91c818ee6e9ec29f8c1");
        assert!(r.status.is_err());
        assert_eq!(
            judge(&r, None, &StatusCodes::default()),
            Err("malformed reply head: invalid HTTP version".to_string())
        );
    }

    #[test]
    fn oversized_body_and_head_are_errors() {
        let big = vec![b'a'; 200];
        let err = feed_all(&[b"HTTP/1.0 200 OK\r\n\r\n", &big], 100).err();
        assert_eq!(err, Some(ReplyError::BodyTooLarge { limit: 100 }));
        let head = vec![b'h'; MAX_HEAD_BYTES + 10];
        assert_eq!(
            feed_all(&[&head], 100).err(),
            Some(ReplyError::HeadTooLarge {
                limit: MAX_HEAD_BYTES
            })
        );
        assert_eq!(
            feed_all(&[b"HTTP/1.1 200 OK\r\nX: y"], 100).err(),
            Some(ReplyError::NoHead { received: 21 })
        );
    }

    /// The property the fuzz target checks, with proptest: no panic, and the outcome does
    /// not depend on how the reply was cut into reads.
    type Outcome = Result<([u8; 16], Result<u16, String>, u64), ReplyError>;

    fn outcome(data: &[u8], step: usize) -> Outcome {
        let mut r = ResponseReader::new(4096);
        for piece in data.chunks(step.max(1)) {
            if r.feed(piece)?.complete {
                break;
            }
        }
        let reply = r.finish()?;
        Ok((reply.digest, reply.status, reply.body_len))
    }

    proptest::proptest! {
        #[test]
        fn read_boundaries_do_not_matter(
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000),
            cl in proptest::option::of(0usize..6000),
            step in 1usize..64,
        ) {
            let mut data = b"HTTP/1.1 200 OK\r\n".to_vec();
            if let Some(cl) = cl {
                data.extend_from_slice(format!("Content-Length: {cl}\r\n").as_bytes());
            }
            data.extend_from_slice(&head);
            data.extend_from_slice(b"\r\n\r\n");
            data.extend_from_slice(&body);
            proptest::prop_assert_eq!(outcome(&data, data.len()), outcome(&data, step));
            // Pure garbage too.
            proptest::prop_assert_eq!(outcome(&body, body.len().max(1)), outcome(&body, step));
        }
    }

    #[test]
    fn judge_status_and_digest() {
        let (r, _) = feed_all(
            &[b"HTTP/1.1 503 Unavail\r\nContent-Length: 3\r\n\r\nbad"],
            100,
        )
        .expect("reply");
        let exact = StatusCodes {
            ranges: vec![(200, 200)],
        };
        assert_eq!(
            judge(&r, None, &exact),
            Err("status 503, expected 200".to_string())
        );
        assert_eq!(
            judge(&r, None, &StatusCodes::default()),
            Err("status 503, expected 200-299".to_string())
        );
        let ranges = StatusCodes {
            ranges: vec![(200, 299), (503, 503)],
        };
        assert_eq!(judge(&r, None, &ranges), Ok("status 503".to_string()));
        // A matching digest of "bad" without status_code: 200-299 still applies.
        assert_eq!(
            judge(
                &r,
                Some("bae60998ffe4923b131e3d6e4c19993e"),
                &StatusCodes::default()
            ),
            Err("status 503, expected 200-299".to_string())
        );
        assert_eq!(
            judge(
                &r,
                Some("BAE60998FFE4923B131E3D6E4C19993E"),
                &StatusCodes {
                    ranges: vec![(503, 503)]
                }
            ),
            Ok("status 503, digest matches".to_string())
        );
        assert_eq!(
            judge(&r, Some("00000000000000000000000000000000"), &ranges),
            Err("digest bae60998ffe4923b131e3d6e4c19993e, expected 00000000000000000000000000000000".to_string())
        );
    }
}
