//! Cross-checks over the whole model: references, duplicates, conflicts. Some repair the
//! model the way keepalived does (and say so in a warning).
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::diag::{Diagnostic, Problem};
use super::model::{
    AuthType, Config, InitialState, IpFamily, LbKind, VirtualServerKey, VrrpInstance,
};
use super::source::Span;
use super::ConfigOptions;

pub fn check(config: &mut Config, opts: &ConfigOptions, diags: &mut Vec<Diagnostic>) {
    duplicate_names(config, diags);
    vrrp_references(config, diags);
    vrrp_instances(config, diags);
    duplicate_vrids(config, diags);
    virtual_servers(config, diags);
    if opts.check_interfaces {
        interfaces(config, diags);
    }
}

fn duplicates<'a>(
    what: &str,
    items: impl Iterator<Item = (&'a str, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen = HashSet::new();
    for (name, span) in items {
        if !seen.insert(name) {
            diags.push(Diagnostic::error(
                span,
                Problem::Duplicate {
                    what: what.into(),
                    name: name.into(),
                },
            ));
        }
    }
}

fn duplicate_names(c: &Config, diags: &mut Vec<Diagnostic>) {
    duplicates(
        "vrrp_script",
        c.vrrp_scripts.iter().map(|s| (s.name.as_str(), s.span)),
        diags,
    );
    duplicates(
        "vrrp_instance",
        c.vrrp_instances.iter().map(|s| (s.name.as_str(), s.span)),
        diags,
    );
    duplicates(
        "vrrp_sync_group",
        c.vrrp_sync_groups.iter().map(|s| (s.name.as_str(), s.span)),
        diags,
    );
    duplicates(
        "virtual_server_group",
        c.virtual_server_groups
            .iter()
            .map(|s| (s.name.as_str(), s.span)),
        diags,
    );
}

fn vrrp_references(c: &Config, diags: &mut Vec<Diagnostic>) {
    let scripts: HashSet<&str> = c.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    let tracked = c
        .vrrp_instances
        .iter()
        .flat_map(|i| &i.track_scripts)
        .chain(c.vrrp_sync_groups.iter().flat_map(|g| &g.track_scripts));
    for t in tracked {
        if !scripts.contains(t.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    t.span,
                    Problem::UnknownReference {
                        what: "vrrp_script".into(),
                        name: t.name.clone(),
                    },
                )
                .expected("the name of a vrrp_script block"),
            );
        }
    }
    let instances: HashSet<&str> = c.vrrp_instances.iter().map(|i| i.name.as_str()).collect();
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for g in &c.vrrp_sync_groups {
        for m in &g.group {
            if !instances.contains(m.as_str()) {
                diags.push(Diagnostic::error(
                    g.span,
                    Problem::UnknownReference {
                        what: format!("vrrp_instance (member of sync group {})", g.name),
                        name: m.clone(),
                    },
                ));
            }
            if let Some(first) = member_of.insert(m.as_str(), g.name.as_str()) {
                if first != g.name {
                    diags.push(Diagnostic::error(
                        g.span,
                        Problem::InstanceInTwoSyncGroups {
                            instance: m.clone(),
                            first: first.into(),
                            second: g.name.clone(),
                        },
                    ));
                }
            }
        }
    }
    if let Some(d) = &c.global.lvs_sync_daemon {
        if let Some(inst) = &d.instance {
            if !instances.contains(inst.as_str()) {
                diags.push(Diagnostic::error(
                    d.span,
                    Problem::UnknownReference {
                        what: "vrrp_instance (lvs_sync_daemon)".into(),
                        name: inst.clone(),
                    },
                ));
            }
        }
    }
}

fn vrrp_instances(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    for i in &mut c.vrrp_instances {
        if i.state == InitialState::Master && !i.preempt {
            // keepalived clears nopreempt in this case; so do we.
            diags.push(Diagnostic::warning(
                i.span,
                Problem::NopreemptWithMaster {
                    instance: i.name.clone(),
                },
            ));
            i.preempt = true;
        }
        if i.state == InitialState::Master
            && i.authentication
                .as_ref()
                .is_some_and(|a| a.auth_type == AuthType::Ah)
        {
            diags.push(Diagnostic::warning(
                i.span,
                Problem::InstanceConflict {
                    instance: i.name.clone(),
                    reason: "initial state MASTER is incompatible with AH authentication; \
                             starting as BACKUP (as keepalived does)"
                        .into(),
                },
            ));
            i.state = InitialState::Backup;
        }
        if i.interface.is_none() && i.unicast_peers.is_empty() {
            diags.push(Diagnostic::error(
                i.span,
                Problem::MissingRequired {
                    object: format!("vrrp_instance {}", i.name),
                    what: "interface (required unless unicast_peer is used)".into(),
                },
            ));
        }
        let mut families = i
            .virtual_ipaddresses
            .iter()
            .map(|v| IpFamily::of(&v.address));
        if let Some(first) = families.next() {
            if families.any(|f| f != first) {
                diags.push(Diagnostic::error(
                    i.span,
                    Problem::MixedVipFamilies {
                        instance: i.name.clone(),
                    },
                ));
            }
        }
    }
}

/// Two instances clash if they share VRID, interface and family, and would hear each
/// other's adverts: same multicast group, or overlapping unicast peers.
fn clash(a: &VrrpInstance, b: &VrrpInstance) -> bool {
    if a.virtual_router_id != b.virtual_router_id
        || a.interface != b.interface
        || a.family() != b.family()
    {
        return false;
    }
    match (a.is_unicast(), b.is_unicast()) {
        (false, false) => a.mcast_dst_ip == b.mcast_dst_ip,
        (true, true) => {
            let pa: HashSet<IpAddr> = a.unicast_peers.iter().map(|p| p.address).collect();
            b.unicast_peers.iter().any(|p| pa.contains(&p.address))
        }
        _ => false,
    }
}

fn duplicate_vrids(c: &Config, diags: &mut Vec<Diagnostic>) {
    for (k, b) in c.vrrp_instances.iter().enumerate() {
        if let Some(a) = c.vrrp_instances[..k].iter().find(|a| clash(a, b)) {
            diags.push(Diagnostic::error(
                b.span,
                Problem::DuplicateVrid {
                    vrid: b.virtual_router_id.get(),
                    interface: b.interface.clone().unwrap_or_else(|| "(none)".into()),
                    first: a.name.clone(),
                    second: b.name.clone(),
                },
            ));
        }
    }
}

fn virtual_servers(c: &Config, diags: &mut Vec<Diagnostic>) {
    let groups: HashSet<&str> = c
        .virtual_server_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    let mut seen = HashSet::new();
    for vs in &c.virtual_servers {
        let label = vs.key.to_string();
        if !seen.insert((vs.key.clone(), vs.protocol)) {
            diags.push(Diagnostic::error(
                vs.span,
                Problem::Duplicate {
                    what: format!("{:?} virtual_server", vs.protocol),
                    name: label.clone(),
                },
            ));
        }
        match &vs.key {
            VirtualServerKey::Group(g) if !groups.contains(g.as_str()) => {
                diags.push(Diagnostic::error(
                    vs.span,
                    Problem::UnknownReference {
                        what: "virtual_server_group".into(),
                        name: g.clone(),
                    },
                ));
            }
            VirtualServerKey::Address { port: None, .. } if vs.persistence_timeout.is_none() => {
                diags.push(Diagnostic::error(
                    vs.span,
                    Problem::VirtualServerConflict {
                        virtual_server: label.clone(),
                        reason: "the port may only be omitted for a persistent service \
                                 (set persistence_timeout)"
                            .into(),
                    },
                ));
            }
            _ => {}
        }
        let vs_family = match &vs.key {
            VirtualServerKey::Address { ip, .. } => Some(IpFamily::of(ip)),
            _ => None,
        };
        let mut rs_seen = HashSet::new();
        for rs in &vs.real_servers {
            if !rs_seen.insert((rs.address, rs.port)) {
                let server = match (rs.address, rs.port) {
                    (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
                    (a, Some(p)) => format!("{a}:{p}"),
                    (a, None) => a.to_string(),
                };
                diags.push(Diagnostic::error(
                    rs.span,
                    Problem::DuplicateRealServer {
                        server,
                        virtual_server: label.clone(),
                    },
                ));
            }
            if let Some(f) = vs_family {
                if rs.method.kind != LbKind::Tun && IpFamily::of(&rs.address) != f {
                    diags.push(Diagnostic::error(
                        rs.span,
                        Problem::VirtualServerConflict {
                            virtual_server: label.clone(),
                            reason: format!(
                                "real server {} is of another address family (only TUN real servers may be)",
                                rs.address
                            ),
                        },
                    ));
                }
            }
        }
    }
}

fn interfaces(c: &Config, diags: &mut Vec<Diagnostic>) {
    let sys = std::path::Path::new("/sys/class/net");
    if !sys.is_dir() {
        return;
    }
    let mut warned = HashSet::new();
    let mut warn = |name: &str, span: Span, diags: &mut Vec<Diagnostic>| {
        if !sys.join(name).exists() && warned.insert(name.to_string()) {
            diags.push(Diagnostic::warning(
                span,
                Problem::NoSuchInterface {
                    interface: name.to_string(),
                },
            ));
        }
    };
    for i in &c.vrrp_instances {
        if let Some(ifname) = &i.interface {
            warn(ifname, i.interface_span, diags);
        }
        for t in &i.track_interfaces {
            warn(&t.name, t.span, diags);
        }
        for v in i
            .virtual_ipaddresses
            .iter()
            .chain(&i.virtual_ipaddresses_excluded)
        {
            if let Some(dev) = &v.dev {
                warn(dev, v.span, diags);
            }
        }
    }
}
