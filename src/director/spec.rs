//! Translation of the config model into what the director manages: virtual
//! services (as IPVS service templates, one per group member) and their real
//! servers (as IPVS destinations plus checker descriptions). Pure.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvs::model::{
    Destination, Forward, Protocol as IpvsProtocol, Scheduler, Service, ServiceFlags, ServiceKey,
    TunnelType as IpvsTunnelType, TUN_FLAG_CSUM, TUN_FLAG_REMCSUM,
};

use super::checks::CheckTemplate;
use crate::config::model::{
    Config, ForwardingMethod, IpFamily, LbAlgo, LbKind, Protocol, ScriptCommand, TunnelChecksum,
    TunnelType, VirtualServer, VirtualServerKey, VsgMember,
};

/// Most addresses one `virtual_server_group` range may expand to.
pub const MAX_GROUP_RANGE: u128 = 65_536;

/// Why a virtual server cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{vs}: virtual_server_group {group} is not defined")]
    UnknownGroup { vs: String, group: String },
    #[error(
        "{vs}: virtual_server_group {group}: range {first}-{last} is reversed or mixes families"
    )]
    BadRange {
        vs: String,
        group: String,
        first: IpAddr,
        last: IpAddr,
    },
    #[error("{vs}: virtual_server_group {group}: range {first}-{last} has more than {MAX_GROUP_RANGE} addresses")]
    RangeTooLarge {
        vs: String,
        group: String,
        first: IpAddr,
        last: IpAddr,
    },
    #[error("{vs}: {what}")]
    Checker { vs: String, what: String },
    #[error("{vs}: two virtual servers program the same IPVS service {service}")]
    DuplicateService { vs: String, service: String },
}

/// Everything the director manages, from one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectorSpec {
    pub virtual_servers: Vec<VirtualServerSpec>,
    /// The `track_file` blocks FILE_CHECKs refer to (the director reads and
    /// watches these; VRRP watches its own).
    pub track_files: Vec<CheckedFile>,
    /// `rs_init_notifies`: run notify_up for the real servers in service at
    /// start, as keepalived does with it (without it, start runs none).
    pub rs_init_notifies: bool,
}

impl DirectorSpec {
    /// Whether some real server is checked by a MISC_CHECK (a script run
    /// every round; vetted by the checker when it starts, not at load).
    pub fn has_misc_checks(&self) -> bool {
        self.virtual_servers
            .iter()
            .flat_map(|vs| &vs.real_servers)
            .flat_map(|rs| rs.checks.checkers())
            .any(|c| matches!(c.spec, checkers::config::CheckSpec::Misc(_)))
    }
}

/// A `track_file` used by FILE_CHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedFile {
    pub name: std::sync::Arc<str>,
    pub path: std::path::PathBuf,
    pub init: Option<crate::config::model::TrackFileInit>,
}

/// One `virtual_server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerSpec {
    /// Stable name, e.g. `virtual_server 10.0.0.1:80 TCP`; also the key of
    /// its real servers' state across reloads.
    pub name: std::sync::Arc<str>,
    /// The IPVS services it programs (several for a group).
    pub services: Vec<Service>,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<ScriptCommand>,
    pub quorum_down: Option<ScriptCommand>,
    pub sorry_server: Option<SorrySpec>,
    pub real_servers: Vec<RealServerSpec>,
    /// `omega`: at stop, notify_down for the real servers in service and
    /// quorum_down if quorum was up, as keepalived does with it.
    pub omega: bool,
    /// `ha_suspend`: its checkers run only while one of its addresses is on
    /// this machine (the VRRP master holds the VIP).
    pub ha_suspend: bool,
}

/// `sorry_server`, as the destination it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorrySpec {
    pub dest: Destination,
    /// `sorry_server_inhibit`: stays in the table with weight 0 while unused.
    pub inhibit: bool,
}

/// One `real_server` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerSpec {
    /// The destination with its configured weight.
    pub dest: Destination,
    pub inhibit_on_failure: bool,
    /// Boxed: rare, and 10,000 real servers would carry the room inline.
    pub notify_up: Option<Box<ScriptCommand>>,
    pub notify_down: Option<Box<ScriptCommand>>,
    /// Its checks without its own address and port, shared with the other
    /// real servers of its virtual server that check alike (see
    /// [`CheckTemplate`]).
    pub checks: std::sync::Arc<CheckTemplate>,
    /// FILE_CHECK: one entry per block (a file listed twice counts twice, as
    /// in keepalived).
    pub file_checks: Vec<FileCheckSpec>,
}

/// One FILE_CHECK, with the weight that applies (its own, else the
/// track_file's). Weight 0: a non-zero number (with `reverse`: zero) takes
/// the real server down; otherwise number × weight (negated by `reverse`)
/// adds to its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheckSpec {
    pub track_file: std::sync::Arc<str>,
    pub weight: i32,
    pub reverse: bool,
}

impl FileCheckSpec {
    /// Whether the number `value` takes the real server down.
    pub fn faults(&self, value: i32) -> bool {
        self.weight == 0 && (value != 0) != self.reverse
    }

    /// What the number `value` adds to the real server's weight.
    pub fn adjustment(&self, value: i32) -> i64 {
        let sign = if self.reverse { -1 } else { 1 };
        i64::from(value) * i64::from(self.weight) * sign
    }
}

impl RealServerSpec {
    pub fn key(&self) -> (IpAddr, u16) {
        self.dest.key()
    }

    /// The checks it runs, with its address and port as their targets where
    /// no `connect_ip` or `connect_port` says otherwise.
    pub fn checks(&self) -> checkers::RealServerChecks {
        self.checks.resolve(self.dest.addr, self.dest.port)
    }
}

/// Identifies a real server across reloads: its virtual server's name and address:port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealServerKey {
    pub virtual_server: std::sync::Arc<str>,
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for RealServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} real_server {}",
            self.virtual_server,
            ipvs::model::SocketText(self.addr, self.port)
        )
    }
}

/// Translates every `virtual_server` of `config`.
pub fn translate(config: &Config) -> Result<DirectorSpec, SpecError> {
    translate_each(config, config.virtual_servers.iter())
}

/// [`translate`], consuming the model: each virtual server's model is freed
/// as soon as it is translated, so the spec of the next one reuses that
/// memory instead of touching as much again (a 10,000-real-server config
/// has megabytes of both, and page faults are dear in the UML test bed).
pub fn translate_owned(mut config: Config) -> Result<DirectorSpec, SpecError> {
    let virtual_servers = std::mem::take(&mut config.virtual_servers);
    translate_each(&config, virtual_servers.into_iter())
}

fn translate_each<V: std::borrow::Borrow<VirtualServer>>(
    config: &Config,
    virtual_servers: impl ExactSizeIterator<Item = V>,
) -> Result<DirectorSpec, SpecError> {
    let mut out = DirectorSpec {
        virtual_servers: Vec::with_capacity(virtual_servers.len()),
        track_files: Vec::new(),
        rs_init_notifies: config.global.rs_init_notifies,
    };
    let mut seen = std::collections::BTreeSet::new();
    for vs in virtual_servers {
        let spec = virtual_server(config, vs.borrow())?;
        drop(vs);
        for s in &spec.services {
            if !seen.insert(s.key) {
                return Err(SpecError::DuplicateService {
                    vs: spec.name.to_string(),
                    service: s.key.to_string(),
                });
            }
        }
        out.virtual_servers.push(spec);
    }
    let used: std::collections::BTreeSet<&str> = out
        .virtual_servers
        .iter()
        .flat_map(|vs| vs.real_servers.iter())
        .flat_map(|rs| rs.file_checks.iter().map(|f| &*f.track_file))
        .collect();
    out.track_files = config
        .track_files
        .iter()
        .filter(|f| used.contains(f.name.as_str()))
        .map(|f| CheckedFile {
            name: f.name.as_str().into(),
            path: f.file.clone(),
            init: f.init,
        })
        .collect();
    Ok(out)
}

/// A FILE_CHECK with the weight that applies: its own unless absent or 0 (as
/// keepalived), else its track_file's. `None` for an unknown track_file (the
/// config check already dropped and reported those).
fn file_check(config: &Config, f: &crate::config::model::FileCheck) -> Option<FileCheckSpec> {
    let file = config.track_file(&f.track_file)?;
    let (weight, reverse) = match f.weight {
        Some(w) if w != 0 => (w, f.reverse),
        _ => (i32::from(file.weight), file.weight_reverse),
    };
    Some(FileCheckSpec {
        track_file: f.track_file.as_str().into(),
        weight,
        reverse,
    })
}

/// The stable name of a virtual server.
pub fn virtual_server_name(vs: &VirtualServer) -> String {
    let proto = match vs.protocol {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    };
    format!("{} {proto}", vs.key)
}

fn virtual_server(config: &Config, vs: &VirtualServer) -> Result<VirtualServerSpec, SpecError> {
    let name = virtual_server_name(vs);
    let protocol = ipvs_protocol(vs.protocol);
    let keys = service_keys(config, vs, &name, protocol)?;
    let services = keys.into_iter().map(|k| service(vs, k)).collect();
    let vs_port = vs.port().unwrap_or(0);
    // Sized up front (collecting through Result would regrow and copy the vector).
    let mut real_servers = Vec::with_capacity(vs.real_servers.len());
    let mut last_checks: Option<std::sync::Arc<CheckTemplate>> = None;
    for rs in &vs.real_servers {
        let port = rs.port.unwrap_or(vs_port);
        let mut dest = Destination::new(rs.address, port, Forward::Masq, rs.weight.get());
        set_forward(&mut dest, rs.method);
        dest.upper_threshold = rs.uthreshold.unwrap_or(0);
        dest.lower_threshold = rs.lthreshold.unwrap_or(0);
        let checks = super::checks::real_server_checks(config, vs, rs).map_err(|what| {
            SpecError::Checker {
                vs: name.clone(),
                what,
            }
        })?;
        // Real servers that check alike are usually neighbours in the block.
        let checks = match &last_checks {
            Some(last) if **last == checks => last.clone(),
            _ => std::sync::Arc::new(checks),
        };
        last_checks = Some(checks.clone());
        real_servers.push(RealServerSpec {
            dest,
            inhibit_on_failure: rs.inhibit_on_failure,
            notify_up: rs.notify_up.clone(),
            notify_down: rs.notify_down.clone(),
            checks,
            file_checks: rs
                .file_checks
                .iter()
                .filter_map(|f| file_check(config, f))
                .collect(),
        });
    }
    let sorry_server = vs.sorry_server.as_ref().map(|s| {
        let mut dest = Destination::new(s.address, s.port.unwrap_or(vs_port), Forward::Masq, 1);
        set_forward(&mut dest, s.method);
        SorrySpec {
            dest,
            inhibit: s.inhibit,
        }
    });
    Ok(VirtualServerSpec {
        name: name.into(),
        omega: vs.omega,
        ha_suspend: vs.ha_suspend,
        services,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        quorum_up: vs.quorum_up.clone(),
        quorum_down: vs.quorum_down.clone(),
        sorry_server,
        real_servers,
    })
}

fn ipvs_protocol(p: Protocol) -> IpvsProtocol {
    match p {
        Protocol::Tcp => IpvsProtocol::Tcp,
        Protocol::Udp => IpvsProtocol::Udp,
        Protocol::Sctp => IpvsProtocol::Sctp,
    }
}

/// The family of a fwmark service: `ip_family`, else its real servers', else IPv4.
fn fwmark_is_v6(vs: &VirtualServer, family: Option<IpFamily>) -> bool {
    match family.or(vs.ip_family) {
        Some(f) => f == IpFamily::Inet6,
        None => vs
            .real_servers
            .first()
            .is_some_and(|rs| rs.address.is_ipv6()),
    }
}

fn service_keys(
    config: &Config,
    vs: &VirtualServer,
    name: &str,
    protocol: IpvsProtocol,
) -> Result<Vec<ServiceKey>, SpecError> {
    match &vs.key {
        VirtualServerKey::Address { ip, port } => Ok(vec![ServiceKey::Inet {
            protocol,
            addr: *ip,
            port: port.unwrap_or(0),
        }]),
        VirtualServerKey::Fwmark(mark) => Ok(vec![ServiceKey::Fwmark {
            mark: *mark,
            ipv6: fwmark_is_v6(vs, None),
        }]),
        VirtualServerKey::Group(group) => {
            let Some(g) = config
                .virtual_server_groups
                .iter()
                .find(|g| &g.name == group)
            else {
                return Err(SpecError::UnknownGroup {
                    vs: name.to_owned(),
                    group: group.clone(),
                });
            };
            let mut keys = Vec::new();
            for m in &g.members {
                match m {
                    VsgMember::Fwmark { mark, family, .. } => keys.push(ServiceKey::Fwmark {
                        mark: *mark,
                        ipv6: fwmark_is_v6(vs, *family),
                    }),
                    VsgMember::Range {
                        first, last, port, ..
                    } => {
                        let addrs = expand_range(*first, *last).map_err(|too_large| {
                            if too_large {
                                SpecError::RangeTooLarge {
                                    vs: name.to_owned(),
                                    group: group.clone(),
                                    first: *first,
                                    last: *last,
                                }
                            } else {
                                SpecError::BadRange {
                                    vs: name.to_owned(),
                                    group: group.clone(),
                                    first: *first,
                                    last: *last,
                                }
                            }
                        })?;
                        keys.extend(addrs.into_iter().map(|addr| ServiceKey::Inet {
                            protocol,
                            addr,
                            port: port.unwrap_or(0),
                        }));
                    }
                }
            }
            Ok(keys)
        }
    }
}

/// Every address `first..=last`; `Err(true)` when too many, `Err(false)` when invalid.
fn expand_range(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, bool> {
    let (a, b, v6) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), false)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), true),
        _ => return Err(false),
    };
    if b < a {
        return Err(false);
    }
    if b - a >= MAX_GROUP_RANGE {
        return Err(true);
    }
    Ok((a..=b)
        .map(|n| {
            if v6 {
                IpAddr::V6(Ipv6Addr::from(n))
            } else {
                // In range: both ends came from u32.
                IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
            }
        })
        .collect())
}

fn service(vs: &VirtualServer, key: ServiceKey) -> Service {
    let scheduler = match vs.lb_algo {
        LbAlgo::Twos => Scheduler::Other("twos".into()),
        a => Scheduler::from_name(a.name()),
    };
    let mut s = Service::new(key, scheduler);
    s.persistence = vs.persistence_timeout;
    if s.persistence.is_some() {
        if let Some(g) = &vs.persistence_granularity {
            if let Some(mask) = granularity(g, key.is_ipv6()) {
                s.netmask = mask;
            }
        }
    }
    let f = vs.scheduler_flags;
    let mut flags = 0;
    if f.flag_1 || f.fallback {
        flags |= ServiceFlags::SCHED1;
    }
    if f.flag_2 || f.port {
        flags |= ServiceFlags::SCHED2;
    }
    if f.flag_3 {
        flags |= ServiceFlags::SCHED3;
    }
    if f.ops {
        flags |= ServiceFlags::ONEPACKET;
    }
    s.flags = ServiceFlags(flags);
    s.pe_name = vs.persistence_engine.clone();
    s
}

/// `persistence_granularity`: a dotted netmask (IPv4) or a prefix length (either family),
/// in the form the IPVS model keeps (IPv4: mask bytes in network order as a native u32).
fn granularity(text: &str, v6: bool) -> Option<u32> {
    if v6 {
        return text.parse::<u32>().ok().filter(|p| *p <= 128);
    }
    let mask = if let Ok(a) = text.parse::<Ipv4Addr>() {
        a
    } else {
        let len = text.parse::<u32>().ok().filter(|p| *p <= 32)?;
        let bits = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Ipv4Addr::from(bits)
    };
    Some(u32::from_ne_bytes(mask.octets()))
}

fn set_forward(dest: &mut Destination, method: ForwardingMethod) {
    dest.forward = match method.kind {
        LbKind::Nat => Forward::Masq,
        LbKind::Dr => Forward::Route,
        LbKind::Tun => Forward::Tunnel,
    };
    if method.kind == LbKind::Tun {
        match method.tunnel.unwrap_or_default() {
            TunnelType::Ipip => dest.tunnel_type = IpvsTunnelType::Ipip,
            TunnelType::Gue { port } => {
                dest.tunnel_type = IpvsTunnelType::Gue;
                dest.tunnel_port = port;
            }
            TunnelType::Gre => dest.tunnel_type = IpvsTunnelType::Gre,
        }
        dest.tunnel_flags = match method.tunnel_checksum {
            None | Some(TunnelChecksum::Nocsum) => 0,
            Some(TunnelChecksum::Csum) => TUN_FLAG_CSUM,
            Some(TunnelChecksum::Remcsum) => TUN_FLAG_REMCSUM,
        };
    }
}
