//! `IPVS_SVC_ATTR_*`: a virtual service.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, Parseable,
};

use super::{cstr, emit_cstr, exact, parse_addr, parse_nlas, u16_be, u16_ne, u32_ne, StatsAttr};

const AF: u16 = 1;
const PROTOCOL: u16 = 2;
const ADDR: u16 = 3;
const PORT: u16 = 4;
const FWMARK: u16 = 5;
const SCHED_NAME: u16 = 6;
const FLAGS: u16 = 7;
const TIMEOUT: u16 = 8;
const NETMASK: u16 = 9;
const STATS: u16 = 10;
const PE_NAME: u16 = 11;
const STATS64: u16 = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAttr {
    /// Address family (AF_INET 2, AF_INET6 10), host order.
    Af(u16),
    /// IP protocol number (TCP 6, UDP 17, SCTP 132), host order.
    Protocol(u16),
    /// `union nf_inet_addr`: IPv4 in the first 4 bytes.
    Addr([u8; 16]),
    /// Port, network order on the wire; host order here.
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    /// `struct ip_vs_flags { flags, mask }`.
    Flags {
        flags: u32,
        mask: u32,
    },
    /// Persistence timeout in seconds.
    Timeout(u32),
    /// IPv4: netmask in network order as a u32 (bytes as on the wire);
    /// IPv6: prefix length.
    Netmask(u32),
    Stats(Vec<StatsAttr>),
    PeName(String),
    Stats64(Vec<StatsAttr>),
    Other(DefaultNla),
}

impl Nla for ServiceAttr {
    fn value_len(&self) -> usize {
        use ServiceAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Addr(_) => 16,
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => s.len() + 1,
            Flags { .. } => 8,
            Stats(a) | Stats64(a) => a.as_slice().buffer_len(),
            Other(a) => a.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use ServiceAttr::*;
        match self {
            Af(_) => AF,
            Protocol(_) => PROTOCOL,
            Addr(_) => ADDR,
            Port(_) => PORT,
            Fwmark(_) => FWMARK,
            SchedName(_) => SCHED_NAME,
            Flags { .. } => FLAGS,
            Timeout(_) => TIMEOUT,
            Netmask(_) => NETMASK,
            Stats(_) => STATS,
            PeName(_) => PE_NAME,
            Stats64(_) => STATS64,
            Other(a) => a.kind(),
        }
    }
    fn emit_value(&self, b: &mut [u8]) {
        use ServiceAttr::*;
        match self {
            Af(v) | Protocol(v) => b[..2].copy_from_slice(&v.to_ne_bytes()),
            Port(v) => b[..2].copy_from_slice(&v.to_be_bytes()),
            Addr(a) => b[..16].copy_from_slice(a),
            Fwmark(v) | Timeout(v) | Netmask(v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
            SchedName(s) | PeName(s) => emit_cstr(b, s),
            Flags { flags, mask } => {
                b[..4].copy_from_slice(&flags.to_ne_bytes());
                b[4..8].copy_from_slice(&mask.to_ne_bytes());
            }
            Stats(a) | Stats64(a) => a.as_slice().emit(b),
            Other(a) => a.emit_value(b),
        }
    }
}

impl ServiceAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use ServiceAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            AF => Af(u16_ne(v, "IPVS_SVC_ATTR_AF")?),
            PROTOCOL => Protocol(u16_ne(v, "IPVS_SVC_ATTR_PROTOCOL")?),
            ADDR => Addr(parse_addr(v).context("IPVS_SVC_ATTR_ADDR")?),
            PORT => Port(u16_be(v, "IPVS_SVC_ATTR_PORT")?),
            FWMARK => Fwmark(u32_ne(v, "IPVS_SVC_ATTR_FWMARK")?),
            SCHED_NAME => SchedName(cstr(v, "IPVS_SVC_ATTR_SCHED_NAME")?),
            FLAGS => {
                let raw = exact::<8>(v, "IPVS_SVC_ATTR_FLAGS")?;
                Flags {
                    flags: u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]),
                    mask: u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]),
                }
            }
            TIMEOUT => Timeout(u32_ne(v, "IPVS_SVC_ATTR_TIMEOUT")?),
            NETMASK => Netmask(u32_ne(v, "IPVS_SVC_ATTR_NETMASK")?),
            STATS => Stats(parse_nlas(v, StatsAttr::parse).context("IPVS_SVC_ATTR_STATS")?),
            PE_NAME => PeName(cstr(v, "IPVS_SVC_ATTR_PE_NAME")?),
            STATS64 => Stats64(parse_nlas(v, StatsAttr::parse).context("IPVS_SVC_ATTR_STATS64")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}
