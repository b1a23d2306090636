//! PING_CHECK: one ICMP / ICMPv6 echo request, the real server must answer in time.
//!
//! Uses an unprivileged datagram ICMP socket where net.ipv4.ping_group_range allows it and a
//! raw socket otherwise. Either is driven through tokio's UdpSocket, which only needs
//! sendto/recvfrom on the descriptor. The echo codec is pure.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::PingCheck;
use crate::verdict::{AttemptError, CheckResult};

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

/// The Internet checksum (RFC 1071).
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = match pair {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request. The checksum is filled in for ICMPv4; for ICMPv6 the kernel computes it
/// (it covers a pseudo-header only the kernel knows).
pub fn echo_request(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if v6 {
        ICMPV6_ECHO_REQUEST
    } else {
        ICMP_ECHO_REQUEST
    };
    let mut packet = vec![kind, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// An echo reply's identifier, sequence number and payload, or `None` for anything else.
/// `ip_header` says the bytes start with an IPv4 header (raw IPv4 sockets).
pub fn parse_echo_reply(v6: bool, ip_header: bool, bytes: &[u8]) -> Option<(u16, u16, &[u8])> {
    let icmp = if ip_header {
        let ihl = usize::from(bytes.first()? & 0x0f) * 4;
        bytes.get(ihl..)?
    } else {
        bytes
    };
    let expected = if v6 {
        ICMPV6_ECHO_REPLY
    } else {
        ICMP_ECHO_REPLY
    };
    if icmp.len() < 8 || icmp[0] != expected || icmp[1] != 0 {
        return None;
    }
    let id = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    Some((id, seq, &icmp[8..]))
}

struct PingSocket {
    socket: tokio::net::UdpSocket,
    /// Raw socket: replies to anyone's pings arrive, and IPv4 ones with their IP header.
    raw: bool,
}

/// Which ICMP socket to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Datagram (unprivileged) if the kernel allows it, raw otherwise.
    Auto,
    Raw,
}

fn open(ip: IpAddr, kind: SocketKind) -> io::Result<PingSocket> {
    let (domain, protocol) = match ip {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    let datagram = match kind {
        SocketKind::Auto => Socket::new(domain, Type::DGRAM, Some(protocol)).ok(),
        SocketKind::Raw => None,
    };
    let (socket, raw) = match datagram {
        Some(s) => (s, false),
        None => (Socket::new(domain, Type::RAW, Some(protocol))?, true),
    };
    socket.set_nonblocking(true)?;
    let std_socket: std::net::UdpSocket = socket.into();
    Ok(PingSocket {
        socket: tokio::net::UdpSocket::from_std(std_socket)?,
        raw,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("cannot open an ICMP socket: {0}")]
    Socket(io::Error),
    #[error("bind to {bind}: {source}")]
    Bind { bind: IpAddr, source: io::Error },
    #[error("sending the echo request: {0}")]
    Send(io::Error),
    #[error("receiving: {0}")]
    Receive(io::Error),
    #[error("no echo reply within {0:?}")]
    Timeout(Duration),
}

/// Sends one echo request to `target` and waits up to `timeout` for its reply.
pub async fn ping(
    target: IpAddr,
    bindto: Option<IpAddr>,
    timeout: Duration,
    kind: SocketKind,
) -> Result<Duration, PingError> {
    ping_from(target, bindto, None, timeout, kind).await
}

/// [`ping`] from a socket marked and bound to a device as `source` says
/// (`fwmark`, `bind_if`).
pub async fn ping_from(
    target: IpAddr,
    bindto: Option<IpAddr>,
    source: Option<&crate::config::Connection>,
    timeout: Duration,
    kind: SocketKind,
) -> Result<Duration, PingError> {
    let socket = open(target, kind).map_err(PingError::Socket)?;
    if let Some(c) = source {
        crate::tcp::mark_and_bind_device(&socket2::SockRef::from(&socket.socket), c)
            .map_err(PingError::Socket)?;
    }
    if let Some(bind) = bindto {
        socket
            .socket
            .bind_addr(bind)
            .map_err(|source| PingError::Bind { bind, source })?;
    }
    let v6 = target.is_ipv6();
    let id: u16 = rand::random();
    let seq: u16 = rand::random();
    let payload = b"lvsd PING_CHECK";
    let request = echo_request(v6, id, seq, payload);
    let start = tokio::time::Instant::now();
    socket
        .socket
        .send_to(&request, SocketAddr::new(target, 0))
        .await
        .map_err(PingError::Send)?;
    let wait = async {
        let mut buffer = [0u8; 2048];
        loop {
            let (n, from) = socket
                .socket
                .recv_from(&mut buffer)
                .await
                .map_err(PingError::Receive)?;
            let Some((reply_id, reply_seq, body)) =
                parse_echo_reply(v6, socket.raw && !v6, &buffer[..n])
            else {
                continue;
            };
            // A datagram socket's identifier is rewritten by the kernel (and only our
            // replies reach us); a raw socket sees every echo reply on the host.
            let ours = reply_seq == seq
                && body == payload
                && (!socket.raw || (reply_id == id && from.ip() == target));
            if ours {
                return Ok(start.elapsed());
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(result) => result,
        Err(_) => Err(PingError::Timeout(timeout)),
    }
}

trait BindAddr {
    fn bind_addr(&self, ip: IpAddr) -> io::Result<()>;
}

impl BindAddr for tokio::net::UdpSocket {
    fn bind_addr(&self, ip: IpAddr) -> io::Result<()> {
        socket2::SockRef::from(self).bind(&SocketAddr::new(ip, 0).into())
    }
}

/// One PING_CHECK attempt.
pub async fn check(check: &PingCheck) -> CheckResult {
    let ip = check.connection.connect_ip;
    let timeout = check.connection.connect_timeout;
    let replied = ping_from(
        ip,
        check.connection.bindto(),
        Some(&check.connection),
        timeout,
        SocketKind::Auto,
    )
    .await
    .map(|rtt| format!("echo reply in {rtt:?}"))
    .map_err(|e| AttemptError::Server(e.to_string()));
    CheckResult::of_attempt(&format!("PING_CHECK {ip}"), replied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_codec() {
        let packet = echo_request(false, 0x1234, 1, b"ab");
        assert_eq!(&packet[..2], &[8, 0]);
        // A correct checksum makes the checksum of the whole packet zero.
        assert_eq!(checksum(&packet), 0);
        let mut reply = packet.clone();
        reply[0] = 0;
        assert_eq!(
            parse_echo_reply(false, false, &reply),
            Some((0x1234, 1, &b"ab"[..]))
        );
        // With an IPv4 header in front (raw socket): IHL 5.
        let mut with_ip = vec![0x45u8];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert_eq!(
            parse_echo_reply(false, true, &with_ip),
            Some((0x1234, 1, &b"ab"[..]))
        );
        // The request itself (looped back on raw sockets) is not a reply.
        assert_eq!(parse_echo_reply(false, false, &packet), None);
        let v6 = echo_request(true, 7, 9, b"");
        assert_eq!(v6, vec![128, 0, 0, 0, 0, 7, 0, 9]);
        assert_eq!(
            parse_echo_reply(true, false, &[129, 0, 0, 0, 0, 7, 0, 9]),
            Some((7, 9, &b""[..]))
        );
        assert_eq!(parse_echo_reply(true, false, &[129, 0, 0]), None);
        assert_eq!(parse_echo_reply(false, true, &[]), None);
    }
}
