//! Thin raw-socket layer for VRRP (IP protocol 112): one receive socket per
//! interface and family joined to the VRRP group, one send socket per
//! instance bound to its source address. Bytes in, bytes out.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self as nsock, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{self, Family, RxMeta, VRRP_TTL};

/// DSCP/TOS keepalived puts on adverts (internetwork control, see the golden frames).
const TOS_INTERNETWORK_CONTROL: u32 = 0xc0;

fn raw_socket(family: Family, interface: &str) -> io::Result<Socket> {
    let domain = match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    };
    let s = Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(packet::IPPROTO_VRRP))),
    )?;
    s.bind_device(Some(interface.as_bytes()))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Receives every VRRP packet arriving on one interface for one family.
pub struct RecvSocket {
    fd: AsyncFd<Socket>,
    family: Family,
}

impl RecvSocket {
    /// Joins no group: see [`RecvSocket::join`].
    pub fn open(family: Family, interface: &str) -> io::Result<RecvSocket> {
        let s = raw_socket(family, interface)?;
        match family {
            Family::V4 => {}
            Family::V6 => {
                nsock::setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
                nsock::setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(io::Error::from)?;
            }
        }
        // SAFETY: `Socket` owns its descriptor and always returns the same one
        // from `as_raw_fd`; the AsyncFd owns the Socket for its whole life.
        let fd = unsafe { AsyncFd::register(s) }.map_err(|e| e.into_parts().1)?;
        Ok(RecvSocket { fd, family })
    }

    /// Joins multicast group `group` on interface `ifindex`, so adverts sent to
    /// it are received (keepalived joins each instance's group).
    pub fn join(&self, group: IpAddr, ifindex: u32) -> io::Result<()> {
        let s = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => s.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(ifindex)),
            IpAddr::V6(g) => s.join_multicast_v6(&g, ifindex),
        }
    }

    /// Next packet as (VRRP message bytes, what the IP layer said about it).
    /// Malformed IPv4 headers come back as errors for the caller to count and log.
    pub async fn recv(&self) -> io::Result<Result<(Vec<u8>, RxMeta), packet::PacketError>> {
        let mut buf = vec![0u8; 2048];
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|inner| match self.family {
                Family::V4 => {
                    let n = nsock::recv(inner.get_ref().as_raw_fd(), &mut buf, MsgFlags::empty())
                        .map_err(io::Error::from)?;
                    Ok(recv_v4(&buf[..n]))
                }
                Family::V6 => recv_v6(inner.get_ref(), &mut buf),
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_v4(packet: &[u8]) -> Result<(Vec<u8>, RxMeta), packet::PacketError> {
    let (ip, payload) = packet::parse_ipv4(packet)?;
    Ok((
        payload.to_vec(),
        RxMeta {
            src: IpAddr::V4(ip.src),
            dst: IpAddr::V4(ip.dst),
            ttl: ip.ttl,
        },
    ))
}

fn recv_v6(
    s: &Socket,
    buf: &mut [u8],
) -> io::Result<Result<(Vec<u8>, RxMeta), packet::PacketError>> {
    let mut cmsg = nix::cmsg_space!(nix::libc::in6_pktinfo, i32);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nsock::recvmsg::<SockaddrStorage>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let n = msg.bytes;
    let src = msg
        .address
        .and_then(|a| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())));
    let mut dst = None;
    let mut hop = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            match c {
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                ControlMessageOwned::Ipv6HopLimit(h) => hop = u8::try_from(h).ok(),
                _ => {}
            }
        }
    }
    let (Some(src), Some(dst), Some(ttl)) = (src, dst, hop) else {
        return Ok(Err(packet::PacketError::BadIpHeader(
            "IPv6 packet without source, destination or hop limit",
        )));
    };
    Ok(Ok((buf[..n].to_vec(), RxMeta { src, dst, ttl })))
}

/// Sends one instance's adverts from its source address: multicast ones with
/// TTL / hop limit 255 (RFC 5798 5.1.1.3), unicast ones with `unicast_ttl`.
pub struct SendSocket {
    socket: Socket,
    scope_id: u32,
}

impl SendSocket {
    pub fn open(
        interface: &str,
        ifindex: u32,
        src: IpAddr,
        unicast_ttl: u8,
    ) -> io::Result<SendSocket> {
        let family = Family::of(&src);
        let s = raw_socket(family, interface)?;
        s.set_nonblocking(false)?;
        match src {
            IpAddr::V4(v4) => {
                s.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
                s.set_ttl_v4(u32::from(unicast_ttl))?;
                s.set_tos_v4(TOS_INTERNETWORK_CONTROL)?;
                s.set_multicast_loop_v4(false)?;
                // The socket is bound to its device, which decides where multicast
                // leaves; the kernel refuses IP_MULTICAST_IF naming another device
                // (a VMAC sends from the base interface's address).
                match s.set_multicast_if_v4(&v4) {
                    Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {}
                    other => other?,
                }
                s.bind(&SockAddr::from(SocketAddr::new(src, 0)))?;
            }
            IpAddr::V6(v6) => {
                s.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
                s.set_unicast_hops_v6(u32::from(unicast_ttl))?;
                s.set_multicast_loop_v6(false)?;
                s.set_multicast_if_v6(ifindex)?;
                s.bind(&SockAddr::from(SocketAddrV6::new(v6, 0, 0, ifindex)))?;
            }
        }
        Ok(SendSocket {
            socket: s,
            scope_id: ifindex,
        })
    }

    pub fn send_to(&self, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let addr = match dst {
            IpAddr::V4(_) => SocketAddr::new(dst, 0),
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, self.scope_id)),
        };
        self.socket.send_to(bytes, &SockAddr::from(addr))?;
        Ok(())
    }
}
