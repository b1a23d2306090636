//! `IPVS_DAEMON_ATTR_*`: a connection synchronisation daemon.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

use super::{cstr, emit_cstr, exact, u16_ne, u32_ne, u8_of};

const STATE: u16 = 1;
const MCAST_IFN: u16 = 2;
const SYNC_ID: u16 = 3;
const SYNC_MAXLEN: u16 = 4;
const MCAST_GROUP: u16 = 5;
const MCAST_GROUP6: u16 = 6;
const MCAST_PORT: u16 = 7;
const MCAST_TTL: u16 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAttr {
    /// `IP_VS_STATE_MASTER` 1 or `IP_VS_STATE_BACKUP` 2.
    State(u32),
    McastIfn(String),
    SyncId(u32),
    SyncMaxlen(u16),
    McastGroup([u8; 4]),
    McastGroup6([u8; 16]),
    /// Host order, also on the wire (unlike the service and dest ports).
    McastPort(u16),
    McastTtl(u8),
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => s.len() + 1,
            SyncMaxlen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(a) => a.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => STATE,
            McastIfn(_) => MCAST_IFN,
            SyncId(_) => SYNC_ID,
            SyncMaxlen(_) => SYNC_MAXLEN,
            McastGroup(_) => MCAST_GROUP,
            McastGroup6(_) => MCAST_GROUP6,
            McastPort(_) => MCAST_PORT,
            McastTtl(_) => MCAST_TTL,
            Other(a) => a.kind(),
        }
    }
    fn emit_value(&self, b: &mut [u8]) {
        use DaemonAttr::*;
        match self {
            State(v) | SyncId(v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
            McastIfn(s) => emit_cstr(b, s),
            SyncMaxlen(v) | McastPort(v) => b[..2].copy_from_slice(&v.to_ne_bytes()),
            McastGroup(a) => b[..4].copy_from_slice(a),
            McastGroup6(a) => b[..16].copy_from_slice(a),
            McastTtl(v) => b[0] = *v,
            Other(a) => a.emit_value(b),
        }
    }
}

impl DaemonAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        use DaemonAttr::*;
        let v = buf.value();
        Ok(match buf.kind() {
            STATE => State(u32_ne(v, "IPVS_DAEMON_ATTR_STATE")?),
            MCAST_IFN => McastIfn(cstr(v, "IPVS_DAEMON_ATTR_MCAST_IFN")?),
            SYNC_ID => SyncId(u32_ne(v, "IPVS_DAEMON_ATTR_SYNC_ID")?),
            SYNC_MAXLEN => SyncMaxlen(u16_ne(v, "IPVS_DAEMON_ATTR_SYNC_MAXLEN")?),
            MCAST_GROUP => McastGroup(exact::<4>(v, "IPVS_DAEMON_ATTR_MCAST_GROUP")?),
            MCAST_GROUP6 => McastGroup6(exact::<16>(v, "IPVS_DAEMON_ATTR_MCAST_GROUP6")?),
            MCAST_PORT => McastPort(u16_ne(v, "IPVS_DAEMON_ATTR_MCAST_PORT")?),
            MCAST_TTL => McastTtl(u8_of(v, "IPVS_DAEMON_ATTR_MCAST_TTL")?),
            _ => Other(DefaultNla::parse(buf)?),
        })
    }
}
