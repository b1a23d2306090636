//! `IPVS_STATS_ATTR_*` (inside STATS and STATS64 nests) and `IPVS_INFO_ATTR_*`.

use netlink_packet_core::{DecodeError, DefaultNla, Nla, NlaBuffer, Parseable};

/// Which counter or rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsKind {
    Conns,
    InPkts,
    OutPkts,
    InBytes,
    OutBytes,
    Cps,
    InPps,
    OutPps,
    InBps,
    OutBps,
    Other(u16),
}

impl From<u16> for StatsKind {
    fn from(n: u16) -> Self {
        use StatsKind::*;
        match n {
            1 => Conns,
            2 => InPkts,
            3 => OutPkts,
            4 => InBytes,
            5 => OutBytes,
            6 => Cps,
            7 => InPps,
            8 => OutPps,
            9 => InBps,
            10 => OutBps,
            n => Other(n),
        }
    }
}

impl From<StatsKind> for u16 {
    fn from(k: StatsKind) -> u16 {
        use StatsKind::*;
        match k {
            Conns => 1,
            InPkts => 2,
            OutPkts => 3,
            InBytes => 4,
            OutBytes => 5,
            Cps => 6,
            InPps => 7,
            OutPps => 8,
            InBps => 9,
            OutBps => 10,
            Other(n) => n,
        }
    }
}

/// One counter: its width on the wire is kept (STATS mixes u32 and u64,
/// STATS64 is all u64) so a parsed nest re-emits identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAttr {
    U32(StatsKind, u32),
    U64(StatsKind, u64),
    /// Anything not 4 or 8 bytes long (e.g. `IPVS_STATS_ATTR_PAD`).
    Other(DefaultNla),
}

impl StatsAttr {
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = buf.value();
        let kind = StatsKind::from(buf.kind());
        Ok(match (kind, v.len()) {
            (StatsKind::Other(_), _) => StatsAttr::Other(DefaultNla::parse(buf)?),
            (_, 4) => StatsAttr::U32(kind, u32::from_ne_bytes([v[0], v[1], v[2], v[3]])),
            (_, 8) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(v);
                StatsAttr::U64(kind, u64::from_ne_bytes(b))
            }
            (_, n) => {
                return Err(DecodeError::from(format!(
                    "IPVS_STATS_ATTR {}: expected 4 or 8 bytes, got {n}",
                    buf.kind()
                )))
            }
        })
    }

    /// The counter and its value, widened.
    pub fn value(&self) -> Option<(StatsKind, u64)> {
        match self {
            StatsAttr::U32(k, v) => Some((*k, u64::from(*v))),
            StatsAttr::U64(k, v) => Some((*k, *v)),
            StatsAttr::Other(_) => None,
        }
    }
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self {
            StatsAttr::U32(..) => 4,
            StatsAttr::U64(..) => 8,
            StatsAttr::Other(a) => a.value_len(),
        }
    }
    fn kind(&self) -> u16 {
        match self {
            StatsAttr::U32(k, _) | StatsAttr::U64(k, _) => (*k).into(),
            StatsAttr::Other(a) => a.kind(),
        }
    }
    fn emit_value(&self, b: &mut [u8]) {
        match self {
            StatsAttr::U32(_, v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
            StatsAttr::U64(_, v) => b[..8].copy_from_slice(&v.to_ne_bytes()),
            StatsAttr::Other(a) => a.emit_value(b),
        }
    }
}

/// `IPVS_INFO_ATTR_*` (top level of a GET_INFO reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfoAttr {
    /// `(major << 16) | (minor << 8) | patch`.
    Version(u32),
    ConnTabSize(u32),
}

impl Nla for InfoAttr {
    fn value_len(&self) -> usize {
        4
    }
    fn kind(&self) -> u16 {
        match self {
            InfoAttr::Version(_) => 1,
            InfoAttr::ConnTabSize(_) => 2,
        }
    }
    fn emit_value(&self, b: &mut [u8]) {
        let (InfoAttr::Version(v) | InfoAttr::ConnTabSize(v)) = self;
        b[..4].copy_from_slice(&v.to_ne_bytes());
    }
}
