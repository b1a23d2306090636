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

/// How far apart announcements on one interface must be
/// (`vrrp_garp_interval` for ARP, `vrrp_gna_interval` for NA; zero: back to
/// back, keepalived's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spacing {
    pub arp: std::time::Duration,
    pub na: std::time::Duration,
}

impl Spacing {
    pub fn is_zero(&self) -> bool {
        self.arp.is_zero() && self.na.is_zero()
    }

    fn for_addr(&self, addr: IpAddr) -> std::time::Duration {
        if addr.is_ipv4() {
            self.arp
        } else {
            self.na
        }
    }
}

/// One address waiting for its interface's next slot.
struct Pending {
    addr: IpAddr,
    garp: Option<std::sync::Arc<GarpSender>>,
    na: Option<std::sync::Arc<NaSender>>,
    mac: [u8; 6],
}

/// Announcements of one family on one interface, as keepalived spaces them:
/// one per interval; an address asked for again while it waits is sent once.
#[derive(Default)]
struct Pacer {
    interval: std::time::Duration,
    next_allowed: Option<tokio::time::Instant>,
    pending: Vec<Pending>,
    flushing: bool,
}

type Pacers = std::sync::Mutex<std::collections::HashMap<(u32, bool), Pacer>>;

fn pacers() -> std::sync::MutexGuard<'static, std::collections::HashMap<(u32, bool), Pacer>> {
    static PACERS: std::sync::OnceLock<Pacers> = std::sync::OnceLock::new();
    PACERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn send_pending(p: &Pending) {
    if let Err(e) = announce(p.garp.as_deref(), p.na.as_deref(), p.mac, p.addr) {
        tracing::debug!("announcing {}: {e}", p.addr);
    }
}

/// Announces `addr` on interface `ifindex` now if the interface's last
/// announcement of that family is at least the spacing ago, else queues it
/// (once) for a task that sends queued addresses one per interval. Never
/// waits: the VRRP loop calls it.
pub fn announce_spaced(
    garp: Option<std::sync::Arc<GarpSender>>,
    na: Option<std::sync::Arc<NaSender>>,
    mac: [u8; 6],
    ifindex: u32,
    addr: IpAddr,
    spacing: Spacing,
) {
    let key = (ifindex, addr.is_ipv6());
    let item = Pending {
        addr,
        garp,
        na,
        mac,
    };
    let now = tokio::time::Instant::now();
    let mut pacers = pacers();
    let p = pacers.entry(key).or_default();
    p.interval = spacing.for_addr(addr);
    if p.pending.is_empty() && p.next_allowed.is_none_or(|t| now >= t) {
        send_pending(&item);
        p.next_allowed = Some(now + p.interval);
        return;
    }
    if !p.pending.iter().any(|q| q.addr == addr) {
        p.pending.push(item);
    }
    if !p.flushing {
        p.flushing = true;
        tokio::spawn(flush(key));
    }
}

/// Forgets queued announcements of `addrs` on every interface: the instance
/// let them go, and announcing an address we no longer hold would draw its
/// traffic back to us.
pub fn cancel_spaced(addrs: &[IpAddr]) {
    for p in pacers().values_mut() {
        p.pending.retain(|q| !addrs.contains(&q.addr));
    }
}

async fn flush(key: (u32, bool)) {
    loop {
        let wait = pacers().get(&key).and_then(|p| p.next_allowed);
        if let Some(t) = wait {
            tokio::time::sleep_until(t).await;
        }
        let mut pacers = pacers();
        let Some(p) = pacers.get_mut(&key) else {
            return;
        };
        if p.pending.is_empty() {
            p.flushing = false;
            return;
        }
        let item = p.pending.remove(0);
        send_pending(&item);
        p.next_allowed = Some(tokio::time::Instant::now() + p.interval);
    }
}

#[cfg(test)]
mod spacing_tests {
    use super::*;

    /// How many announcements `ifindex` has queued.
    fn queued(ifindex: u32) -> usize {
        pacers()
            .get(&(ifindex, false))
            .map_or(0, |p| p.pending.len())
    }

    #[tokio::test(start_paused = true)]
    async fn announcements_are_spaced_and_repeats_coalesce_as_in_keepalived() {
        let spacing = Spacing {
            arp: std::time::Duration::from_millis(200),
            na: std::time::Duration::ZERO,
        };
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        // No sockets: nothing leaves, but the pacing is the same.
        for _ in 0..5 {
            announce_spaced(None, None, [0; 6], 4242, a, spacing);
            announce_spaced(None, None, [0; 6], 4242, b, spacing);
        }
        // a went at once; a and b wait, each once, however often asked.
        assert_eq!(queued(4242), 2);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        assert_eq!(queued(4242), 1);
        cancel_spaced(&[a, b]);
        assert_eq!(queued(4242), 0);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(!pacers().get(&(4242, false)).is_some_and(|p| p.flushing));
    }
}
