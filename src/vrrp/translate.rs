//! keepalived.conf model → the VRRP core's plain configuration, in one place,
//! so the state machine never depends on the parser's types.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use crate::config::{self, model};

use super::config::{
    GarpConfig, InitialState, InstanceConfig, NotifyCommand, NotifyConfig, OldUnicastChecksum,
    RouteConfig, RouteKind, RunAs, ScriptConfig, TrackConfig, TrackFileConfig, TrackId,
    UnicastPeer, VipConfig, VipOptions,
};
use super::packet::{auth_data_from_pass, Family, Version, VRRP_TTL};
use super::runner::VrrpConfig;
use super::sync_group::SyncGroupConfig;

#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    #[error("{0}")]
    Config(#[from] config::Diagnostics),
    #[error("vrrp_instance {instance}: no interface given (lvsd needs `interface` even with unicast peers)")]
    NoInterface { instance: String },
    #[error("vrrp_instance {instance}: auth_type AH is not supported (only PASS)")]
    AuthAh { instance: String },
    #[error("vrrp_instance {instance}: virtual_routes: {what}")]
    Route { instance: String, what: String },
    #[error("vrrp_instance {instance}: track_script {script} names no vrrp_script")]
    UnknownScript { instance: String, script: String },
    #[error("vrrp_instance {instance}: track_file {file} names no track_file block")]
    UnknownFile { instance: String, file: String },
}

/// Load `path` with keepalived's rules and translate it; warnings are logged (with
/// `strict`, they refuse the configuration).
pub fn load_file(
    path: &Path,
    config_id: Option<&str>,
    strict: bool,
) -> Result<VrrpConfig, TranslateError> {
    load_file_with(path, config_id, strict, |_| ()).map(|(v, ())| v)
}

/// Like [`load_file`], also handing the model to `also` (for settings
/// outside VRRP that `lvsd run -P` needs, such as notify FIFOs).
pub fn load_file_with<T>(
    path: &Path,
    config_id: Option<&str>,
    strict: bool,
    also: impl FnOnce(&model::Config) -> T,
) -> Result<(VrrpConfig, T), TranslateError> {
    let opts = config::ConfigOptions {
        config_id: config_id.map(str::to_string),
        ..config::ConfigOptions::default()
    };
    let loaded = crate::daemon::prepare::load(path, &opts, strict)?;
    for w in &loaded.warnings {
        tracing::warn!("{}", w.render(&loaded.sources));
    }
    Ok((translate(&loaded.config)?, also(&loaded.config)))
}

fn broadcast(vip: &model::VirtualIpAddress) -> Option<IpAddr> {
    let IpAddr::V4(a) = vip.address else {
        return None;
    };
    let host_mask = u32::MAX.checked_shr(u32::from(vip.prefix_len)).unwrap_or(0);
    match vip.broadcast? {
        model::Broadcast::Address(b) => Some(IpAddr::V4(b)),
        model::Broadcast::SetHostBits => Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) | host_mask))),
        model::Broadcast::ClearHostBits => {
            Some(IpAddr::V4(Ipv4Addr::from(u32::from(a) & !host_mask)))
        }
    }
}

fn vip(v: &model::VirtualIpAddress) -> VipConfig {
    VipConfig {
        addr: v.address,
        prefix_len: v.prefix_len,
        dev: v.dev.clone(),
        label: v.label.clone(),
        scope: v.scope.map(model::Scope::value),
        brd: broadcast(v),
        options: VipOptions {
            peer: v.peer,
            home: v.home,
            dad: v.nodad,
            mngtmpaddr: v.mngtmpaddr,
            noprefixroute: v.noprefixroute,
            autojoin: v.autojoin,
            preferred_lft: v.preferred_lft.flatten(),
        },
    }
}

/// `ip route`'s table names (iproute2's /etc/iproute2/rt_tables defaults) or a number.
fn route_table(name: &str) -> Option<u32> {
    match name {
        "main" => Some(254),
        "local" => Some(255),
        "default" => Some(253),
        n => n.parse().ok(),
    }
}

fn route(
    instance: &str,
    family: Family,
    r: &model::VirtualRoute,
) -> Result<RouteConfig, TranslateError> {
    let err = |what: String| TranslateError::Route {
        instance: instance.to_string(),
        what,
    };
    let kind = match r.route_type.as_deref() {
        None | Some("unicast") => RouteKind::Unicast,
        Some("blackhole") => RouteKind::Blackhole,
        Some("unreachable") => RouteKind::Unreachable,
        Some("prohibit") => RouteKind::Prohibit,
        Some("local") => RouteKind::Local,
        Some("broadcast" | "brd") => RouteKind::Broadcast,
        Some("anycast") => RouteKind::Anycast,
        Some("multicast") => RouteKind::Multicast,
        Some("throw") => RouteKind::Throw,
        Some("nat") => RouteKind::Nat,
        Some("xresolve") => RouteKind::Xresolve,
        Some(other) => return Err(err(format!("route type {other} is not supported"))),
    };
    let (dst, prefix_len) = if r.destination == "default" {
        let any = match r.via.first().map(Family::of).unwrap_or(family) {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        (any, 0)
    } else {
        let (a, len) = match r.destination.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (r.destination.as_str(), None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| err(format!("destination {} is not an address", r.destination)))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| err(format!("bad prefix length in {}", r.destination)))?,
            None => max,
        };
        (addr, len)
    };
    if r.via.len() > 1 {
        tracing::warn!(
            "vrrp_instance {instance}: route to {}: only the first `via` is used",
            r.destination
        );
    }
    if !r.options.is_empty() {
        tracing::warn!(
            "vrrp_instance {instance}: route to {}: options {:?} are ignored",
            r.destination,
            r.options
        );
    }
    let table = match &r.table {
        None => None,
        Some(t) => Some(route_table(t).ok_or_else(|| err(format!("unknown table {t}")))?),
    };
    Ok(RouteConfig {
        kind,
        dst,
        prefix_len,
        via: r.via.first().copied(),
        dev: r.dev.clone(),
        src: r.src,
        table,
        metric: r.metric,
        scope: r.scope.map(model::Scope::value),
    })
}

fn run_as(r: &model::RunAs) -> RunAs {
    RunAs {
        user: r.user.clone(),
        group: r.group.clone(),
    }
}

/// A script's own `USER [GROUP]`, else `script_user`.
fn script_run_as(c: &model::ScriptCommand, script_user: Option<&model::RunAs>) -> Option<RunAs> {
    match &c.user {
        Some(user) => Some(RunAs {
            user: user.clone(),
            group: c.group.clone(),
        }),
        None => script_user.map(run_as),
    }
}

fn notify(n: &model::VrrpNotify, script_user: Option<&model::RunAs>) -> NotifyConfig {
    let cmd = |c: &Option<model::ScriptCommand>| {
        c.as_ref().map(|c| NotifyCommand {
            command: c.command.clone(),
            run_as: script_run_as(c, script_user),
        })
    };
    NotifyConfig {
        master: cmd(&n.master),
        backup: cmd(&n.backup),
        fault: cmd(&n.fault),
        stop: cmd(&n.stop),
        any: cmd(&n.any),
    }
}

fn track_interface(t: &model::TrackedInterface) -> TrackConfig {
    TrackConfig {
        id: TrackId::Interface(t.name.clone()),
        weight: t.weight.map_or(0, |w| i32::from(w.get())),
        reverse: t.reverse,
        initially_up: true,
        initial_value: 0,
    }
}

fn track_script(
    cfg: &model::Config,
    instance: &str,
    t: &model::TrackedScript,
    zero_weight: bool,
) -> Result<TrackConfig, TranslateError> {
    let script = cfg
        .vrrp_script(&t.name)
        .ok_or_else(|| TranslateError::UnknownScript {
            instance: instance.to_string(),
            script: t.name.clone(),
        })?;
    let (weight, reverse) = match t.weight {
        Some(w) => (i32::from(w.get()), t.reverse),
        None => (i32::from(script.weight), script.weight_reverse || t.reverse),
    };
    Ok(TrackConfig {
        id: TrackId::Script(t.name.clone()),
        // keepalived zeroes tracking weights of sync group members so all move together.
        weight: if zero_weight { 0 } else { weight },
        reverse,
        initially_up: !script.init_fail,
        initial_value: 0,
    })
}

fn track_file(
    cfg: &model::Config,
    instance: &str,
    t: &model::TrackedFile,
    zero_weight: bool,
) -> Result<TrackConfig, TranslateError> {
    let file = cfg
        .track_file(&t.name)
        .ok_or_else(|| TranslateError::UnknownFile {
            instance: instance.to_string(),
            file: t.name.clone(),
        })?;
    let weight = t
        .weight
        .map_or(i32::from(file.weight), |w| i32::from(w.get()));
    Ok(TrackConfig {
        id: TrackId::File(t.name.clone()),
        // As for scripts: sync group members track with weight 0 (a non-zero value is FAULT).
        weight: if zero_weight { 0 } else { weight },
        // As keepalived: the entry's reverse / noreverse, else the file's.
        reverse: t.reverse.unwrap_or(file.weight_reverse),
        initially_up: true,
        initial_value: 0,
    })
}

/// The VRRP part of a loaded keepalived.conf.
pub fn translate(cfg: &model::Config) -> Result<VrrpConfig, TranslateError> {
    let mut instances = Vec::new();
    for i in &cfg.vrrp_instances {
        let interface = i
            .interface
            .clone()
            .ok_or_else(|| TranslateError::NoInterface {
                instance: i.name.clone(),
            })?;
        let group = cfg.sync_group_of(&i.name);
        let zero_weights = group.is_some_and(|g| !g.sync_group_tracking_weight);
        let mut tracks: Vec<TrackConfig> = i.track_interfaces.iter().map(track_interface).collect();
        for t in &i.track_scripts {
            tracks.push(track_script(cfg, &i.name, t, zero_weights)?);
        }
        for t in &i.track_files {
            tracks.push(track_file(cfg, &i.name, t, zero_weights)?);
        }
        if let Some(g) = group {
            tracks.extend(g.track_interfaces.iter().map(track_interface));
            for t in &g.track_scripts {
                tracks.push(track_script(cfg, &i.name, t, zero_weights)?);
            }
            for t in &g.track_files {
                // Tracked by the instance itself too: one entry (its own settings).
                if !tracks
                    .iter()
                    .any(|x| matches!(&x.id, TrackId::File(n) if *n == t.name))
                {
                    tracks.push(track_file(cfg, &i.name, t, zero_weights)?);
                }
            }
        }
        let auth_pass = match &i.authentication {
            None => None,
            Some(a) => match a.auth_type {
                model::AuthType::Pass => Some(auth_data_from_pass(a.auth_pass.expose())),
                model::AuthType::Ah => {
                    return Err(TranslateError::AuthAh {
                        instance: i.name.clone(),
                    })
                }
            },
        };
        let family = match i.family() {
            model::IpFamily::Inet => Family::V4,
            model::IpFamily::Inet6 => Family::V6,
        };
        instances.push(InstanceConfig {
            name: i.name.clone(),
            interface,
            vrid: i.virtual_router_id.get(),
            version: match (i.version, family) {
                (_, Family::V6) | (model::VrrpVersion::V3, _) => Version::V3,
                (model::VrrpVersion::V2, Family::V4) => Version::V2,
            },
            family,
            initial_state: match i.state {
                model::InitialState::Master => InitialState::Master,
                model::InitialState::Backup => InitialState::Backup,
            },
            priority: i.priority.get(),
            advert_int_cs: u32::from(i.advert_int.centiseconds()),
            preempt: i.preempt,
            preempt_delay: i.preempt_delay,
            auth_pass,
            vips: i.virtual_ipaddresses.iter().map(vip).collect(),
            excluded_vips: i.virtual_ipaddresses_excluded.iter().map(vip).collect(),
            routes: i
                .virtual_routes
                .iter()
                .map(|r| route(&i.name, family, r))
                .collect::<Result<_, _>>()?,
            src_addr: i.src_ip,
            // keepalived: unicast instances have no group.
            mcast_group: (!i.is_unicast()).then_some(match (i.mcast_dst_ip, family) {
                (Some(g), _) => g,
                (None, Family::V4) => IpAddr::V4(cfg.global.vrrp_mcast_group4),
                (None, Family::V6) => IpAddr::V6(cfg.global.vrrp_mcast_group6),
            }),
            unicast_peers: i
                .unicast_peers
                .iter()
                .map(|p| UnicastPeer {
                    addr: p.address,
                    // keepalived's defaults: any TTL.
                    min_ttl: p.min_ttl.unwrap_or(0),
                    max_ttl: p.max_ttl.unwrap_or(VRRP_TTL),
                })
                .collect(),
            // The model already folds in the global keyword and min/max_ttl.
            check_unicast_src: i.check_unicast_src,
            // The kernel refuses TTL 0 on a socket (keepalived writes its own
            // IP header and can send it, though no router forwards it).
            unicast_ttl: i.unicast_ttl.unwrap_or(VRRP_TTL).max(1),
            garp: GarpConfig {
                master_delay: i.garp.master_delay,
                master_repeat: i.garp.master_repeat,
                master_refresh: i.garp.master_refresh.unwrap_or(Duration::ZERO),
                master_refresh_repeat: i.garp.master_refresh_repeat,
            },
            skip_check_adv_addr: i.skip_check_adv_addr,
            v3_checksum_as_v2: i.v3_checksum_as_v2,
            old_unicast_checksum: match i.old_unicast_checksum {
                None => OldUnicastChecksum::Auto,
                Some(false) => OldUnicastChecksum::Always,
                Some(true) => OldUnicastChecksum::Never,
            },
            dont_track_primary: i.dont_track_primary,
            down_timer_adverts: u32::from(i.down_timer_adverts).max(1),
            lower_prio_no_advert: i.lower_prio_no_advert,
            higher_prio_send_advert: i.higher_prio_send_advert,
            tracks,
            notify: notify(&i.notify, cfg.global.script_user.as_ref()),
        });
    }
    let sync_groups = cfg
        .vrrp_sync_groups
        .iter()
        .map(|g| SyncGroupConfig {
            name: g.name.clone(),
            members: g.group.clone(),
            notify: notify(&g.notify, cfg.global.script_user.as_ref()),
        })
        .collect();
    let scripts = cfg
        .vrrp_scripts
        .iter()
        .map(|s| ScriptConfig {
            name: s.name.clone(),
            command: s.script.command.clone(),
            interval: s.interval,
            timeout: s.timeout.unwrap_or(s.interval),
            fall: s.fall,
            rise: s.rise,
            weight: i32::from(s.weight),
            init_fail: s.init_fail,
            run_as: script_run_as(&s.script, cfg.global.script_user.as_ref()),
        })
        .collect();
    // The files some instance tracks (keepalived forgets the others).
    let track_files = cfg
        .track_files
        .iter()
        .filter(|f| {
            instances.iter().any(|i: &InstanceConfig| {
                i.tracks
                    .iter()
                    .any(|t| matches!(&t.id, TrackId::File(n) if *n == f.name))
            })
        })
        .map(|f| TrackFileConfig {
            name: f.name.clone(),
            path: f.file.clone(),
            init: f.init.map(|i| (i.value, i.overwrite)),
        })
        .collect();
    Ok(VrrpConfig {
        instances,
        sync_groups,
        scripts,
        track_files,
        startup_delay: cfg.global.vrrp_startup_delay.unwrap_or(Duration::ZERO),
        script_security: cfg.global.enable_script_security,
    })
}
