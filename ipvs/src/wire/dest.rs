//! `IPVS_DEST_ATTR_*`: a real server of a service.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, Parseable,
};

use super::{parse_addr, parse_nlas, u16_be, u16_ne, u32_ne, u8_of, StatsAttr};

const ADDR: u16 = 1;
const PORT: u16 = 2;
const FWD_METHOD: u16 = 3;
const WEIGHT: u16 = 4;
const U_THRESH: u16 = 5;
const L_THRESH: u16 = 6;
const ACTIVE_CONNS: u16 = 7;
const INACT_CONNS: u16 = 8;
const PERSIST_CONNS: u16 = 9;
const STATS: u16 = 10;
const ADDR_FAMILY: u16 = 11;
const STATS64: u16 = 12;
const TUN_TYPE: u16 = 13;
const TUN_PORT: u16 = 14;
const TUN_FLAGS: u16 = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    Addr([u8; 16]),
    /// Host order here, network order on the wire.
    Port(u16),
    /// `IP_VS_CONN_F_*` forwarding bits (MASQ 0, LOCALNODE 1, TUNNEL 2, DROUTE 3, BYPASS 4).
    FwdMethod(u32),
    Weight(u32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    Stats(Vec<StatsAttr>),
    AddrFamily(u16),
    Stats64(Vec<StatsAttr>),
    TunType(u8),
    /// Host order here, network order on the wire.
    TunPort(u16),
    TunFlags(u16),
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(_) => 16,
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            TunType(_) => 1,
            FwdMethod(_) | Weight(_) | UThresh(_) | LThresh(_) | ActiveConns(_) | InactConns(_)
            | PersistConns(_) => 4,
            Stats(a) | Stats64(a) => a.as_slice().buffer_len(),
            Other(a) => a.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => ADDR,
            Port(_) => PORT,
            FwdMethod(_) => FWD_METHOD,
            Weight(_) => WEIGHT,
            UThresh(_) => U_THRESH,
            LThresh(_) => L_THRESH,
            ActiveConns(_) => ACTIVE_CONNS,
            InactConns(_) => INACT_CONNS,
            PersistConns(_) => PERSIST_CONNS,
            Stats(_) => STATS,
            AddrFamily(_) => ADDR_FAMILY,
            Stats64(_) => STATS64,
            TunType(_) => TUN_TYPE,
            TunPort(_) => TUN_PORT,
            TunFlags(_) => TUN_FLAGS,
            Other(a) => a.kind(),
        }
    }
    fn emit_value(&self, b: &mut [u8]) {
        use DestAttr::*;
        match self {
            Addr(a) => b[..16].copy_from_slice(a),
            Port(v) | TunPort(v) => b[..2].copy_from_slice(&v.to_be_bytes()),
            AddrFamily(v) | TunFlags(v) => b[..2].copy_from_slice(&v.to_ne_bytes()),
            TunType(v) => b[0] = *v,
            FwdMethod(v) | Weight(v) | UThresh(v) | LThresh(v) | ActiveConns(v) | InactConns(v)
            | PersistConns(v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
            Stats(a) | Stats64(a) => a.as_slice().emit(b),
            Other(a) => a.emit_value(b),
        }
    }
}

impl DestAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DestAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            ADDR => Addr(parse_addr(v).context("IPVS_DEST_ATTR_ADDR")?),
            PORT => Port(u16_be(v, "IPVS_DEST_ATTR_PORT")?),
            FWD_METHOD => FwdMethod(u32_ne(v, "IPVS_DEST_ATTR_FWD_METHOD")?),
            WEIGHT => Weight(u32_ne(v, "IPVS_DEST_ATTR_WEIGHT")?),
            U_THRESH => UThresh(u32_ne(v, "IPVS_DEST_ATTR_U_THRESH")?),
            L_THRESH => LThresh(u32_ne(v, "IPVS_DEST_ATTR_L_THRESH")?),
            ACTIVE_CONNS => ActiveConns(u32_ne(v, "IPVS_DEST_ATTR_ACTIVE_CONNS")?),
            INACT_CONNS => InactConns(u32_ne(v, "IPVS_DEST_ATTR_INACT_CONNS")?),
            PERSIST_CONNS => PersistConns(u32_ne(v, "IPVS_DEST_ATTR_PERSIST_CONNS")?),
            STATS => Stats(parse_nlas(v, StatsAttr::parse).context("IPVS_DEST_ATTR_STATS")?),
            ADDR_FAMILY => AddrFamily(u16_ne(v, "IPVS_DEST_ATTR_ADDR_FAMILY")?),
            STATS64 => Stats64(parse_nlas(v, StatsAttr::parse).context("IPVS_DEST_ATTR_STATS64")?),
            TUN_TYPE => TunType(u8_of(v, "IPVS_DEST_ATTR_TUN_TYPE")?),
            TUN_PORT => TunPort(u16_be(v, "IPVS_DEST_ATTR_TUN_PORT")?),
            TUN_FLAGS => TunFlags(u16_ne(v, "IPVS_DEST_ATTR_TUN_FLAGS")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}
