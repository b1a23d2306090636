//! Gratuitous ARP (IPv4) over AF_PACKET and unsolicited neighbour
//! advertisements (IPv6) over ICMPv6, so neighbours learn the VIP's new MAC
//! right after a failover. Frame builders are pure; senders are thin.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self as nsock, LinkAddr, MsgFlags, SockFlag, SockType, SockaddrLike};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const ETH_P_ARP: u16 = 0x0806;
const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// All-nodes multicast, where unsolicited neighbour advertisements go (RFC 4861 7.2.6).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A gratuitous ARP request for `vip` from `mac`: Ethernet broadcast, sender
/// and target protocol address both the VIP.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&BROADCAST_MAC);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    f[32..38].copy_from_slice(&BROADCAST_MAC);
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// An unsolicited neighbour advertisement (ICMPv6 type 136, Override flag,
/// target link-layer address option); the kernel fills in the checksum.
pub fn unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = 136;
    m[4] = 0x20; // O flag: override cached entries
    m[8..24].copy_from_slice(&vip.octets());
    m[24] = 2; // target link-layer address
    m[25] = 1; // length in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    m
}

/// Sends gratuitous ARPs on one interface.
pub struct GarpSender {
    fd: OwnedFd,
    dest: LinkAddr,
}

impl GarpSender {
    pub fn open(ifindex: u32) -> io::Result<GarpSender> {
        let fd = nsock::socket(
            nsock::AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(io::Error::from)?;
        let dest = link_addr(ifindex)?;
        Ok(GarpSender { fd, dest })
    }

    pub fn send(&self, mac: [u8; 6], vip: Ipv4Addr) -> io::Result<()> {
        let frame = garp_frame(mac, vip);
        nsock::sendto(self.fd.as_raw_fd(), &frame, &self.dest, MsgFlags::empty())
            .map_err(io::Error::from)?;
        Ok(())
    }
}

/// `sockaddr_ll` naming the interface to send on (nix offers no safe constructor).
fn link_addr(ifindex: u32) -> io::Result<LinkAddr> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: nix::libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = nix::libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = i32::try_from(ifindex).map_err(|_| io::Error::other("ifindex"))?;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&BROADCAST_MAC);
    let len = std::mem::size_of::<nix::libc::sockaddr_ll>() as nix::libc::socklen_t;
    // SAFETY: the pointer refers to a live, initialised sockaddr_ll of `len` bytes.
    unsafe { LinkAddr::from_raw(std::ptr::addr_of!(sll).cast(), Some(len)) }
        .ok_or_else(|| io::Error::other("building sockaddr_ll"))
}

/// Sends unsolicited neighbour advertisements from a VIP.
pub struct NaSender {
    interface: String,
    ifindex: u32,
}

impl NaSender {
    pub fn new(interface: &str, ifindex: u32) -> NaSender {
        NaSender {
            interface: interface.to_string(),
            ifindex,
        }
    }

    pub fn send(&self, mac: [u8; 6], vip: Ipv6Addr) -> io::Result<()> {
        // The source must be the VIP itself; bind a fresh socket each time since a
        // raw socket can be bound only once.
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        s.bind_device(Some(self.interface.as_bytes()))?;
        s.set_multicast_hops_v6(255)?;
        s.set_multicast_if_v6(self.ifindex)?;
        let _ = s.bind(&SockAddr::from(SocketAddrV6::new(vip, 0, 0, self.ifindex)));
        let dst = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex));
        s.send_to(&unsolicited_na(mac, vip), &dst)?;
        Ok(())
    }
}

/// Send gratuitous ARP or NA for an address, whichever its family needs.
pub fn announce(
    garp: Option<&GarpSender>,
    na: Option<&NaSender>,
    mac: [u8; 6],
    addr: IpAddr,
) -> io::Result<()> {
    match (addr, garp, na) {
        (IpAddr::V4(v4), Some(g), _) => g.send(mac, v4),
        (IpAddr::V6(v6), _, Some(n)) => n.send(mac, v6),
        _ => Ok(()),
    }
}
