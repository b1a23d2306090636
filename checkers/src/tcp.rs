//! TCP_CHECK and the connection step every TCP-based check shares.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

use crate::config::{Connection, TcpCheck};
use crate::verdict::{AttemptError, CheckResult};

#[derive(Debug, thiserror::Error)]
/// Why a connection to `target` failed; messages leave the target to the caller's context.
pub enum ConnectError {
    #[error("connection refused")]
    Refused { target: SocketAddr },
    #[error("connect timed out after {timeout:?}")]
    Timeout {
        target: SocketAddr,
        timeout: Duration,
    },
    #[error("bind to {bind}: {source}")]
    Bind { bind: SocketAddr, source: io::Error },
    #[error("connect: {source}")]
    Other {
        target: SocketAddr,
        source: io::Error,
    },
    /// This host could not open a socket (out of file descriptors, buffers
    /// or memory): says nothing about the real server.
    #[error("cannot open a socket here: {source}")]
    LocalResources {
        target: SocketAddr,
        source: io::Error,
    },
}

impl ConnectError {
    /// `true` when the failure is this host's, not the real server's.
    pub fn is_local(&self) -> bool {
        matches!(self, ConnectError::LocalResources { .. })
    }
}

/// Errors of socket creation that mean this host ran out of something
/// (EMFILE, ENFILE, ENOBUFS, ENOMEM) rather than anything about the target.
pub fn is_local_resource_error(error: &io::Error) -> bool {
    use nix::libc::{EMFILE, ENFILE, ENOBUFS, ENOMEM};
    matches!(
        error.raw_os_error(),
        Some(EMFILE | ENFILE | ENOBUFS | ENOMEM)
    )
}

/// The error of creating the socket itself.
pub(crate) fn socket_error(target: SocketAddr, source: io::Error) -> ConnectError {
    if is_local_resource_error(&source) {
        ConnectError::LocalResources { target, source }
    } else {
        ConnectError::Other { target, source }
    }
}

/// Opens a TCP connection as the check describes: optional source address (`bindto`,
/// `bind_port`), optional SO_MARK (`fwmark`), bounded by `connect_timeout`.
pub async fn connect(connection: &Connection) -> Result<TcpStream, ConnectError> {
    connect_by(
        connection,
        tokio::time::Instant::now() + connection.connect_timeout,
    )
    .await
}

/// `connect`, finished by `deadline`: a caller that knows when its check started passes
/// that start plus `connect_timeout`, which spares a clock read per check (in the UML test
/// bed, which has no vDSO, every clock read is a system call).
pub async fn connect_by(
    connection: &Connection,
    deadline: tokio::time::Instant,
) -> Result<TcpStream, ConnectError> {
    let target = connection.target();
    let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(open_socket(connection)?));
    match tokio::time::timeout_at(deadline, socket.connect(target)).await {
        Err(_) => Err(ConnectError::Timeout {
            target,
            timeout: connection.connect_timeout,
        }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            Err(ConnectError::Refused { target })
        }
        Ok(Err(source)) => Err(ConnectError::Other { target, source }),
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// A non-blocking TCP socket for `connection`'s target, bound to its source address
/// (`bindto`, `bind_port`) and marked (`fwmark`) as the check describes.
pub(crate) fn open_socket(connection: &Connection) -> Result<Socket, ConnectError> {
    let target = connection.target();
    let socket = Socket::new(
        Domain::for_address(target),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
    .map_err(|source| socket_error(target, source))?;
    bind_and_mark(&socket, connection).map_err(|e| match e {
        SourceError::Bind { bind, source } => ConnectError::Bind { bind, source },
        SourceError::Mark(source) => ConnectError::Other { target, source },
    })?;
    Ok(socket)
}

/// Why a check socket could not take the source the check describes.
#[derive(Debug)]
pub(crate) enum SourceError {
    Bind {
        bind: SocketAddr,
        source: io::Error,
    },
    /// Setting SO_MARK or SO_BINDTODEVICE failed.
    Mark(io::Error),
}

/// Binds a check's socket to its source address (`bindto`, `bind_port`) and
/// marks it (`fwmark`), where the check says so (TCP and UDP checks alike).
pub(crate) fn bind_and_mark(socket: &Socket, connection: &Connection) -> Result<(), SourceError> {
    let target = connection.target();
    mark_and_bind_device(socket, connection).map_err(SourceError::Mark)?;
    if connection.bindto().is_some() || connection.bind_port().is_some() {
        let ip = connection.bindto().unwrap_or(if target.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        });
        let bind = SocketAddr::new(ip, connection.bind_port().unwrap_or(0));
        socket
            .bind(&bind.into())
            .map_err(|source| SourceError::Bind { bind, source })?;
    }
    Ok(())
}

/// `fwmark` (SO_MARK) and `bind_if` (SO_BINDTODEVICE) on a check's socket,
/// as keepalived sets them before binding and connecting.
pub(crate) fn mark_and_bind_device(socket: &Socket, connection: &Connection) -> io::Result<()> {
    if connection.fwmark != 0 {
        socket.set_mark(connection.fwmark)?;
    }
    if let Some(interface) = connection.bind_if() {
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(|e| io::Error::new(e.kind(), format!("bind_if {interface}: {e}")))?;
    }
    Ok(())
}

/// Like `connect`, but does not ask the socket whether the connection succeeded: it returns
/// once the socket is writable, and the first write reports a failed connection (refused,
/// unreachable) with the connect error itself. For a check that writes at once (HTTP_GET)
/// this saves the SO_ERROR query per check, one system call of about ten, which matters with
/// thousands of checks a second. The connect must complete by `deadline` (the caller knows
/// when the check started, which spares a clock read too).
pub async fn connect_unconfirmed(
    connection: &Connection,
    deadline: tokio::time::Instant,
) -> Result<TcpStream, ConnectError> {
    begin(connection)?
        .wait_connected(deadline, connection.connect_timeout)
        .await
}

/// A connection being set up whose socket is not registered with the runtime's reactor:
/// a caller that knows when to look (the slotted HTTP exchange) sends and reads without
/// waiting, and without the two system calls of registering and deregistering it.
pub struct Begun {
    socket: Socket,
    target: SocketAddr,
}

/// Opens `connection`'s socket and starts connecting, without waiting for the connection.
pub fn begin(connection: &Connection) -> Result<Begun, ConnectError> {
    let target = connection.target();
    let socket = open_socket(connection)?;
    match socket.connect(&target.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(ConnectError::Refused { target })
        }
        Err(source) => return Err(ConnectError::Other { target, source }),
    }
    Ok(Begun { socket, target })
}

impl Begun {
    /// Sends what the socket takes now; `WouldBlock` while the connection is still being
    /// set up, the connect error itself if it failed (refused, unreachable).
    pub fn try_send(&self, data: &[u8]) -> io::Result<usize> {
        // MSG_NOSIGNAL: a peer that reset the connection must not raise SIGPIPE.
        self.socket.send_with_flags(data, nix::libc::MSG_NOSIGNAL)
    }

    /// Reads what has arrived; `WouldBlock` if nothing has, 0 at the end of the stream.
    pub fn try_recv(&self, buffer: &mut [u8]) -> io::Result<usize> {
        use std::io::Read;
        (&self.socket).read(buffer)
    }

    /// Hands the socket to the runtime (registering it with the reactor) to wait on it.
    pub fn into_stream(self) -> io::Result<TcpStream> {
        TcpStream::from_std(std::net::TcpStream::from(self.socket))
    }

    /// Whether the connection is up: looks once, and waits (registered) only for one still
    /// being set up.
    pub async fn confirm(
        self,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<(), ConnectError> {
        let target = self.target;
        if self.socket.peer_addr().is_ok() {
            return Ok(());
        }
        match self.socket.take_error() {
            Ok(Some(e)) | Err(e) => return Err(unconfirmed_connect_error(target, e)),
            Ok(None) => {}
        }
        let stream = self.wait_connected(deadline, timeout).await?;
        match stream.take_error() {
            Ok(None) => Ok(()),
            Ok(Some(e)) | Err(e) => Err(unconfirmed_connect_error(target, e)),
        }
    }

    /// Waits, registered with the reactor, until the socket is writable (connected, or
    /// failed: the first write then reports the connect error), at most until `deadline`.
    pub async fn wait_connected(
        self,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<TcpStream, ConnectError> {
        let target = self.target;
        let stream = self
            .into_stream()
            .map_err(|source| ConnectError::Other { target, source })?;
        match tokio::time::timeout_at(deadline, stream.writable()).await {
            Err(_) => Err(ConnectError::Timeout { target, timeout }),
            Ok(Err(source)) => Err(ConnectError::Other { target, source }),
            Ok(Ok(())) => Ok(stream),
        }
    }
}

/// What a write error on a connection from `connect_unconfirmed` means when it is the first
/// write: the connection failed.
pub fn unconfirmed_connect_error(target: SocketAddr, error: io::Error) -> ConnectError {
    if error.kind() == io::ErrorKind::ConnectionRefused {
        ConnectError::Refused { target }
    } else {
        ConnectError::Other {
            target,
            source: error,
        }
    }
}

/// One TCP_CHECK attempt: the port accepts a connection within `connect_timeout`.
pub async fn check(check: &TcpCheck) -> CheckResult {
    check_started_at(check, tokio::time::Instant::now()).await
}

/// `check` for a caller that already knows when the check started (the runner).
pub async fn check_started_at(check: &TcpCheck, started: tokio::time::Instant) -> CheckResult {
    check_in_slots(check, started, None).await
}

/// The shortest `connect_timeout` for which a check looks at its connection in the runner's
/// next start slot rather than waiting on the socket (a slot must fit well within it).
pub const SLOTTED_MIN_TIMEOUT: Duration = Duration::from_millis(100);

/// Whether a slot given to `check_in_slots` is used: a `connect_timeout` that leaves room
/// for a slot of waiting.
pub fn does_io_in_slots(check: &TcpCheck) -> bool {
    check.connection.connect_timeout >= SLOTTED_MIN_TIMEOUT
}

/// `check_started_at` for a runner that starts checks in slots: given `slot` (its next
/// start slot), the connection is looked at then, in the wake-up that starts that slot's
/// checks, without registering the socket with the reactor (two system calls and a
/// wake-up fewer); one still being set up then is waited for as usual. Same verdicts and
/// reasons either way.
pub async fn check_in_slots(
    check: &TcpCheck,
    started: tokio::time::Instant,
    slot: Option<tokio::time::Instant>,
) -> CheckResult {
    let connection = &check.connection;
    let deadline = started + connection.connect_timeout;
    let connected = match slot.filter(|_| does_io_in_slots(check)) {
        None => connect_by(connection, deadline).await.map(drop),
        Some(slot) => match begin(connection) {
            Ok(begun) => {
                tokio::time::sleep_until(slot).await;
                begun.confirm(deadline, connection.connect_timeout).await
            }
            Err(e) => Err(e),
        },
    }
    .map(|()| "connected".to_string())
    .map_err(AttemptError::from);
    // Formatted after the await: the task (10,000 of them) holds no String.
    let what = format!("TCP_CHECK {}", check.connection.target());
    CheckResult::of_attempt(&what, connected)
}

impl From<ConnectError> for AttemptError {
    fn from(e: ConnectError) -> AttemptError {
        if e.is_local() {
            AttemptError::Local(e.to_string())
        } else {
            AttemptError::Server(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_this_hosts_problem_not_the_servers() {
        for errno in [
            nix::libc::EMFILE,
            nix::libc::ENFILE,
            nix::libc::ENOBUFS,
            nix::libc::ENOMEM,
        ] {
            let e = socket_error(
                "10.0.0.2:80".parse().expect("addr"),
                io::Error::from_raw_os_error(errno),
            );
            assert!(e.is_local(), "{e}");
        }
        let e = socket_error(
            "10.0.0.2:80".parse().expect("addr"),
            io::Error::from_raw_os_error(nix::libc::EAFNOSUPPORT),
        );
        assert!(!e.is_local());
    }

    #[test]
    fn a_failed_first_write_reads_as_the_connect_error() {
        let target: SocketAddr = "127.0.0.1:80".parse().expect("addr");
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            unconfirmed_connect_error(target, refused).to_string(),
            "connection refused"
        );
        let unreachable = io::Error::from_raw_os_error(nix::libc::EHOSTUNREACH);
        assert_eq!(
            unconfirmed_connect_error(target, unreachable).to_string(),
            format!(
                "connect: {}",
                io::Error::from_raw_os_error(nix::libc::EHOSTUNREACH)
            )
        );
    }
}
