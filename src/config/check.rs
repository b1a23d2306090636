//! Cross-checks over the whole model: references, duplicates, conflicts. Some repair the
//! model the way keepalived does (and say so in a warning).
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::diag::{Diagnostic, Problem};
use super::model::{
    AuthType, Config, InitialState, IpFamily, LbAlgo, LbKind, Protocol, VirtualServerKey,
    VrrpInstance, VrrpVersion, VsgMember,
};
use super::source::Span;
use super::ConfigOptions;

pub fn check(config: &mut Config, opts: &ConfigOptions, diags: &mut Vec<Diagnostic>) {
    duplicate_names(config, diags);
    vrrp_references(config, diags);
    track_groups(config, diags);
    vrrp_instances(config, diags);
    duplicate_vrids(config, diags);
    virtual_server_groups(config, diags);
    virtual_servers(config, diags);
    route_announce(config, diags);
    file_checks(config, diags);
    if opts.check_interfaces {
        interfaces(config, diags);
    }
}

/// `track_group` as keepalived 2.2.7 reads it: on static entries only (on a
/// VIP, virtual route or virtual rule it is an unknown word, ignored), and a
/// group that is not defined is ignored; a VIP's `use_vmac` likewise on
/// virtual addresses only.
fn track_groups(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    let ignored = |span: Span, value: &str, what: &str, diags: &mut Vec<Diagnostic>| {
        diags.push(Diagnostic::warning(
            span,
            Problem::KeepalivedFallback {
                keyword: "track_group".into(),
                value: value.into(),
                what: what.into(),
                keepalived: "ignores it".into(),
                hint: None,
            },
        ));
    };
    let defined: HashSet<String> = c.track_groups.iter().map(|g| g.name.clone()).collect();
    for i in &mut c.vrrp_instances {
        let vips = i
            .virtual_ipaddresses
            .iter_mut()
            .chain(i.virtual_ipaddresses_excluded.iter_mut());
        for v in vips {
            if let Some(g) = v.track_group.take() {
                ignored(v.span, &g, "is for static_ipaddress, not a VIP", diags);
            }
        }
        for r in &mut i.virtual_routes {
            if let Some(g) = r.track_group.take() {
                ignored(
                    r.span,
                    &g,
                    "is for static_routes, not virtual_routes",
                    diags,
                );
            }
        }
        for r in &mut i.virtual_rules {
            if let Some(g) = r.track_group.take() {
                ignored(r.span, &g, "is for static_rules, not virtual_rules", diags);
            }
        }
    }
    let undefined = |span: Span, g: &mut Option<String>, diags: &mut Vec<Diagnostic>| {
        if g.as_ref().is_some_and(|name| !defined.contains(name)) {
            diags.push(Diagnostic::warning(
                span,
                Problem::UnknownReferenceIgnored {
                    what: "track_group".into(),
                    name: g.take().unwrap_or_default(),
                },
            ));
        }
    };
    for a in &mut c.static_ipaddresses {
        undefined(a.span, &mut a.track_group, diags);
        if a.use_vmac {
            a.use_vmac = false;
            diags.push(Diagnostic::warning(
                a.span,
                Problem::KeepalivedFallback {
                    keyword: "use_vmac".into(),
                    value: a.address.to_string(),
                    what: "is for VIPs, not static_ipaddress".into(),
                    keepalived: "ignores it".into(),
                    hint: None,
                },
            ));
        }
    }
    for r in &mut c.static_routes {
        undefined(r.span, &mut r.track_group, diags);
    }
    for r in &mut c.static_rules {
        undefined(r.span, &mut r.track_group, diags);
    }
    for g in &c.track_groups {
        for name in &g.instances {
            if !c.vrrp_instances.iter().any(|i| i.name == *name) {
                diags.push(Diagnostic::warning(
                    g.span,
                    Problem::UnknownReferenceIgnored {
                        what: format!("vrrp_instance (member of track_group {})", g.name),
                        name: name.clone(),
                    },
                ));
            }
        }
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
        "track_file",
        c.track_files.iter().map(|s| (s.name.as_str(), s.span)),
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

fn vrrp_references(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    for g in &mut c.vrrp_sync_groups {
        let owner = format!("vrrp_sync_group {}", g.name);
        dedupe(
            &mut g.track_scripts,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_script",
            diags,
        );
        dedupe(
            &mut g.track_interfaces,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_interface",
            diags,
        );
        dedupe(
            &mut g.track_files,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_file",
            diags,
        );
    }
    // keepalived ignores references to scripts and files that do not exist (with a warning).
    let processes: HashSet<String> = c
        .vrrp_track_processes
        .iter()
        .map(|p| p.name.clone())
        .collect();
    for tracks in c
        .vrrp_instances
        .iter_mut()
        .map(|i| &mut i.track_processes)
        .chain(
            c.vrrp_sync_groups
                .iter_mut()
                .map(|g| &mut g.track_processes),
        )
    {
        keep_known(
            tracks,
            |t| (&t.name, t.span),
            &processes,
            "vrrp_track_process",
            diags,
        );
    }
    let scripts: HashSet<String> = c.vrrp_scripts.iter().map(|s| s.name.clone()).collect();
    let files: HashSet<String> = c.track_files.iter().map(|s| s.name.clone()).collect();
    for i in &mut c.vrrp_instances {
        keep_known(
            &mut i.track_scripts,
            |t| (&t.name, t.span),
            &scripts,
            "vrrp_script",
            diags,
        );
        keep_known(
            &mut i.track_files,
            |t| (&t.name, t.span),
            &files,
            "track_file",
            diags,
        );
    }
    for g in &mut c.vrrp_sync_groups {
        keep_known(
            &mut g.track_scripts,
            |t| (&t.name, t.span),
            &scripts,
            "vrrp_script",
            diags,
        );
        keep_known(
            &mut g.track_files,
            |t| (&t.name, t.span),
            &files,
            "track_file",
            diags,
        );
    }
    // Sync group members: unknown ones and ones already in an earlier group are left
    // out, a group left empty is dropped, as keepalived does.
    let instances: HashSet<String> = c.vrrp_instances.iter().map(|i| i.name.clone()).collect();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for g in &mut c.vrrp_sync_groups {
        let members = std::mem::take(&mut g.group);
        let spans = std::mem::take(&mut g.group_spans);
        for (k, m) in members.into_iter().enumerate() {
            let span = spans.get(k).copied().unwrap_or(g.span);
            if !instances.contains(&m) {
                diags.push(Diagnostic::warning(
                    span,
                    Problem::UnknownReferenceIgnored {
                        what: format!("vrrp_instance (member of sync group {})", g.name),
                        name: m,
                    },
                ));
                continue;
            }
            match member_of.get(&m) {
                Some(first) if *first != g.name => {
                    diags.push(Diagnostic::warning(
                        span,
                        Problem::InstanceInTwoSyncGroups {
                            instance: m,
                            first: first.clone(),
                            second: g.name.clone(),
                        },
                    ));
                    continue;
                }
                Some(_) => continue, // listed twice in the same group
                None => {
                    member_of.insert(m.clone(), g.name.clone());
                }
            }
            g.group.push(m);
            g.group_spans.push(span);
        }
    }
    c.vrrp_sync_groups.retain(|g| {
        if g.group.len() == 1 {
            diags.push(Diagnostic::warning(
                g.span,
                Problem::SmallSyncGroup {
                    group: g.name.clone(),
                    members: 1,
                },
            ));
        }
        if g.group.is_empty() {
            diags.push(Diagnostic::warning(
                g.span,
                Problem::MissingRequired {
                    object: format!("vrrp_sync_group {}", g.name),
                    what: "member left; it is ignored (as keepalived does)".into(),
                },
            ));
            return false;
        }
        true
    });
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
        // keepalived 2.2.7 checks for an interface before it looks at unicast peers or
        // default_interface: "(VI_1) Unknown interface!", and the VRRP process stops.
        if i.interface.is_none() {
            diags.push(Diagnostic::error(
                i.span,
                Problem::MissingRequired {
                    object: format!("vrrp_instance {}", i.name),
                    what: "interface (keepalived 2.2.7 does not start it either, even with \
                           unicast peers or default_interface: \"Unknown interface!\")"
                        .into(),
                },
            ));
        }
        // Left after strict mode and VRRPv3 dropped authentication, as keepalived does.
        if i.authentication
            .as_ref()
            .is_some_and(|a| a.auth_type == AuthType::Ah)
        {
            diags.push(Diagnostic::error(
                i.span,
                Problem::AuthAhNotImplemented {
                    instance: i.name.clone(),
                },
            ));
        }
        // keepalived's order: the AH rule first, then the preemption rules see the result.
        if i.state == InitialState::Master
            && !i.priority.is_owner()
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
        if i.priority.is_owner() && !i.preempt {
            diags.push(Diagnostic::warning(
                i.span,
                Problem::InstanceConflict {
                    instance: i.name.clone(),
                    reason: "nopreempt is incompatible with priority 255 (address owner); \
                             nopreempt is cleared (as keepalived does)"
                        .into(),
                },
            ));
            i.preempt = true;
        }
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
        if i.state == InitialState::Master && !i.preempt_delay.is_zero() {
            diags.push(Diagnostic::warning(
                i.span,
                Problem::InstanceConflict {
                    instance: i.name.clone(),
                    reason: "preempt_delay does not work with state MASTER; cleared (as keepalived does)".into(),
                },
            ));
            i.preempt_delay = std::time::Duration::ZERO;
        }
        if !i.preempt_delay.is_zero() && (i.strict_mode || !i.preempt) {
            let why = if i.strict_mode {
                "strict mode"
            } else {
                "nopreempt"
            };
            diags.push(Diagnostic::warning(
                i.span,
                Problem::InstanceConflict {
                    instance: i.name.clone(),
                    reason: format!(
                        "preempt_delay is incompatible with {why}; cleared (as keepalived does)"
                    ),
                },
            ));
            i.preempt_delay = std::time::Duration::ZERO;
        }
        if i.use_vmac.is_some() && i.promote_secondaries {
            diags.push(Diagnostic::warning(
                i.span,
                Problem::InstanceConflict {
                    instance: i.name.clone(),
                    reason: "promote_secondaries is set on the VMAC interface automatically; \
                             the keyword is ignored (as keepalived does)"
                        .into(),
                },
            ));
            i.promote_secondaries = false;
        }
        let owner = format!("vrrp_instance {}", i.name);
        dedupe(
            &mut i.track_scripts,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_script",
            diags,
        );
        dedupe(
            &mut i.track_interfaces,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_interface",
            diags,
        );
        dedupe(
            &mut i.track_files,
            |t| (t.name.clone(), t.span),
            &owner,
            "track_file",
            diags,
        );
        if i.virtual_ipaddresses.is_empty() {
            // keepalived refuses the instance under VRRPv3 or strict mode, else warns.
            let object = format!("vrrp_instance {}", i.name);
            if i.version == VrrpVersion::V3 || i.strict_mode {
                diags.push(Diagnostic::error(
                    i.span,
                    Problem::MissingRequired {
                        object,
                        what: "virtual_ipaddress (required with VRRP version 3 and in strict \
                               mode, as in keepalived)"
                            .into(),
                    },
                ));
            } else {
                diags.push(Diagnostic::warning(
                    i.span,
                    Problem::MissingRequired {
                        object,
                        what: "virtual_ipaddress; at least one is sensible (keepalived warns too)"
                            .into(),
                    },
                ));
            }
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
        // VIPs of the other family than the instance's are dropped, as keepalived does.
        let family = (!i.virtual_ipaddresses.is_empty()).then(|| i.family());
        if let Some(family) = family {
            let name = i.name.clone();
            i.virtual_ipaddresses.retain(|v| {
                if IpFamily::of(&v.address) == family {
                    return true;
                }
                diags.push(Diagnostic::warning(
                    v.span,
                    Problem::MixedVipFamilies {
                        instance: name.clone(),
                        address: v.address,
                    },
                ));
                false
            });
        }
    }
}

/// FILE_CHECK: references to unknown track_file blocks are dropped, as keepalived
/// ignores them (with a config error).
fn file_checks(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    let files: HashSet<String> = c.track_files.iter().map(|s| s.name.clone()).collect();
    for rs in c
        .virtual_servers
        .iter_mut()
        .flat_map(|vs| vs.real_servers.iter_mut())
    {
        keep_known(
            &mut rs.file_checks,
            |f| (&f.track_file, f.span),
            &files,
            "track_file",
            diags,
        );
    }
}

/// Drops references to `what` blocks not in `known`, warning about each.
fn keep_known<T>(
    list: &mut Vec<T>,
    name: impl Fn(&T) -> (&String, Span),
    known: &HashSet<String>,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    list.retain(|t| {
        let (name, span) = name(t);
        if known.contains(name) {
            return true;
        }
        diags.push(
            Diagnostic::warning(
                span,
                Problem::UnknownReferenceIgnored {
                    what: what.into(),
                    name: name.clone(),
                },
            )
            .expected(format!("the name of a {what} block")),
        );
        false
    })
}

/// Keeps the first of entries with the same name, warning about the others.
fn dedupe<T>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> (String, Span),
    owner: &str,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen = HashSet::new();
    items.retain(|item| {
        let (name, span) = key(item);
        if seen.insert(name.clone()) {
            return true;
        }
        diags.push(Diagnostic::warning(
            span,
            Problem::DuplicateEntry {
                owner: owner.to_string(),
                what: what.to_string(),
                name,
            },
        ));
        false
    });
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

/// What a virtual_server_group holds, as far as keepalived's repairs care.
#[derive(Debug, Clone, Copy)]
struct GroupShape {
    /// Has address ranges (not only fwmarks).
    addresses: bool,
    /// Has an address range without a port.
    portless: bool,
    /// Has fwmarks.
    fwmarks: bool,
}

impl GroupShape {
    fn of(members: &[VsgMember]) -> GroupShape {
        GroupShape {
            addresses: members.iter().any(|m| matches!(m, VsgMember::Range { .. })),
            portless: members
                .iter()
                .any(|m| matches!(m, VsgMember::Range { port: None, .. })),
            fwmarks: members
                .iter()
                .any(|m| matches!(m, VsgMember::Fwmark { .. })),
        }
    }
}

fn rs_label(address: IpAddr, port: Option<u16>) -> String {
    match (address, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

fn vs_warning(diags: &mut Vec<Diagnostic>, span: Span, label: &str, reason: String) {
    diags.push(Diagnostic::warning(
        span,
        Problem::VirtualServerConflict {
            virtual_server: label.to_string(),
            reason,
        },
    ));
}

/// `route_announce` (lvsd's own): the combinations that break flows when
/// N directors share VIPs behind ECMP, as warnings (the config still runs).
fn route_announce(c: &Config, diags: &mut Vec<Diagnostic>) {
    let Some(r) = &c.route_announce else {
        return;
    };
    let sync = c.global.lvs_sync_daemon.is_some();
    let any_marked = c.virtual_servers.iter().any(|v| v.announce);
    let vrrp_vips: Vec<IpAddr> = c
        .vrrp_instances
        .iter()
        .flat_map(|i| {
            i.virtual_ipaddresses
                .iter()
                .chain(&i.virtual_ipaddresses_excluded)
        })
        .map(|v| v.address)
        .collect();
    for vs in &c.virtual_servers {
        if any_marked && !vs.announce {
            continue;
        }
        let label = vs.key.to_string();
        let VirtualServerKey::Address { ip, .. } = vs.key else {
            if vs.announce {
                vs_warning(
                    diags,
                    vs.span,
                    &label,
                    "announce: an fwmark or group virtual server has no single address to announce; it gates nothing".into(),
                );
            }
            continue;
        };
        let mh = vs.lb_algo == LbAlgo::Mh;
        if mh && !r.sloppy_tcp && !sync {
            vs_warning(diags, vs.span, &label, "announce with mh but neither sloppy_tcp (route_announce) nor lvs_sync_daemon: a flow another director hands over is reset".into());
        }
        if !mh && !sync {
            vs_warning(diags, vs.span, &label, format!("announce with scheduler {} and no lvs_sync_daemon: directors pick different real servers, so a flow moved to another director is reset (use mh)", vs.lb_algo.name()));
        }
        if mh && vs.real_servers.iter().any(|rs| !rs.inhibit_on_failure) {
            vs_warning(diags, vs.span, &label, "announce with mh without inhibit_on_failure: a failed real server is deleted, which reshuffles this director's Maglev table and not the others'".into());
        }
        if vrrp_vips.contains(&ip) {
            vs_warning(
                diags,
                vs.span,
                &label,
                format!("{ip} is announced by route_announce and also a VRRP address: choose one"),
            );
        }
    }
}

/// keepalived's virtual server rules (check_data.c validate_check_config): the same
/// repairs, each with a warning; references lvsd cannot resolve are errors.
fn virtual_servers(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    let groups: HashMap<String, GroupShape> = c
        .virtual_server_groups
        .iter()
        .map(|g| (g.name.clone(), GroupShape::of(&g.members)))
        .collect();
    let mut kept = Vec::with_capacity(c.virtual_servers.len());
    for mut vs in std::mem::take(&mut c.virtual_servers) {
        let label = vs.key.to_string();
        let group = match &vs.key {
            VirtualServerKey::Group(g) => match groups.get(g) {
                Some(shape) => Some(*shape),
                None => {
                    diags.push(Diagnostic::error(
                        vs.span,
                        Problem::UnknownReference {
                            what: "virtual_server_group".into(),
                            name: g.clone(),
                        },
                    ));
                    kept.push(vs);
                    continue;
                }
            },
            _ => None,
        };
        if vs.real_servers.is_empty() {
            vs_warning(
                diags,
                vs.span,
                &label,
                "has no real servers; it is ignored (as keepalived does)".into(),
            );
            continue;
        }
        let fwmark = matches!(vs.key, VirtualServerKey::Fwmark(_));
        let fwmark_only = fwmark || group.is_some_and(|g| !g.addresses);
        let uses_fwmark = fwmark || group.is_some_and(|g| g.fwmarks);
        if vs.ha_suspend && uses_fwmark {
            vs_warning(
                diags,
                vs.span,
                &label,
                "ha_suspend cannot be used with fwmarks; cleared (as keepalived does)".into(),
            );
            vs.ha_suspend = false;
        }
        if fwmark_only {
            if vs.protocol_explicit {
                vs_warning(
                    diags,
                    vs.span,
                    &label,
                    "protocol is ignored for a fwmark service (as keepalived does)".into(),
                );
            }
        } else {
            if !vs.protocol_explicit {
                vs_warning(
                    diags,
                    vs.span,
                    &label,
                    "no protocol set; using UDP (as keepalived does)".into(),
                );
                vs.protocol = Protocol::Udp;
            }
            if vs.scheduler_flags.ops && vs.protocol != Protocol::Udp {
                vs_warning(
                    diags,
                    vs.span,
                    &label,
                    "one-packet scheduling (ops) requires UDP; cleared (as keepalived does)".into(),
                );
                vs.scheduler_flags.ops = false;
            }
        }
        let portless = match (&vs.key, group) {
            (VirtualServerKey::Address { port: None, .. }, _) => true,
            (_, Some(g)) => g.portless,
            _ => false,
        };
        if portless && vs.persistence_timeout.is_none() {
            vs_warning(diags, vs.span, &label, "a service without a port must be persistent; persistence_timeout set to 360 (as keepalived does)".into());
            vs.persistence_timeout = Some(360);
        }
        let vs_family = match &vs.key {
            VirtualServerKey::Address { ip, .. } => Some(IpFamily::of(ip)),
            _ => None,
        };
        let vs_port = vs.port();
        let mut seen = HashSet::new();
        let mut servers = Vec::with_capacity(vs.real_servers.len());
        for mut rs in std::mem::take(&mut vs.real_servers) {
            if !seen.insert((rs.address, rs.port)) {
                diags.push(Diagnostic::warning(
                    rs.span,
                    Problem::DuplicateRealServer {
                        server: rs_label(rs.address, rs.port),
                        virtual_server: label.clone(),
                    },
                ));
                continue;
            }
            if let Some(f) = vs_family {
                if rs.method.kind != LbKind::Tun && IpFamily::of(&rs.address) != f {
                    diags.push(Diagnostic::warning(
                        rs.span,
                        Problem::VirtualServerConflict {
                            virtual_server: label.clone(),
                            reason: format!(
                                "real server {} is of another address family (only TUN real \
                                 servers may be); it is ignored (as keepalived does)",
                                rs.address
                            ),
                        },
                    ));
                    continue;
                }
            }
            if rs.method.kind != LbKind::Nat && group.is_none() {
                if fwmark && rs.port.is_some() {
                    vs_warning(diags, rs.span, &label, format!("real server {} has a port, which a fwmark service ignores; cleared (as keepalived does)", rs_label(rs.address, rs.port)));
                    rs.port = None;
                } else if !fwmark && rs.port != vs_port {
                    vs_warning(diags, rs.span, &label, format!("real server {} port does not match the virtual server's; reset to {} (as keepalived does, only NAT may map ports)", rs_label(rs.address, rs.port), vs_port.map(|p| p.to_string()).unwrap_or_else(|| "none".into())));
                    rs.port = vs_port;
                }
            }
            servers.push(rs);
        }
        vs.real_servers = servers;
        let total: u64 = vs
            .real_servers
            .iter()
            .map(|r| u64::from(r.weight.get()))
            .sum();
        if u64::from(vs.quorum) > total {
            vs_warning(diags, vs.span, &label, format!("quorum {} exceeds the total weight {total} of the real servers; reduced to {total} (as keepalived does)", vs.quorum));
            vs.quorum = u32::try_from(total).unwrap_or(u32::MAX);
        }
        if vs.hysteresis >= vs.quorum && (vs.hysteresis > 0 || vs.quorum > 0) {
            let h = vs.quorum.saturating_sub(1);
            vs_warning(
                diags,
                vs.span,
                &label,
                format!(
                    "hysteresis {} >= quorum {}; set to {h} (as keepalived does)",
                    vs.hysteresis, vs.quorum
                ),
            );
            vs.hysteresis = h;
        }
        kept.push(vs);
    }
    // Duplicates after repairs (protocol defaults can make two services equal). A
    // fwmark service has no protocol of its own.
    let mut seen = HashSet::new();
    for vs in &kept {
        let protocol = match vs.key {
            VirtualServerKey::Fwmark(_) => None,
            _ => Some(vs.protocol),
        };
        if !seen.insert((vs.key.clone(), protocol)) {
            let key = vs.key.to_string();
            let key = key.strip_prefix("virtual_server ").unwrap_or(&key);
            diags.push(Diagnostic::error(
                vs.span,
                Problem::Duplicate {
                    what: "virtual_server".into(),
                    name: match protocol {
                        Some(p) => format!("{key} {}", p.name()),
                        None => key.to_string(),
                    },
                },
            ));
        }
    }
    c.virtual_servers = kept;
}

/// A group may mix IPv4 and IPv6 addresses only if its fwmarks say their family.
fn virtual_server_groups(c: &Config, diags: &mut Vec<Diagnostic>) {
    for g in &c.virtual_server_groups {
        let mut v4 = false;
        let mut v6 = false;
        let mut bare_fwmark = false;
        for m in &g.members {
            match m {
                VsgMember::Range { first, .. } => {
                    if first.is_ipv4() {
                        v4 = true
                    } else {
                        v6 = true
                    }
                }
                VsgMember::Fwmark { family: None, .. } => bare_fwmark = true,
                VsgMember::Fwmark { .. } => {}
            }
        }
        if v4 && v6 && bare_fwmark {
            diags.push(Diagnostic::error(
                g.span,
                Problem::VirtualServerConflict {
                    virtual_server: format!("virtual_server_group {}", g.name),
                    reason: "IPv4 and IPv6 addresses with a fwmark need the fwmark's family (fwmark N inet|inet6)".into(),
                },
            ));
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
