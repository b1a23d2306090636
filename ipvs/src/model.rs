//! Typed IPVS values (services, destinations, stats, timeouts, sync
//! daemons) and their conversion to and from wire attributes. Pure.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::wire::{DaemonAttr, DestAttr, ServiceAttr, StatsAttr, StatsKind};

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// A typed value that a kernel reply could not provide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{object}: attribute {attr} missing from the kernel's reply")]
    Missing {
        object: &'static str,
        attr: &'static str,
    },
    #[error("{object}: {attr} has an unexpected value {value}")]
    BadValue {
        object: &'static str,
        attr: &'static str,
        value: String,
    },
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }
    pub fn from_number(n: u16) -> Option<Self> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
    /// ipvsadm's column text.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Inet {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    /// A firewall mark service; `ipv6` picks the address family.
    Fwmark { mark: u32, ipv6: bool },
}

impl ServiceKey {
    pub fn is_ipv6(&self) -> bool {
        match self {
            ServiceKey::Inet { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { ipv6, .. } => *ipv6,
        }
    }
    pub fn af(&self) -> u16 {
        if self.is_ipv6() {
            AF_INET6
        } else {
            AF_INET
        }
    }
    /// The identifying attributes, as ipvsadm sends them (AF first).
    pub fn attrs(&self) -> Vec<ServiceAttr> {
        match *self {
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => vec![
                ServiceAttr::Af(self.af()),
                ServiceAttr::Protocol(protocol.number()),
                ServiceAttr::Addr(addr_bytes(addr)),
                ServiceAttr::Port(port),
            ],
            ServiceKey::Fwmark { mark, .. } => {
                vec![ServiceAttr::Af(self.af()), ServiceAttr::Fwmark(mark)]
            }
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet {
                protocol,
                addr,
                port,
            } => {
                write!(
                    f,
                    "{} {}",
                    protocol.ipvsadm_name(),
                    SocketText(*addr, *port)
                )
            }
            ServiceKey::Fwmark { mark, ipv6 } => {
                write!(f, "FWM {mark}{}", if *ipv6 { " IPv6" } else { "" })
            }
        }
    }
}

/// `addr:port`, IPv6 in brackets.
pub struct SocketText(pub IpAddr, pub u16);
impl fmt::Display for SocketText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

pub fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out = a.octets(),
    }
    out
}

fn addr_from(af: u16, raw: [u8; 16]) -> IpAddr {
    if af == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(raw))
    } else {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    }
}

/// A scheduler name; the kernel accepts any registered module's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Other(String),
}

impl Scheduler {
    pub fn name(&self) -> &str {
        use Scheduler::*;
        match self {
            Rr => "rr",
            Wrr => "wrr",
            Lc => "lc",
            Wlc => "wlc",
            Lblc => "lblc",
            Lblcr => "lblcr",
            Dh => "dh",
            Sh => "sh",
            Sed => "sed",
            Nq => "nq",
            Fo => "fo",
            Ovf => "ovf",
            Mh => "mh",
            Other(s) => s,
        }
    }
    pub fn from_name(s: &str) -> Self {
        use Scheduler::*;
        match s {
            "rr" => Rr,
            "wrr" => Wrr,
            "lc" => Lc,
            "wlc" => Wlc,
            "lblc" => Lblc,
            "lblcr" => Lblcr,
            "dh" => Dh,
            "sh" => Sh,
            "sed" => Sed,
            "nq" => Nq,
            "fo" => Fo,
            "ovf" => Ovf,
            "mh" => Mh,
            s => Other(s.to_owned()),
        }
    }
}

/// `IP_VS_SVC_F_*` bits. SCHED1..3 mean different things per scheduler:
/// sh and mh both use SCHED1 = fallback and SCHED2 = port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    pub const PERSISTENT: u32 = 0x1;
    /// Set by the kernel on every listed service; never sent.
    pub const HASHED: u32 = 0x2;
    pub const ONEPACKET: u32 = 0x4;
    pub const SCHED1: u32 = 0x8;
    pub const SCHED2: u32 = 0x10;
    pub const SCHED3: u32 = 0x20;
    pub const SH_FALLBACK: u32 = Self::SCHED1;
    pub const SH_PORT: u32 = Self::SCHED2;
    pub const MH_FALLBACK: u32 = Self::SCHED1;
    pub const MH_PORT: u32 = Self::SCHED2;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
    /// The bits that describe configuration (without HASHED/PERSISTENT, which
    /// follow from other fields).
    pub fn settable(self) -> u32 {
        self.0 & (Self::ONEPACKET | Self::SCHED1 | Self::SCHED2 | Self::SCHED3)
    }
}

/// A virtual service with its settings (and, when read, its stats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    /// Persistence timeout in seconds, `None` when not persistent.
    pub persistence: Option<u32>,
    /// IPv4: netmask as an address; IPv6: prefix length (as ipvsadm keeps it).
    pub netmask: u32,
    /// ONEPACKET and scheduler flags (persistence lives in `persistence`).
    pub flags: ServiceFlags,
    pub pe_name: Option<String>,
    pub stats: Counters,
    /// Attributes this crate does not know, kept for round trips (boxed:
    /// a service's size sets that of every operation of a plan).
    pub other: Option<Box<Vec<ServiceAttr>>>,
}

impl Service {
    /// A service with ipvsadm's defaults: not persistent, netmask all ones.
    pub fn new(key: ServiceKey, scheduler: Scheduler) -> Self {
        Service {
            key,
            scheduler,
            persistence: None,
            netmask: if key.is_ipv6() { 128 } else { u32::MAX },
            flags: ServiceFlags::default(),
            pe_name: None,
            stats: Counters::default(),
            other: None,
        }
    }

    /// IPv4 netmask as a dotted address (bytes as the kernel keeps them).
    pub fn netmask_v4(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.netmask.to_ne_bytes())
    }

    /// Full attributes for NEW_SERVICE/SET_SERVICE, in ipvsadm's order.
    pub fn attrs(&self) -> Vec<ServiceAttr> {
        let mut attrs = self.key.attrs();
        let mut flags = self.flags.settable();
        if self.persistence.is_some() {
            flags |= ServiceFlags::PERSISTENT;
        }
        attrs.push(ServiceAttr::SchedName(self.scheduler.name().to_owned()));
        if let Some(pe) = &self.pe_name {
            attrs.push(ServiceAttr::PeName(pe.clone()));
        }
        attrs.push(ServiceAttr::Flags {
            flags,
            mask: u32::MAX,
        });
        attrs.push(ServiceAttr::Timeout(self.persistence.unwrap_or(0)));
        attrs.push(ServiceAttr::Netmask(self.netmask));
        attrs
    }

    /// Same configuration (ignores stats, HASHED and unknown attributes).
    pub fn same_config(&self, other: &Service) -> bool {
        self.key == other.key
            && self.scheduler == other.scheduler
            && self.persistence == other.persistence
            && (self.persistence.is_none() || self.netmask == other.netmask)
            && self.flags.settable() == other.flags.settable()
            && self.pe_name == other.pe_name
    }

    pub fn from_attrs(attrs: &[ServiceAttr]) -> Result<Self, ModelError> {
        const OBJ: &str = "IPVS service";
        let mut af = None;
        let mut protocol = None;
        let mut addr = None;
        let mut port = None;
        let mut fwmark = None;
        let mut sched = None;
        let mut flags = 0u32;
        let mut timeout = 0u32;
        let mut netmask = None;
        let mut pe_name = None;
        let mut stats = Stats::default();
        let mut stats64 = None;
        let mut other = Vec::new();
        for a in attrs {
            match a {
                ServiceAttr::Af(v) => af = Some(*v),
                ServiceAttr::Protocol(v) => protocol = Some(*v),
                ServiceAttr::Addr(v) => addr = Some(*v),
                ServiceAttr::Port(v) => port = Some(*v),
                ServiceAttr::Fwmark(v) => fwmark = Some(*v),
                ServiceAttr::SchedName(v) => sched = Some(Scheduler::from_name(v)),
                ServiceAttr::Flags { flags: f, .. } => flags = *f,
                ServiceAttr::Timeout(v) => timeout = *v,
                ServiceAttr::Netmask(v) => netmask = Some(*v),
                ServiceAttr::PeName(v) => pe_name = Some(v.clone()),
                ServiceAttr::Stats(s) => stats = Stats::from_attrs(s),
                ServiceAttr::Stats64(s) => stats64 = Some(Stats::from_attrs(s)),
                ServiceAttr::Other(_) => other.push(a.clone()),
            }
        }
        let af = af.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_SVC_ATTR_AF",
        })?;
        if af != AF_INET && af != AF_INET6 {
            return Err(ModelError::BadValue {
                object: OBJ,
                attr: "IPVS_SVC_ATTR_AF",
                value: af.to_string(),
            });
        }
        let key = match fwmark.filter(|m| *m != 0) {
            Some(mark) => ServiceKey::Fwmark {
                mark,
                ipv6: af == AF_INET6,
            },
            None => {
                let p = protocol.ok_or(ModelError::Missing {
                    object: OBJ,
                    attr: "IPVS_SVC_ATTR_PROTOCOL",
                })?;
                let protocol = Protocol::from_number(p).ok_or(ModelError::BadValue {
                    object: OBJ,
                    attr: "IPVS_SVC_ATTR_PROTOCOL",
                    value: p.to_string(),
                })?;
                let addr = addr.ok_or(ModelError::Missing {
                    object: OBJ,
                    attr: "IPVS_SVC_ATTR_ADDR",
                })?;
                let port = port.ok_or(ModelError::Missing {
                    object: OBJ,
                    attr: "IPVS_SVC_ATTR_PORT",
                })?;
                ServiceKey::Inet {
                    protocol,
                    addr: addr_from(af, addr),
                    port,
                }
            }
        };
        let scheduler = sched.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_SVC_ATTR_SCHED_NAME",
        })?;
        let mut s = Service::new(key, scheduler);
        s.persistence = (flags & ServiceFlags::PERSISTENT != 0).then_some(timeout);
        if let Some(m) = netmask {
            s.netmask = m;
        }
        s.flags = ServiceFlags(flags);
        s.pe_name = pe_name;
        s.stats = stats64.unwrap_or(stats).into();
        s.other = (!other.is_empty()).then(|| Box::new(other));
        Ok(s)
    }
}

/// How packets reach a real server (`IP_VS_CONN_F_FWD_MASK` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Forward {
    /// NAT (`-m`, "Masq").
    Masq,
    /// Local node (read only; "Local").
    Local,
    /// IP-in-IP / GUE / GRE tunnel (`-i`, "Tunnel").
    Tunnel,
    /// Direct routing (`-g`, "Route").
    Route,
    /// Bypass (read only).
    Bypass,
}

impl Forward {
    pub fn code(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
            Forward::Bypass => 4,
        }
    }
    pub fn from_code(n: u32) -> Option<Self> {
        match n & 0x7 {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::Route),
            4 => Some(Forward::Bypass),
            _ => None,
        }
    }
    /// ipvsadm's "Forward" column.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
            Forward::Bypass => "Bypass",
        }
    }
}

/// Tunnel encapsulation for `Forward::Tunnel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

impl TunnelType {
    pub fn code(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        }
    }
    pub fn from_code(n: u8) -> Option<Self> {
        match n {
            0 => Some(TunnelType::Ipip),
            1 => Some(TunnelType::Gue),
            2 => Some(TunnelType::Gre),
            _ => None,
        }
    }
}

/// `IP_VS_TUNNEL_ENCAP_FLAG_*`: 0 is "nocsum".
pub const TUN_FLAG_CSUM: u16 = 0x1;
pub const TUN_FLAG_REMCSUM: u16 = 0x2;

/// A real server with its settings (and, when read, its counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub addr: IpAddr,
    pub port: u16,
    pub forward: Forward,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub tunnel_type: TunnelType,
    pub tunnel_port: u16,
    pub tunnel_flags: u16,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Counters,
    /// Attributes this crate does not know, kept for round trips (boxed,
    /// as the counters: a plan or a configured table has none).
    pub other: Option<Box<Vec<DestAttr>>>,
}

impl Destination {
    pub fn new(addr: IpAddr, port: u16, forward: Forward, weight: u32) -> Self {
        Destination {
            addr,
            port,
            forward,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel_type: TunnelType::Ipip,
            tunnel_port: 0,
            tunnel_flags: 0,
            active_conns: 0,
            inactive_conns: 0,
            persistent_conns: 0,
            stats: Counters::default(),
            other: None,
        }
    }

    /// What identifies it within its service.
    pub fn key(&self) -> (IpAddr, u16) {
        (self.addr, self.port)
    }

    /// Full attributes for NEW_DEST/SET_DEST, in ipvsadm's order (it always
    /// sends the address family and the tunnel fields).
    pub fn attrs(&self, _service: &ServiceKey) -> Vec<DestAttr> {
        vec![
            DestAttr::AddrFamily(if self.addr.is_ipv6() {
                AF_INET6
            } else {
                AF_INET
            }),
            DestAttr::Addr(addr_bytes(self.addr)),
            DestAttr::Port(self.port),
            DestAttr::FwdMethod(self.forward.code()),
            DestAttr::Weight(self.weight),
            DestAttr::TunType(self.tunnel_type.code()),
            DestAttr::TunPort(self.tunnel_port),
            DestAttr::TunFlags(self.tunnel_flags),
            DestAttr::UThresh(self.upper_threshold),
            DestAttr::LThresh(self.lower_threshold),
        ]
    }

    /// Same configuration (ignores counters and unknown attributes).
    pub fn same_config(&self, o: &Destination) -> bool {
        let tunnel_same = self.forward != Forward::Tunnel
            || (self.tunnel_type == o.tunnel_type
                && self.tunnel_port == o.tunnel_port
                && self.tunnel_flags == o.tunnel_flags);
        self.addr == o.addr
            && self.port == o.port
            && self.forward == o.forward
            && self.weight == o.weight
            && self.upper_threshold == o.upper_threshold
            && self.lower_threshold == o.lower_threshold
            && tunnel_same
    }

    /// Parses a destination of a service in address family `service_af`.
    pub fn from_attrs(attrs: &[DestAttr], service_af: u16) -> Result<Self, ModelError> {
        const OBJ: &str = "IPVS destination";
        let mut addr = None;
        let mut port = None;
        let mut fwd = None;
        let mut af = service_af;
        let mut d = Destination::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0, Forward::Masq, 0);
        let mut stats64 = None;
        for a in attrs {
            match a {
                DestAttr::Addr(v) => addr = Some(*v),
                DestAttr::Port(v) => port = Some(*v),
                DestAttr::FwdMethod(v) => fwd = Some(*v),
                DestAttr::Weight(v) => d.weight = *v,
                DestAttr::UThresh(v) => d.upper_threshold = *v,
                DestAttr::LThresh(v) => d.lower_threshold = *v,
                DestAttr::ActiveConns(v) => d.active_conns = *v,
                DestAttr::InactConns(v) => d.inactive_conns = *v,
                DestAttr::PersistConns(v) => d.persistent_conns = *v,
                DestAttr::Stats(s) => d.stats = Stats::from_attrs(s).into(),
                DestAttr::Stats64(s) => stats64 = Some(Stats::from_attrs(s)),
                DestAttr::AddrFamily(v) => af = *v,
                DestAttr::TunType(v) => {
                    d.tunnel_type = TunnelType::from_code(*v).ok_or(ModelError::BadValue {
                        object: OBJ,
                        attr: "IPVS_DEST_ATTR_TUN_TYPE",
                        value: v.to_string(),
                    })?
                }
                DestAttr::TunPort(v) => d.tunnel_port = *v,
                DestAttr::TunFlags(v) => d.tunnel_flags = *v,
                DestAttr::Other(_) => d.other.get_or_insert_with(Box::default).push(a.clone()),
            }
        }
        let addr = addr.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_DEST_ATTR_ADDR",
        })?;
        d.addr = addr_from(af, addr);
        d.port = port.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_DEST_ATTR_PORT",
        })?;
        let fwd = fwd.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_DEST_ATTR_FWD_METHOD",
        })?;
        d.forward = Forward::from_code(fwd).ok_or(ModelError::BadValue {
            object: OBJ,
            attr: "IPVS_DEST_ATTR_FWD_METHOD",
            value: fwd.to_string(),
        })?;
        if let Some(s) = stats64 {
            d.stats = s.into();
        }
        Ok(d)
    }
}

/// Counters and rates (from STATS64 when the kernel sends it, else STATS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

impl Stats {
    const ZERO: Stats = Stats {
        conns: 0,
        inpkts: 0,
        outpkts: 0,
        inbytes: 0,
        outbytes: 0,
        cps: 0,
        inpps: 0,
        outpps: 0,
        inbps: 0,
        outbps: 0,
    };

    pub fn from_attrs(attrs: &[StatsAttr]) -> Self {
        let mut s = Stats::default();
        for (k, v) in attrs.iter().filter_map(StatsAttr::value) {
            match k {
                StatsKind::Conns => s.conns = v,
                StatsKind::InPkts => s.inpkts = v,
                StatsKind::OutPkts => s.outpkts = v,
                StatsKind::InBytes => s.inbytes = v,
                StatsKind::OutBytes => s.outbytes = v,
                StatsKind::Cps => s.cps = v,
                StatsKind::InPps => s.inpps = v,
                StatsKind::OutPps => s.outpps = v,
                StatsKind::InBps => s.inbps = v,
                StatsKind::OutBps => s.outbps = v,
                StatsKind::Other(_) => {}
            }
        }
        s
    }
}

/// The [`Stats`] of a service or real server, held apart and only when not
/// all zero: what lvsd programs carries none, and a start-up holds a
/// configured table several times over (its specification, the plan, what
/// it programmed: 80 bytes inline in each of 10,000 real servers, each
/// page a trap in the UML test bed). Reads and writes go through
/// `Deref`/`DerefMut` as if it were the `Stats` itself.
#[derive(Debug, Clone, Default)]
pub struct Counters(Option<Box<Stats>>);

impl From<Stats> for Counters {
    fn from(s: Stats) -> Self {
        Counters((s != Stats::ZERO).then(|| Box::new(s)))
    }
}

impl std::ops::Deref for Counters {
    type Target = Stats;
    fn deref(&self) -> &Stats {
        self.0.as_deref().unwrap_or(&Stats::ZERO)
    }
}

impl std::ops::DerefMut for Counters {
    fn deref_mut(&mut self) -> &mut Stats {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Counters {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Counters {}

/// Connection timeouts in seconds (`ipvsadm --set tcp tcpfin udp`; 0 = unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// IPVS version and connection table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Info {
    /// `(major << 16) | (minor << 8) | patch`.
    pub version: u32,
    pub conn_table_size: u32,
}

impl Info {
    pub fn version_text(&self) -> String {
        let v = self.version;
        format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
}

/// Master or backup connection sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    pub fn code(self) -> u32 {
        match self {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        }
    }
}

/// A connection synchronisation daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    /// 0 = kernel default.
    pub maxlen: u16,
    pub group: Option<IpAddr>,
    /// 0 = kernel default (8848).
    pub port: u16,
    /// 0 = kernel default (1).
    pub ttl: u8,
}

impl SyncDaemon {
    pub fn new(state: SyncState, mcast_ifn: &str, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_owned(),
            sync_id,
            maxlen: 0,
            group: None,
            port: 0,
            ttl: 0,
        }
    }

    /// Attributes as ipvsadm sends them (optional ones only when set).
    pub fn attrs(&self) -> Vec<DaemonAttr> {
        let mut a = vec![
            DaemonAttr::State(self.state.code()),
            DaemonAttr::McastIfn(self.mcast_ifn.clone()),
            DaemonAttr::SyncId(self.sync_id),
        ];
        if self.maxlen != 0 {
            a.push(DaemonAttr::SyncMaxlen(self.maxlen));
        }
        match self.group {
            Some(IpAddr::V4(g)) => a.push(DaemonAttr::McastGroup(g.octets())),
            Some(IpAddr::V6(g)) => a.push(DaemonAttr::McastGroup6(g.octets())),
            None => {}
        }
        if self.port != 0 {
            a.push(DaemonAttr::McastPort(self.port));
        }
        if self.ttl != 0 {
            a.push(DaemonAttr::McastTtl(self.ttl));
        }
        a
    }

    pub fn from_attrs(attrs: &[DaemonAttr]) -> Result<Self, ModelError> {
        const OBJ: &str = "IPVS sync daemon";
        let mut state = None;
        let mut d = SyncDaemon::new(SyncState::Master, "", 0);
        for a in attrs {
            match a {
                DaemonAttr::State(1) => state = Some(SyncState::Master),
                DaemonAttr::State(2) => state = Some(SyncState::Backup),
                DaemonAttr::State(v) => {
                    return Err(ModelError::BadValue {
                        object: OBJ,
                        attr: "IPVS_DAEMON_ATTR_STATE",
                        value: v.to_string(),
                    })
                }
                DaemonAttr::McastIfn(v) => d.mcast_ifn = v.clone(),
                DaemonAttr::SyncId(v) => d.sync_id = *v,
                DaemonAttr::SyncMaxlen(v) => d.maxlen = *v,
                DaemonAttr::McastGroup(v) => {
                    if *v != [0; 4] {
                        d.group = Some(IpAddr::V4(Ipv4Addr::from(*v)))
                    }
                }
                DaemonAttr::McastGroup6(v) => {
                    if *v != [0; 16] {
                        d.group = Some(IpAddr::V6(Ipv6Addr::from(*v)))
                    }
                }
                DaemonAttr::McastPort(v) => d.port = *v,
                DaemonAttr::McastTtl(v) => d.ttl = *v,
                DaemonAttr::Other(_) => {}
            }
        }
        d.state = state.ok_or(ModelError::Missing {
            object: OBJ,
            attr: "IPVS_DAEMON_ATTR_STATE",
        })?;
        Ok(d)
    }
}

/// A whole IPVS table: services, each with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub services: Vec<(Service, Vec<Destination>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_counters_hold_nothing_and_read_as_zero() {
        let c = Counters::from(Stats::default());
        assert!(c.0.is_none());
        assert_eq!(*c, Stats::default());
        let busy = Counters::from(Stats {
            conns: 3,
            ..Stats::default()
        });
        assert_eq!(busy.conns, 3);
        assert_ne!(busy, c);
    }

    #[test]
    fn written_counters_compare_by_value() {
        let mut c = Counters::from(Stats::default());
        // Written through DerefMut, as a dump parser or a test would.
        let stats: &mut Stats = &mut c;
        stats.inbytes = 99;
        assert_eq!(c.inbytes, 99);
        c.inbytes = 0;
        // Held, but zero: equal to counters that hold nothing.
        assert!(c.0.is_some());
        assert_eq!(c, Counters::default());
    }
}
