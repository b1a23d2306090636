//! UDP_CHECK: one datagram to the real server. UDP has no handshake, so the
//! verdict rests on what comes back within `connect_timeout`: an ICMP error
//! (port, host or network unreachable) fails the check; a reply passes it
//! (if `require_reply` gives data, the reply must match); silence passes
//! unless a reply is required. The reply judgement is pure
//! (`ReplyPattern::mismatch`); the socket part only moves the bytes.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Connection, ReplyPattern, UdpCheck, UdpReply, UDP_FILLER_LEN};
use crate::tcp::{bind_and_mark, is_local_resource_error, SourceError};
use crate::verdict::{AttemptError, CheckResult};

impl ReplyPattern {
    /// Why `reply` (the datagram as received into a buffer of `max_len + 1`
    /// bytes, so a longer one shows as `max_len + 1`) does not match, or
    /// `None` when it does. Only as many bytes as both the reply and the
    /// pattern have are compared, as keepalived does.
    pub fn mismatch(&self, reply: &[u8]) -> Option<String> {
        let len = reply.len();
        if len < usize::from(self.min_len) {
            return Some(format!(
                "{len}-byte reply, shorter than min_reply_length {}",
                self.min_len
            ));
        }
        if len > usize::from(self.max_len) {
            return Some(format!(
                "reply longer than max_reply_length {}",
                self.max_len
            ));
        }
        let data = &self.data;
        let at = reply
            .iter()
            .zip(&data.bytes)
            .zip(&data.wildcard)
            .position(|((got, want), wild)| (got ^ want) & !wild != 0)?;
        Some(format!(
            "reply byte {at} is {:02x}, expected {}",
            reply[at],
            data.byte_text(at)
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum UdpError {
    /// This host could not open a socket: says nothing about the real server.
    #[error("cannot open a socket here: {0}")]
    LocalResources(io::Error),
    #[error("socket: {0}")]
    Socket(io::Error),
    #[error("bind to {bind}: {source}")]
    Bind { bind: SocketAddr, source: io::Error },
    #[error("port unreachable (ICMP)")]
    PortUnreachable,
    #[error("{0}")]
    Icmp(io::Error),
    #[error("no reply within {0:?}")]
    NoReply(std::time::Duration),
    #[error("{0}")]
    BadReply(String),
}

/// A non-blocking UDP socket connected to the check's target, bound and marked
/// as the check describes, reporting every ICMP error back (IP_RECVERR: without
/// it Linux reports only some of them, not host unreachable).
pub(crate) fn open_socket(connection: &Connection) -> Result<tokio::net::UdpSocket, UdpError> {
    let target = connection.target();
    let socket = Socket::new(
        Domain::for_address(target),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )
    .map_err(|e| {
        if is_local_resource_error(&e) {
            UdpError::LocalResources(e)
        } else {
            UdpError::Socket(e)
        }
    })?;
    let recv_err = if target.is_ipv4() {
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::Ipv4RecvErr, &true)
    } else {
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::Ipv6RecvErr, &true)
    };
    recv_err.map_err(|e| UdpError::Socket(e.into()))?;
    bind_and_mark(&socket, connection).map_err(|e| match e {
        SourceError::Bind { bind, source } => UdpError::Bind { bind, source },
        SourceError::Mark(source) => UdpError::Socket(source),
    })?;
    socket.connect(&target.into()).map_err(icmp_error)?;
    tokio::net::UdpSocket::from_std(socket.into()).map_err(UdpError::Socket)
}

/// A send or receive error on the connected socket: an ICMP error the kernel
/// reported for the target.
pub(crate) fn icmp_error(e: io::Error) -> UdpError {
    if e.kind() == io::ErrorKind::ConnectionRefused {
        UdpError::PortUnreachable
    } else {
        UdpError::Icmp(e)
    }
}

async fn exchange(check: &UdpCheck, deadline: tokio::time::Instant) -> Result<String, UdpError> {
    let socket = open_socket(&check.connection)?;
    let filler = [0u8; UDP_FILLER_LEN];
    let payload = check.payload.as_deref().unwrap_or(&filler);
    socket.send(payload).await.map_err(icmp_error)?;
    // Room for one byte more than the longest acceptable reply, so a longer
    // one is seen as too long; one byte when the content does not matter.
    let room = match &check.reply {
        UdpReply::Matching(p) => usize::from(p.max_len) + 1,
        UdpReply::NotRequired | UdpReply::Any => 1,
    };
    let mut buffer = vec![0u8; room];
    let timeout = check.connection.connect_timeout;
    match tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await {
        Err(_) => match check.reply {
            UdpReply::NotRequired => Ok(format!("no ICMP error within {timeout:?}")),
            UdpReply::Any | UdpReply::Matching(_) => Err(UdpError::NoReply(timeout)),
        },
        Ok(Err(e)) => Err(icmp_error(e)),
        Ok(Ok(n)) => match &check.reply {
            UdpReply::Matching(p) => match p.mismatch(&buffer[..n]) {
                Some(why) => Err(UdpError::BadReply(why)),
                None => Ok(format!("matching reply of {n} bytes")),
            },
            UdpReply::NotRequired | UdpReply::Any => Ok("reply received".to_string()),
        },
    }
}

/// One UDP_CHECK attempt.
pub async fn check(check: &UdpCheck) -> CheckResult {
    check_started_at(check, tokio::time::Instant::now()).await
}

/// `check` for a caller that already knows when the check started (the runner).
pub async fn check_started_at(check: &UdpCheck, started: tokio::time::Instant) -> CheckResult {
    let exchanged = exchange(check, started + check.connection.connect_timeout)
        .await
        .map_err(AttemptError::from);
    CheckResult::of_attempt(
        &format!("UDP_CHECK {}", check.connection.target()),
        exchanged,
    )
}

impl From<UdpError> for AttemptError {
    fn from(e: UdpError) -> AttemptError {
        match e {
            UdpError::LocalResources(_) => AttemptError::Local(e.to_string()),
            _ => AttemptError::Server(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HexBytes;

    fn pattern(bytes: &[u8], wildcard: &[u8], min_len: u16, max_len: u16) -> ReplyPattern {
        ReplyPattern {
            data: HexBytes {
                bytes: bytes.to_vec(),
                wildcard: wildcard.to_vec(),
            },
            min_len,
            max_len,
        }
    }

    #[test]
    fn a_reply_matches_on_the_bytes_both_have() {
        let p = pattern(&[0xab, 0x12, 0x0f], &[0, 0, 0], 0, 255);
        assert_eq!(p.mismatch(&[0xab, 0x12, 0x0f]), None);
        // Longer and shorter replies compare their common prefix.
        assert_eq!(p.mismatch(&[0xab, 0x12, 0x0f, 0x99]), None);
        assert_eq!(p.mismatch(&[0xab]), None);
        assert_eq!(p.mismatch(&[]), None);
        assert_eq!(
            p.mismatch(&[0xab, 0x13]).as_deref(),
            Some("reply byte 1 is 13, expected 12")
        );
    }

    #[test]
    fn wildcard_nibbles_match_anything() {
        // "x2 1x" in the config.
        let p = pattern(&[0x02, 0x10], &[0xf0, 0x0f], 0, 255);
        assert_eq!(p.mismatch(&[0xf2, 0x1a]), None);
        assert_eq!(p.mismatch(&[0x02, 0x10]), None);
        assert_eq!(
            p.mismatch(&[0x03, 0x10]).as_deref(),
            Some("reply byte 0 is 03, expected x2")
        );
        assert_eq!(
            p.mismatch(&[0x02, 0x20]).as_deref(),
            Some("reply byte 1 is 20, expected 1x")
        );
    }

    #[test]
    fn reply_length_must_lie_within_the_bounds() {
        let p = pattern(&[0x01], &[0], 2, 4);
        assert_eq!(
            p.mismatch(&[0x01]).as_deref(),
            Some("1-byte reply, shorter than min_reply_length 2")
        );
        assert_eq!(p.mismatch(&[0x01, 0, 0, 0]), None);
        assert_eq!(
            p.mismatch(&[0x01, 0, 0, 0, 0]).as_deref(),
            Some("reply longer than max_reply_length 4")
        );
    }
}
