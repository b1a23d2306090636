//! `lvsd list --json`: a stable schema for scripts (version 1). Every
//! document is one JSON object with `"schema": 1`; fields are only ever
//! added, never renamed or removed, within a schema version. Pure.

use serde::Serialize;

use ipvs::model::{
    Destination, Forward, Info, ServiceFlags, ServiceKey, Stats, SyncDaemon, Timeouts, TunnelType,
    TUN_FLAG_CSUM, TUN_FLAG_REMCSUM,
};

use super::addr::ip_text;
use super::conn::Connection;
use super::text::{family_name, netmask_text, sched_flag_names};
use super::ServiceEntry;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct TableDoc {
    schema: u32,
    ipvs_version: String,
    connection_table_size: u32,
    services: Vec<ServiceJson>,
}

#[derive(Serialize)]
struct ServiceJson {
    family: &'static str,
    /// `tcp`, `udp`, `sctp`; null for a fwmark service.
    protocol: Option<&'static str>,
    address: Option<String>,
    port: Option<u16>,
    fwmark: Option<u32>,
    scheduler: String,
    scheduler_flags: Vec<&'static str>,
    persistent: Option<PersistenceJson>,
    persistence_engine: Option<String>,
    one_packet: bool,
    /// Raw `IP_VS_SVC_F_*` bits as the kernel reported them.
    flags: u32,
    stats: CountersJson,
    rates: RatesJson,
    destinations: Vec<DestJson>,
}

#[derive(Serialize)]
struct PersistenceJson {
    timeout: u32,
    /// IPv4: dotted netmask; IPv6: prefix length (as a string too, so the
    /// type does not depend on the family).
    netmask: String,
}

#[derive(Serialize)]
struct CountersJson {
    conns: u64,
    inpkts: u64,
    outpkts: u64,
    inbytes: u64,
    outbytes: u64,
}

#[derive(Serialize)]
struct RatesJson {
    cps: u64,
    inpps: u64,
    outpps: u64,
    inbps: u64,
    outbps: u64,
}

#[derive(Serialize)]
struct DestJson {
    family: &'static str,
    address: String,
    port: u16,
    forward: Forward,
    weight: u32,
    upper_threshold: u32,
    lower_threshold: u32,
    active_connections: u32,
    inactive_connections: u32,
    persistent_connections: u32,
    /// Only for `forward: "tunnel"`.
    tunnel: Option<TunnelJson>,
    stats: CountersJson,
    rates: RatesJson,
}

#[derive(Serialize)]
struct TunnelJson {
    #[serde(rename = "type")]
    kind: TunnelType,
    port: u16,
    /// `nocsum`, `csum` or `remcsum` (ipvsadm's option names).
    checksum: &'static str,
    flags: u16,
}

fn counters(s: &Stats) -> CountersJson {
    CountersJson {
        conns: s.conns,
        inpkts: s.inpkts,
        outpkts: s.outpkts,
        inbytes: s.inbytes,
        outbytes: s.outbytes,
    }
}

fn rates(s: &Stats) -> RatesJson {
    RatesJson {
        cps: s.cps,
        inpps: s.inpps,
        outpps: s.outpps,
        inbps: s.inbps,
        outbps: s.outbps,
    }
}

fn service_json((s, dests): &ServiceEntry) -> ServiceJson {
    let (protocol, address, port, fwmark) = match &s.key {
        ServiceKey::Inet {
            protocol,
            addr,
            port,
        } => {
            let p = match protocol {
                ipvs::model::Protocol::Tcp => "tcp",
                ipvs::model::Protocol::Udp => "udp",
                ipvs::model::Protocol::Sctp => "sctp",
            };
            (Some(p), Some(ip_text(addr)), Some(*port), None)
        }
        ServiceKey::Fwmark { mark, .. } => (None, None, None, Some(*mark)),
    };
    ServiceJson {
        family: if s.key.is_ipv6() { "inet6" } else { "inet" },
        protocol,
        address,
        port,
        fwmark,
        scheduler: s.scheduler.name().to_owned(),
        scheduler_flags: sched_flag_names(s),
        persistent: s.persistence.map(|timeout| PersistenceJson {
            timeout,
            netmask: netmask_text(s),
        }),
        persistence_engine: s.pe_name.clone().filter(|p| !p.is_empty()),
        one_packet: s.flags.has(ServiceFlags::ONEPACKET),
        flags: s.flags.0,
        stats: counters(&s.stats),
        rates: rates(&s.stats),
        destinations: dests.iter().map(dest_json).collect(),
    }
}

fn dest_json(d: &Destination) -> DestJson {
    let tunnel = (d.forward == Forward::Tunnel).then_some(TunnelJson {
        kind: d.tunnel_type,
        port: d.tunnel_port,
        checksum: if d.tunnel_flags & TUN_FLAG_REMCSUM != 0 {
            "remcsum"
        } else if d.tunnel_flags & TUN_FLAG_CSUM != 0 {
            "csum"
        } else {
            "nocsum"
        },
        flags: d.tunnel_flags,
    });
    DestJson {
        family: family_name(&d.addr),
        address: ip_text(&d.addr),
        port: d.port,
        forward: d.forward,
        weight: d.weight,
        upper_threshold: d.upper_threshold,
        lower_threshold: d.lower_threshold,
        active_connections: d.active_conns,
        inactive_connections: d.inactive_conns,
        persistent_connections: d.persistent_conns,
        tunnel,
        stats: counters(&d.stats),
        rates: rates(&d.stats),
    }
}

fn to_text(value: &impl Serialize) -> String {
    // Serializing these plain structs cannot fail (no maps with non-string
    // keys, no custom serializers); fall back to an empty object anyway.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned());
    s.push('\n');
    s
}

/// The table (or the one service a filter named).
pub fn render_table(info: &Info, services: &[ServiceEntry]) -> String {
    to_text(&TableDoc {
        schema: SCHEMA_VERSION,
        ipvs_version: info.version_text(),
        connection_table_size: info.conn_table_size,
        services: services.iter().map(service_json).collect(),
    })
}

#[derive(Serialize)]
struct TimeoutsDoc<'a> {
    schema: u32,
    timeouts: &'a Timeouts,
}

pub fn render_timeouts(t: &Timeouts) -> String {
    to_text(&TimeoutsDoc {
        schema: SCHEMA_VERSION,
        timeouts: t,
    })
}

#[derive(Serialize)]
struct DaemonJson<'a> {
    state: ipvs::model::SyncState,
    mcast_interface: &'a str,
    syncid: u32,
    maxlen: u16,
    group: Option<String>,
    port: u16,
    ttl: u8,
}

#[derive(Serialize)]
struct DaemonsDoc<'a> {
    schema: u32,
    daemons: Vec<DaemonJson<'a>>,
}

pub fn render_daemons(daemons: &[SyncDaemon]) -> String {
    to_text(&DaemonsDoc {
        schema: SCHEMA_VERSION,
        daemons: daemons
            .iter()
            .map(|d| DaemonJson {
                state: d.state,
                mcast_interface: &d.mcast_ifn,
                syncid: d.sync_id,
                maxlen: d.maxlen,
                group: d.group.as_ref().map(ip_text),
                port: d.port,
                ttl: d.ttl,
            })
            .collect(),
    })
}

#[derive(Serialize)]
struct ConnectionsDoc<'a> {
    schema: u32,
    connections: &'a [Connection],
}

pub fn render_connections(conns: &[Connection]) -> String {
    to_text(&ConnectionsDoc {
        schema: SCHEMA_VERSION,
        connections: conns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs::model::{Protocol, Scheduler, Service, SyncState};

    #[test]
    fn table_schema_fields() {
        let key = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: "10.0.0.1".parse().expect("addr"),
            port: 53,
        };
        let mut s = Service::new(key, Scheduler::Sh);
        s.persistence = Some(300);
        s.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        s.flags = ServiceFlags(ServiceFlags::SCHED1 | ServiceFlags::ONEPACKET);
        let mut d = Destination::new("10.0.1.1".parse().expect("addr"), 53, Forward::Tunnel, 2);
        d.tunnel_type = TunnelType::Gue;
        d.tunnel_port = 6080;
        d.tunnel_flags = TUN_FLAG_CSUM;
        let info = Info {
            version: 0x010201,
            conn_table_size: 4096,
        };
        let doc: serde_json::Value =
            serde_json::from_str(&render_table(&info, &[(s, vec![d])])).expect("valid JSON");
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["ipvs_version"], "1.2.1");
        assert_eq!(doc["connection_table_size"], 4096);
        let svc = &doc["services"][0];
        assert_eq!(svc["family"], "inet");
        assert_eq!(svc["protocol"], "udp");
        assert_eq!(svc["address"], "10.0.0.1");
        assert_eq!(svc["port"], 53);
        assert!(svc["fwmark"].is_null());
        assert_eq!(svc["scheduler"], "sh");
        assert_eq!(svc["scheduler_flags"], serde_json::json!(["sh-fallback"]));
        assert_eq!(svc["persistent"]["timeout"], 300);
        assert_eq!(svc["persistent"]["netmask"], "255.255.255.0");
        assert_eq!(svc["one_packet"], true);
        let dest = &svc["destinations"][0];
        assert_eq!(dest["forward"], "tunnel");
        assert_eq!(dest["weight"], 2);
        assert_eq!(dest["tunnel"]["type"], "gue");
        assert_eq!(dest["tunnel"]["port"], 6080);
        assert_eq!(dest["tunnel"]["checksum"], "csum");
        assert_eq!(dest["stats"]["conns"], 0);
        assert_eq!(dest["rates"]["cps"], 0);
    }

    #[test]
    fn timeouts_and_daemons_documents() {
        let t: serde_json::Value = serde_json::from_str(&render_timeouts(&Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }))
        .expect("JSON");
        assert_eq!(
            t,
            serde_json::json!({"schema": 1, "timeouts": {"tcp": 900, "tcp_fin": 120, "udp": 300}})
        );
        let mut d = SyncDaemon::new(SyncState::Backup, "eth0", 3);
        d.group = Some("239.1.2.3".parse().expect("addr"));
        let v: serde_json::Value = serde_json::from_str(&render_daemons(&[d])).expect("JSON");
        assert_eq!(v["daemons"][0]["state"], "backup");
        assert_eq!(v["daemons"][0]["mcast_interface"], "eth0");
        assert_eq!(v["daemons"][0]["group"], "239.1.2.3");
    }
}
