//! VRRP advertisement codec: VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798), pure.
//!
//! Shape follows the rust-netlink crates: `buffer_len` / `emit` / `parse`, and
//! `Other(..)` variants so values we do not act on still survive a round trip.
//! Structural parsing (`Advert::parse`) is separate from the receive-side
//! checks (`validate_received`) so a fuzzer and a round trip can exercise
//! the layout alone.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// TTL / hop limit every VRRP packet must carry (RFC 3768 7.1, RFC 5798 7.1).
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group for VRRP.
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group for VRRP.
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Fixed part of every VRRP message.
pub const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data trailer.
pub const AUTH_DATA_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("VRRP packet too short: {len} bytes, need at least {need}")]
    TooShort { len: usize, need: usize },
    #[error("VRRP version {0} is not supported (only 2 and 3)")]
    UnsupportedVersion(u8),
    #[error("VRRP packet type {0} is not an advertisement (1)")]
    NotAdvertisement(u8),
    #[error("VRRP virtual router id 0 is invalid")]
    ZeroVrid,
    #[error("VRRP length {len} does not match {count} addresses (expected {expected} bytes)")]
    LengthMismatch {
        len: usize,
        count: u8,
        expected: usize,
    },
    #[error("multicast VRRP packet arrived with TTL/hop limit {0}, must be 255")]
    BadTtl(u8),
    #[error(
        "unicast VRRP packet arrived with TTL/hop limit {ttl}, the peer's range is {min}..={max}"
    )]
    TtlOutOfRange { ttl: u8, min: u8, max: u8 },
    #[error("unicast VRRP packet from an address that is not a unicast_peer")]
    NotUnicastPeer,
    #[error("multicast VRRP packet for a unicast instance")]
    UnexpectedMulticast,
    #[error("unicast VRRP packet for a multicast instance")]
    UnexpectedUnicast,
    #[error("VRRP packet sent to multicast group {0}, not this instance's")]
    OtherGroup(IpAddr),
    #[error("VRRP checksum 0x{found:04x} is wrong")]
    BadChecksum { found: u16 },
    #[error("VRRPv3 checksum 0x{found:04x} leaves out the pseudo-header (accepted only with v3_checksum_as_v2)")]
    MessageOnlyChecksum { found: u16 },
    #[error("IPv4 header invalid: {0}")]
    BadIpHeader(&'static str),
    #[error("IP protocol {0} is not VRRP (112)")]
    NotVrrp(u8),
    #[error("VRRPv2 advertisement interval 0 is invalid")]
    ZeroInterval,
}

/// Address family of the advertised addresses (decided by the carrying IP header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvertType {
    Advertisement,
    Other(u8),
}

impl From<u8> for AdvertType {
    fn from(v: u8) -> Self {
        match v {
            1 => AdvertType::Advertisement,
            o => AdvertType::Other(o),
        }
    }
}
impl From<AdvertType> for u8 {
    fn from(t: AdvertType) -> u8 {
        match t {
            AdvertType::Advertisement => 1,
            AdvertType::Other(o) => o,
        }
    }
}

/// VRRPv2 authentication type (RFC 2338 legacy, still used by keepalived's `auth_type PASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AuthType {
    None,
    SimpleText,
    /// 2 was IP AH; kept as `Other` because we do not implement it.
    Other(u8),
}

impl From<u8> for AuthType {
    fn from(v: u8) -> Self {
        match v {
            0 => AuthType::None,
            1 => AuthType::SimpleText,
            o => AuthType::Other(o),
        }
    }
}
impl From<AuthType> for u8 {
    fn from(t: AuthType) -> u8 {
        match t {
            AuthType::None => 0,
            AuthType::SimpleText => 1,
            AuthType::Other(o) => o,
        }
    }
}

/// Version-specific fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    V2 {
        auth_type: AuthType,
        /// Advertisement interval in whole seconds.
        advert_int_s: u8,
        auth_data: [u8; AUTH_DATA_LEN],
    },
    V3 {
        /// Upper 4 bits of bytes 4..6; must be zero on send, ignored on receive.
        reserved: u8,
        /// Max advertisement interval in centiseconds (12 bits).
        max_advert_int_cs: u16,
    },
}

/// One VRRP advertisement as carried in the IP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub kind: AdvertType,
    pub vrid: u8,
    pub priority: u8,
    pub body: Body,
    /// Checksum as seen on the wire (parse) — `emit` always recomputes it.
    pub checksum: u16,
    pub addresses: Vec<IpAddr>,
}

/// How the checksum of a received VRRPv3 IPv4 advert was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ChecksumKind {
    /// Over the VRRP message only (VRRPv2, or a v3 peer with `v3_checksum_as_v2`).
    MessageOnly,
    /// Over the IP pseudo-header plus message (RFC 5798 5.2.8).
    PseudoHeader,
    /// Over a pseudo-header whose destination is the multicast group although
    /// the advert was unicast: keepalived up to 1.3.5, and keepalived's
    /// `old_unicast_checksum`.
    OldUnicast,
}

/// Which VRRPv3 IPv4 checksum forms an instance accepts (VRRPv2 is always
/// message-only, IPv6 always has the pseudo-header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumAccept {
    /// RFC 5798: pseudo-header with the packet's own destination.
    pub pseudo_header: bool,
    /// Pseudo-header with [`MCAST_V4`] as destination (keepalived's old unicast form).
    pub old_unicast: bool,
    /// No pseudo-header (`v3_checksum_as_v2`).
    pub message_only: bool,
}

impl ChecksumAccept {
    /// What RFC 5798 allows, and nothing else.
    pub const RFC: ChecksumAccept = ChecksumAccept {
        pseudo_header: true,
        old_unicast: false,
        message_only: false,
    };
}

/// A configured `unicast_peer` as the receive path checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRx {
    pub addr: IpAddr,
    /// `min_ttl` / `max_ttl` (keepalived's defaults 0 and 255).
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// The instance-specific part of the receive checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxPolicy<'a> {
    /// The instance advertises to unicast peers, so expects unicast adverts.
    pub unicast: bool,
    /// A multicast instance's group (`vrrp_mcast_group4`/`6`, `mcast_dst_ip`):
    /// keepalived listens on that group only. `None`: any group.
    pub group: Option<IpAddr>,
    /// `check_unicast_src` (or a peer with `min_ttl`/`max_ttl`): a unicast
    /// advert must come from one of these peers, within its TTL range.
    pub check_src: Option<&'a [PeerRx]>,
    pub checksum: ChecksumAccept,
}

impl RxPolicy<'_> {
    /// A multicast instance with the RFC's checksum.
    pub const MULTICAST: RxPolicy<'static> = RxPolicy {
        unicast: false,
        group: None,
        check_src: None,
        checksum: ChecksumAccept::RFC,
    };
}

/// What the checksum is computed over when emitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    MessageOnly,
    PseudoHeader { src: IpAddr, dst: IpAddr },
}

impl Advert {
    pub fn version(&self) -> Version {
        match self.body {
            Body::V2 { .. } => Version::V2,
            Body::V3 { .. } => Version::V3,
        }
    }

    /// Advertisement interval in centiseconds, whatever the version.
    pub fn interval_cs(&self) -> u32 {
        match self.body {
            Body::V2 { advert_int_s, .. } => u32::from(advert_int_s) * 100,
            Body::V3 {
                max_advert_int_cs, ..
            } => u32::from(max_advert_int_cs),
        }
    }

    pub fn buffer_len(&self) -> usize {
        let addrs: usize = self
            .addresses
            .iter()
            .map(|a| Family::of(a).addr_len())
            .sum();
        HEADER_LEN + addrs + self.trailer_len()
    }

    /// The authentication data after the addresses: VRRPv2 over IPv4 only
    /// (keepalived 2.2.7 sends VRRPv2 over IPv6 without it).
    fn trailer_len(&self) -> usize {
        match self.body {
            Body::V2 { .. } if !self.addresses.first().is_some_and(IpAddr::is_ipv6) => {
                AUTH_DATA_LEN
            }
            _ => 0,
        }
    }

    /// Writes the message into `buf[..buffer_len()]` with a freshly computed checksum.
    /// `buf` must be at least `buffer_len()` long (caller-controlled, not external input).
    pub fn emit(&self, buf: &mut [u8], mode: ChecksumMode) {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let version = self.version().number();
        buf[0] = (version << 4) | (u8::from(self.kind) & 0x0f);
        buf[1] = self.vrid;
        buf[2] = self.priority;
        buf[3] = u8::try_from(self.addresses.len()).unwrap_or(u8::MAX);
        match self.body {
            Body::V2 {
                auth_type,
                advert_int_s,
                ..
            } => {
                buf[4] = auth_type.into();
                buf[5] = advert_int_s;
            }
            Body::V3 {
                reserved,
                max_advert_int_cs,
            } => {
                let word = (u16::from(reserved & 0x0f) << 12) | (max_advert_int_cs & 0x0fff);
                buf[4..6].copy_from_slice(&word.to_be_bytes());
            }
        }
        buf[6..8].copy_from_slice(&[0, 0]);
        let mut off = HEADER_LEN;
        for a in &self.addresses {
            match a {
                IpAddr::V4(v4) => {
                    buf[off..off + 4].copy_from_slice(&v4.octets());
                    off += 4;
                }
                IpAddr::V6(v6) => {
                    buf[off..off + 16].copy_from_slice(&v6.octets());
                    off += 16;
                }
            }
        }
        if let (Body::V2 { auth_data, .. }, AUTH_DATA_LEN) = (&self.body, self.trailer_len()) {
            buf[off..off + AUTH_DATA_LEN].copy_from_slice(auth_data);
        }
        let sum = checksum_for(buf, mode);
        buf[6..8].copy_from_slice(&sum.to_be_bytes());
    }

    /// Convenience: emit into a fresh vector.
    pub fn to_bytes(&self, mode: ChecksumMode) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v, mode);
        v
    }

    /// Structural parse of a VRRP message; `family` comes from the carrying IP header.
    /// Checks the layout only (version, length vs address count); see `validate_received`.
    pub fn parse(buf: &[u8], family: Family) -> Result<Advert, PacketError> {
        if buf.len() < HEADER_LEN {
            return Err(PacketError::TooShort {
                len: buf.len(),
                need: HEADER_LEN,
            });
        }
        let version = buf[0] >> 4;
        let kind = AdvertType::from(buf[0] & 0x0f);
        let vrid = buf[1];
        let priority = buf[2];
        let count = buf[3];
        let checksum = u16::from_be_bytes([buf[6], buf[7]]);
        let (trailer, body) = match version {
            2 => {
                (
                    // keepalived 2.2.7 carries VRRPv2 over IPv6 without
                    // authentication data.
                    if family == Family::V6 {
                        0
                    } else {
                        AUTH_DATA_LEN
                    },
                    Body::V2 {
                        auth_type: AuthType::from(buf[4]),
                        advert_int_s: buf[5],
                        auth_data: [0; AUTH_DATA_LEN],
                    },
                )
            }
            3 => {
                let word = u16::from_be_bytes([buf[4], buf[5]]);
                (
                    0,
                    Body::V3 {
                        reserved: (word >> 12) as u8,
                        max_advert_int_cs: word & 0x0fff,
                    },
                )
            }
            v => return Err(PacketError::UnsupportedVersion(v)),
        };
        let expected = HEADER_LEN + usize::from(count) * family.addr_len() + trailer;
        if buf.len() != expected {
            return Err(PacketError::LengthMismatch {
                len: buf.len(),
                count,
                expected,
            });
        }
        let mut addresses = Vec::with_capacity(usize::from(count));
        let mut off = HEADER_LEN;
        for _ in 0..count {
            match family {
                Family::V4 => {
                    let o: [u8; 4] = [buf[off], buf[off + 1], buf[off + 2], buf[off + 3]];
                    addresses.push(IpAddr::V4(Ipv4Addr::from(o)));
                    off += 4;
                }
                Family::V6 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(&buf[off..off + 16]);
                    addresses.push(IpAddr::V6(Ipv6Addr::from(o)));
                    off += 16;
                }
            }
        }
        let body = match body {
            Body::V2 {
                auth_type,
                advert_int_s,
                ..
            } => {
                let mut auth_data = [0u8; AUTH_DATA_LEN];
                if trailer == AUTH_DATA_LEN {
                    auth_data.copy_from_slice(&buf[off..off + AUTH_DATA_LEN]);
                }
                Body::V2 {
                    auth_type,
                    advert_int_s,
                    auth_data,
                }
            }
            b => b,
        };
        Ok(Advert {
            kind,
            vrid,
            priority,
            body,
            checksum,
            addresses,
        })
    }
}

/// What the receive path knows about the IP packet that carried an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
}

/// The VRID of a VRRP message, to find the instance whose policy applies
/// (`None` if too short to have one).
pub fn peek_vrid(buf: &[u8]) -> Option<u8> {
    buf.get(1).copied()
}

/// Parse and apply every protocol-level check a received advert must pass
/// for an instance with `policy`: TTL/hop limit, unicast source, version,
/// type, VRID, length, checksum. The rest of the instance checks (auth,
/// interval, address list) belong to the state machine.
///
/// TTL as RFC 5798 5.1.1.3 and keepalived 2.2.7 (`vrrp_check_packet`): a
/// multicast advert must arrive with 255; a unicast one may have crossed
/// routers, so only a configured peer range applies. An advert of the other
/// kind than the instance's (multicast for a unicast instance or the
/// reverse) is dropped, as keepalived does.
pub fn validate_received(
    buf: &[u8],
    meta: &RxMeta,
    policy: &RxPolicy<'_>,
) -> Result<(Advert, ChecksumKind), PacketError> {
    let family = Family::of(&meta.src);
    let advert = Advert::parse(buf, family)?;
    let multicast = meta.dst.is_multicast();
    match (multicast, policy.unicast) {
        (true, true) => return Err(PacketError::UnexpectedMulticast),
        (false, false) => return Err(PacketError::UnexpectedUnicast),
        (true, false) if meta.ttl != VRRP_TTL => return Err(PacketError::BadTtl(meta.ttl)),
        (true, false) if policy.group.is_some_and(|g| g != meta.dst) => {
            return Err(PacketError::OtherGroup(meta.dst))
        }
        _ => {}
    }
    if let (false, Some(peers)) = (multicast, policy.check_src) {
        let peer = peers
            .iter()
            .find(|p| p.addr == meta.src)
            .ok_or(PacketError::NotUnicastPeer)?;
        if !(peer.min_ttl..=peer.max_ttl).contains(&meta.ttl) {
            return Err(PacketError::TtlOutOfRange {
                ttl: meta.ttl,
                min: peer.min_ttl,
                max: peer.max_ttl,
            });
        }
    }
    if advert.kind != AdvertType::Advertisement {
        return Err(PacketError::NotAdvertisement(advert.kind.into()));
    }
    if advert.vrid == 0 {
        return Err(PacketError::ZeroVrid);
    }
    let kind = match (advert.version(), family) {
        (Version::V2, Family::V4) => {
            if checksum_for(buf, ChecksumMode::MessageOnly) != 0 {
                return Err(PacketError::BadChecksum {
                    found: advert.checksum,
                });
            }
            ChecksumKind::MessageOnly
        }
        // Over IPv6 the checksum covers the pseudo-header whatever the
        // version (the kernel fills it in for keepalived's VRRPv2 too).
        (_, Family::V6) => {
            let pseudo = ChecksumMode::PseudoHeader {
                src: meta.src,
                dst: meta.dst,
            };
            if checksum_for(buf, pseudo) != 0 {
                return Err(PacketError::BadChecksum {
                    found: advert.checksum,
                });
            }
            ChecksumKind::PseudoHeader
        }
        (Version::V3, Family::V4) => v3_ipv4_checksum(buf, meta, policy.checksum)
            .ok_or(PacketError::BadChecksum {
                found: advert.checksum,
            })
            .and_then(|kind| match kind {
                // Recognised but not accepted here: its own reason, so an
                // operator sees the peer wants `v3_checksum_as_v2`.
                ChecksumKind::MessageOnly if !policy.checksum.message_only => {
                    Err(PacketError::MessageOnlyChecksum {
                        found: advert.checksum,
                    })
                }
                k => Ok(k),
            })?,
    };
    if let Body::V2 {
        advert_int_s: 0, ..
    } = advert.body
    {
        return Err(PacketError::ZeroInterval);
    }
    Ok((advert, kind))
}

/// Which accepted VRRPv3 IPv4 checksum form `buf` carries. The message-only
/// form is always recognised (the caller tells it apart from corruption).
fn v3_ipv4_checksum(buf: &[u8], meta: &RxMeta, accept: ChecksumAccept) -> Option<ChecksumKind> {
    let pseudo_to = |dst| ChecksumMode::PseudoHeader { src: meta.src, dst };
    if accept.pseudo_header && checksum_for(buf, pseudo_to(meta.dst)) == 0 {
        return Some(ChecksumKind::PseudoHeader);
    }
    // For a multicast advert the old form is the RFC form: only unicast ones differ.
    if accept.old_unicast
        && !meta.dst.is_multicast()
        && checksum_for(buf, pseudo_to(IpAddr::V4(MCAST_V4))) == 0
    {
        return Some(ChecksumKind::OldUnicast);
    }
    if checksum_for(buf, ChecksumMode::MessageOnly) == 0 {
        return Some(ChecksumKind::MessageOnly);
    }
    None
}

/// Internet checksum (RFC 1071) of `msg`, optionally preceded by the IP pseudo-header.
/// Over a message whose checksum field is filled in correctly this yields 0.
pub fn checksum_for(msg: &[u8], mode: ChecksumMode) -> u16 {
    let mut sum: u32 = 0;
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    match mode {
        ChecksumMode::MessageOnly => {}
        ChecksumMode::PseudoHeader {
            src: IpAddr::V4(s),
            dst: IpAddr::V4(d),
        } => {
            sum = add_words(sum, &s.octets());
            sum = add_words(sum, &d.octets());
            sum = add_words(sum, &[0, IPPROTO_VRRP]);
            sum = add_words(sum, &(len as u16).to_be_bytes());
        }
        ChecksumMode::PseudoHeader { src, dst } => {
            sum = add_words(sum, &ip_octets16(src));
            sum = add_words(sum, &ip_octets16(dst));
            sum = add_words(sum, &len.to_be_bytes());
            sum = add_words(sum, &[0, 0, 0, IPPROTO_VRRP]);
        }
    }
    sum = add_words(sum, msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ip_octets16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn add_words(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(u16::from_be_bytes([*last, 0]));
    }
    sum
}

/// The fields of an IPv4 header the VRRP receive path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Meta {
    pub tos: u8,
    pub ttl: u8,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

/// Split an IPv4 packet (as a raw IPv4 socket delivers it) into header fields and payload.
pub fn parse_ipv4(packet: &[u8]) -> Result<(Ipv4Meta, &[u8]), PacketError> {
    if packet.len() < 20 {
        return Err(PacketError::BadIpHeader("shorter than 20 bytes"));
    }
    if packet[0] >> 4 != 4 {
        return Err(PacketError::BadIpHeader("version is not 4"));
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if ihl < 20 || total < ihl || total > packet.len() {
        return Err(PacketError::BadIpHeader(
            "header or total length out of range",
        ));
    }
    let meta = Ipv4Meta {
        tos: packet[1],
        ttl: packet[8],
        protocol: packet[9],
        src: Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]),
        dst: Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]),
    };
    if meta.protocol != IPPROTO_VRRP {
        return Err(PacketError::NotVrrp(meta.protocol));
    }
    Ok((meta, &packet[ihl..total]))
}

/// Pad or cut a configured `auth_pass` to the 8 bytes keepalived puts on the wire.
pub fn auth_data_from_pass(pass: &str) -> [u8; AUTH_DATA_LEN] {
    let mut d = [0u8; AUTH_DATA_LEN];
    for (slot, b) in d.iter_mut().zip(pass.bytes()) {
        *slot = b;
    }
    d
}
