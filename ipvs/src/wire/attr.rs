//! Top-level attributes (`IPVS_CMD_ATTR_*`) and info attributes.

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, ErrorContext, Nla, NlaBuffer, Parseable, NLA_F_NESTED,
};

use super::{parse_nlas, u32_ne, DaemonAttr, DestAttr, InfoAttr, ServiceAttr};

pub const ATTR_SERVICE: u16 = 1;
pub const ATTR_DEST: u16 = 2;
pub const ATTR_DAEMON: u16 = 3;
const ATTR_TIMEOUT_TCP: u16 = 4;
const ATTR_TIMEOUT_TCP_FIN: u16 = 5;
const ATTR_TIMEOUT_UDP: u16 = 6;
const INFO_ATTR_VERSION: u16 = 1;
const INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// `IPVS_CMD_ATTR_*`. GET_INFO replies carry `IPVS_INFO_ATTR_*` at the top
/// level; those share numbers 1 and 2 with SERVICE and DEST, so the parser
/// needs the command to tell them apart (see [`IpvsAttr::parse_info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsAttr {
    Service(Vec<ServiceAttr>),
    Dest(Vec<DestAttr>),
    Daemon(Vec<DaemonAttr>),
    TimeoutTcp(u32),
    TimeoutTcpFin(u32),
    TimeoutUdp(u32),
    Info(InfoAttr),
    Other(DefaultNla),
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        match self {
            IpvsAttr::Service(a) => a.as_slice().buffer_len(),
            IpvsAttr::Dest(a) => a.as_slice().buffer_len(),
            IpvsAttr::Daemon(a) => a.as_slice().buffer_len(),
            IpvsAttr::TimeoutTcp(_) | IpvsAttr::TimeoutTcpFin(_) | IpvsAttr::TimeoutUdp(_) => 4,
            IpvsAttr::Info(a) => a.value_len(),
            IpvsAttr::Other(a) => a.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            // ipvsadm (libnl nla_nest_start) marks nests with NLA_F_NESTED.
            IpvsAttr::Service(_) => ATTR_SERVICE | NLA_F_NESTED,
            IpvsAttr::Dest(_) => ATTR_DEST | NLA_F_NESTED,
            IpvsAttr::Daemon(_) => ATTR_DAEMON | NLA_F_NESTED,
            IpvsAttr::TimeoutTcp(_) => ATTR_TIMEOUT_TCP,
            IpvsAttr::TimeoutTcpFin(_) => ATTR_TIMEOUT_TCP_FIN,
            IpvsAttr::TimeoutUdp(_) => ATTR_TIMEOUT_UDP,
            IpvsAttr::Info(a) => a.kind(),
            IpvsAttr::Other(a) => a.kind(),
        }
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            IpvsAttr::Service(a) => a.as_slice().emit(buffer),
            IpvsAttr::Dest(a) => a.as_slice().emit(buffer),
            IpvsAttr::Daemon(a) => a.as_slice().emit(buffer),
            IpvsAttr::TimeoutTcp(v) | IpvsAttr::TimeoutTcpFin(v) | IpvsAttr::TimeoutUdp(v) => {
                buffer[..4].copy_from_slice(&v.to_ne_bytes())
            }
            IpvsAttr::Info(a) => a.emit_value(buffer),
            IpvsAttr::Other(a) => a.emit_value(buffer),
        }
    }
}

impl IpvsAttr {
    /// Parses a top-level attribute of any command but GET_INFO.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            ATTR_SERVICE => IpvsAttr::Service(
                parse_nlas(v, ServiceAttr::parse).context("IPVS_CMD_ATTR_SERVICE")?,
            ),
            ATTR_DEST => {
                IpvsAttr::Dest(parse_nlas(v, DestAttr::parse).context("IPVS_CMD_ATTR_DEST")?)
            }
            ATTR_DAEMON => {
                IpvsAttr::Daemon(parse_nlas(v, DaemonAttr::parse).context("IPVS_CMD_ATTR_DAEMON")?)
            }
            ATTR_TIMEOUT_TCP => IpvsAttr::TimeoutTcp(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_TCP")?),
            ATTR_TIMEOUT_TCP_FIN => {
                IpvsAttr::TimeoutTcpFin(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN")?)
            }
            ATTR_TIMEOUT_UDP => IpvsAttr::TimeoutUdp(u32_ne(v, "IPVS_CMD_ATTR_TIMEOUT_UDP")?),
            _ => IpvsAttr::Other(DefaultNla::parse(buf)?),
        })
    }

    /// Parses a top-level attribute of a GET_INFO reply.
    pub fn parse_info(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            INFO_ATTR_VERSION => {
                IpvsAttr::Info(InfoAttr::Version(u32_ne(v, "IPVS_INFO_ATTR_VERSION")?))
            }
            INFO_ATTR_CONN_TAB_SIZE => IpvsAttr::Info(InfoAttr::ConnTabSize(u32_ne(
                v,
                "IPVS_INFO_ATTR_CONN_TAB_SIZE",
            )?)),
            _ => IpvsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}
