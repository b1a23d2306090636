//! The IPVS generic netlink family on the wire: commands and attributes
//! from the kernel's `include/uapi/linux/ip_vs.h`, in the rust-netlink
//! mould (`Nla` + `emit`/`parse`; unknown attributes kept as `Other`).
//!
//! Pure: no sockets here. [`IpvsMessage`] is the generic netlink payload;
//! wrap it in `NetlinkMessage<GenlMessage<IpvsMessage>>` to send it.
#![forbid(unsafe_code)]

mod attr;
mod daemon;
mod dest;
mod service;
mod stats;

pub use attr::{IpvsAttr, ATTR_DAEMON, ATTR_DEST, ATTR_SERVICE};
pub use daemon::DaemonAttr;
pub use dest::DestAttr;
pub use service::ServiceAttr;
pub use stats::{InfoAttr, StatsAttr, StatsKind};

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NlaBuffer, NlasIterator, ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

/// The family name the kernel registers (`IPVS_GENL_NAME`).
pub const FAMILY_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`: what ipvsadm puts in the genl header.
pub const FAMILY_VERSION: u8 = 1;

/// `enum { IPVS_CMD_* }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvsCmd {
    NewService,
    SetService,
    DelService,
    GetService,
    NewDest,
    SetDest,
    DelDest,
    GetDest,
    NewDaemon,
    DelDaemon,
    GetDaemon,
    SetConfig,
    GetConfig,
    SetInfo,
    GetInfo,
    Zero,
    Flush,
    Other(u8),
}

impl From<IpvsCmd> for u8 {
    fn from(cmd: IpvsCmd) -> u8 {
        use IpvsCmd::*;
        match cmd {
            NewService => 1,
            SetService => 2,
            DelService => 3,
            GetService => 4,
            NewDest => 5,
            SetDest => 6,
            DelDest => 7,
            GetDest => 8,
            NewDaemon => 9,
            DelDaemon => 10,
            GetDaemon => 11,
            SetConfig => 12,
            GetConfig => 13,
            SetInfo => 14,
            GetInfo => 15,
            Zero => 16,
            Flush => 17,
            Other(n) => n,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(n: u8) -> IpvsCmd {
        use IpvsCmd::*;
        match n {
            1 => NewService,
            2 => SetService,
            3 => DelService,
            4 => GetService,
            5 => NewDest,
            6 => SetDest,
            7 => DelDest,
            8 => GetDest,
            9 => NewDaemon,
            10 => DelDaemon,
            11 => GetDaemon,
            12 => SetConfig,
            13 => GetConfig,
            14 => SetInfo,
            15 => GetInfo,
            16 => Zero,
            17 => Flush,
            n => Other(n),
        }
    }
}

/// One IPVS generic netlink payload: a command and its top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: IpvsCmd,
    pub attrs: Vec<IpvsAttr>,
}

impl IpvsMessage {
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> Self {
        IpvsMessage { cmd, attrs }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        FAMILY_NAME
    }
    fn command(&self) -> u8 {
        self.cmd.into()
    }
    fn version(&self) -> u8 {
        FAMILY_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = IpvsCmd::from(header.cmd);
        // GET_INFO replies (command SET_INFO) number their attributes
        // IPVS_INFO_ATTR_*, overlapping the other commands' numbers.
        let parse_one = match cmd {
            IpvsCmd::GetInfo | IpvsCmd::SetInfo => IpvsAttr::parse_info,
            _ => IpvsAttr::parse,
        };
        let attrs =
            parse_nlas(buf, parse_one).context(format!("IPVS message (command {})", header.cmd))?;
        Ok(IpvsMessage { cmd, attrs })
    }
}

/// Parses a run of attributes with `parse_one`, failing on the first bad one.
pub(crate) fn parse_nlas<T>(
    buf: &[u8],
    parse_one: impl Fn(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(buf) {
        let nla = nla?;
        out.push(parse_one(&nla)?);
    }
    Ok(out)
}

/// Reads an address attribute: the kernel sends `union nf_inet_addr` (16
/// bytes); IPv4 uses the first 4.
pub(crate) fn parse_addr(value: &[u8]) -> Result<[u8; 16], DecodeError> {
    match value.len() {
        4 | 16 => {
            let mut out = [0u8; 16];
            out[..value.len()].copy_from_slice(value);
            Ok(out)
        }
        n => Err(DecodeError::from(format!(
            "address must be 4 or 16 bytes, got {n}"
        ))),
    }
}

/// Exact-length check with the attribute's name in the error.
pub(crate) fn exact<const N: usize>(value: &[u8], name: &str) -> Result<[u8; N], DecodeError> {
    value
        .try_into()
        .map_err(|_| DecodeError::from(format!("{name}: expected {N} bytes, got {}", value.len())))
}

pub(crate) fn u16_ne(value: &[u8], name: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(exact::<2>(value, name)?))
}
pub(crate) fn u16_be(value: &[u8], name: &str) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(exact::<2>(value, name)?))
}
pub(crate) fn u32_ne(value: &[u8], name: &str) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(exact::<4>(value, name)?))
}
pub(crate) fn u8_of(value: &[u8], name: &str) -> Result<u8, DecodeError> {
    Ok(exact::<1>(value, name)?[0])
}
/// A NUL-terminated kernel string (the NUL is optional on input).
pub(crate) fn cstr(value: &[u8], name: &str) -> Result<String, DecodeError> {
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8(value[..end].to_vec())
        .map_err(|e| DecodeError::from(format!("{name}: not UTF-8: {e}")))
}
/// Emits a string with its NUL terminator (as libnl's `nla_put_string`).
pub(crate) fn emit_cstr(buffer: &mut [u8], s: &str) {
    buffer[..s.len()].copy_from_slice(s.as_bytes());
    buffer[s.len()] = 0;
}
