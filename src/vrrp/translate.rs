//! keepalived.conf model → the VRRP core's plain configuration, in one place,
//! so the state machine never depends on the parser's types.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use crate::config::{self, model};

use super::config::{
    GarpConfig, InitialState, InstanceConfig, NotifyCommand, NotifyConfig, OldUnicastChecksum,
    RouteConfig, RouteKind, RuleAction, RuleConfig, RunAs, ScriptConfig, StartStopScripts,
    StaticConfig, TrackConfig, TrackFileConfig, TrackId, UnicastPeer, VipConfig, VipOptions,
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
            no_track: v.no_track,
            use_vmac: v.use_vmac,
            own_vmac: None,
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
        address_prefix(&r.destination).map_err(|e| err(format!("destination {e}")))?
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
        no_track: r.no_track,
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

fn start_stop_command(
    c: &model::ScriptCommand,
    script_user: Option<&model::RunAs>,
) -> NotifyCommand {
    NotifyCommand {
        command: c.command.clone(),
        run_as: script_run_as(c, script_user),
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
        deleted: n.deleted.as_ref().and_then(&cmd),
        master_rx_lower_pri: cmd(&n.master_rx_lower_pri),
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

fn track_process(
    cfg: &model::Config,
    t: &model::TrackedScript,
    zero_weight: bool,
) -> Option<TrackConfig> {
    // Unknown names were dropped (and reported) by the config check.
    let p = cfg.vrrp_track_processes.iter().find(|p| p.name == t.name)?;
    let (weight, reverse) = match t.weight {
        Some(w) => (i32::from(w.get()), t.reverse),
        None => (i32::from(p.weight), p.weight_reverse || t.reverse),
    };
    Some(TrackConfig {
        id: TrackId::Process(t.name.clone()),
        weight: if zero_weight { 0 } else { weight },
        reverse,
        // The first scan reports the real state before anything is decided.
        initially_up: true,
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

/// keepalived numbers the rules that give no preference down from here, per family, in
/// the order it reads them (vrrp_iprule.c RULE_START_PRIORITY).
const RULE_START_PRIORITY: u32 = 16384;

/// `from` / `to` of an ip rule: `all` / `any` / `default` (no address) or `ADDR[/LEN]`.
fn rule_addr(s: &str) -> Result<Option<(IpAddr, u8)>, String> {
    if matches!(s, "all" | "any" | "default") {
        return Ok(None);
    }
    address_prefix(s).map(Some)
}

/// `ADDR[/LEN]` (LEN defaults to the whole address), shared by routes and rules.
fn address_prefix(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| format!("{s} is not an address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("bad prefix length in {s}"))?,
        None => max,
    };
    Ok((addr, len))
}

/// Whether a rule is IPv6 (keepalived: `inet6`, or the family of `from` / `to`; IPv4
/// otherwise).
fn rule_is_v6(r: &model::VirtualRule) -> bool {
    let addr_v6 = |a: &Option<String>| {
        a.as_deref()
            .and_then(|a| rule_addr(a).ok().flatten())
            .is_some_and(|(a, _)| a.is_ipv6())
    };
    r.options.iter().any(|o| o == "inet6") || addr_v6(&r.from) || addr_v6(&r.to)
}

/// The preferences keepalived gives the rules that have none: every `static_rules` and
/// `virtual_rules` line in the order of the configuration, each family counting down from
/// [`RULE_START_PRIORITY`].
fn default_rule_prefs(cfg: &model::Config) -> Vec<(config::Span, u32)> {
    let mut all: Vec<&model::VirtualRule> = cfg
        .static_rules
        .iter()
        .chain(cfg.vrrp_instances.iter().flat_map(|i| &i.virtual_rules))
        .filter(|r| r.preference.is_none())
        .collect();
    all.sort_by_key(|r| (r.span.file.0, r.span.start));
    let (mut v4, mut v6) = (RULE_START_PRIORITY, RULE_START_PRIORITY);
    all.into_iter()
        .map(|r| {
            let next = if rule_is_v6(r) { &mut v6 } else { &mut v4 };
            let p = *next;
            *next -= 1;
            (r.span, p)
        })
        .collect()
}

/// `ip rule`'s number forms: decimal, `0x` hex or `0` octal (strtoul base 0).
fn rule_number(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// `START-END`.
fn rule_range<T: std::str::FromStr>(s: &str) -> Option<(T, T)> {
    let (a, b) = s.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// An `ipproto` name (/etc/protocols' common ones) or number.
fn ip_proto(s: &str) -> Option<u8> {
    Some(match s {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        n => return n.parse().ok(),
    })
}

/// One `virtual_rules` / `static_rules` line as keepalived 2.2.7 reads it
/// (vrrp_iprule.c); a line keepalived refuses is logged and left out, as keepalived
/// does. `owner` names the instance or `static_rules` in messages.
fn rule(owner: &str, r: &model::VirtualRule, default_pref: Option<u32>) -> Option<RuleConfig> {
    let refuse = |what: String| {
        tracing::warn!("{owner}: rule {what}; the rule is ignored (as keepalived does)");
        None
    };
    let v6 = rule_is_v6(r);
    let from = match r.from.as_deref().map(rule_addr).transpose() {
        Ok(a) => a.flatten(),
        Err(e) => return refuse(format!("from: {e}")),
    };
    let to = match r.to.as_deref().map(rule_addr).transpose() {
        Ok(a) => a.flatten(),
        Err(e) => return refuse(format!("to: {e}")),
    };
    if from.is_some_and(|(a, _)| a.is_ipv6() != v6) || to.is_some_and(|(a, _)| a.is_ipv6() != v6) {
        return refuse("mixes IPv4 and IPv6".into());
    }
    let mut out = RuleConfig {
        v6,
        from,
        to,
        invert: false,
        priority: 0,
        tos: 0,
        fwmark: None,
        iif: None,
        oif: None,
        suppress_prefixlen: None,
        suppress_ifgroup: None,
        uid_range: None,
        protocol: None,
        ip_proto: None,
        sport: None,
        dport: None,
        action: RuleAction::Nop,
    };
    let mut action: Option<RuleAction> = None;
    if let Some(t) = &r.table {
        match route_table(t) {
            Some(0) => return refuse("table 0 is not valid".into()),
            Some(t) => action = Some(RuleAction::Table(t)),
            None => return refuse(format!("table {t} not found")),
        }
    }
    let mut table_option = false;
    let mut words = r.options.iter().map(String::as_str);
    while let Some(w) = words.next() {
        let mut value = |what: &str| -> Result<&str, String> {
            words.next().ok_or_else(|| format!("{what} needs a value"))
        };
        let mut set_action = |a: RuleAction| -> Result<(), String> {
            if action.is_some() {
                return Err(
                    "has more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev"
                        .into(),
                );
            }
            action = Some(a);
            Ok(())
        };
        let res: Result<(), String> = (|| {
            match w {
                "inet" | "inet6" => {}
                "not" => out.invert = true,
                "tos" | "dsfield" => {
                    let v = value(w)?;
                    out.tos = rule_number(v)
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| format!("TOS {v} is invalid"))?;
                }
                "fwmark" => {
                    let v = value(w)?;
                    let bad = || format!("fwmark {v} is invalid");
                    out.fwmark = Some(match v.split_once('/') {
                        Some((m, k)) => (
                            rule_number(m).ok_or_else(bad)?,
                            Some(rule_number(k).ok_or_else(bad)?),
                        ),
                        None => (rule_number(v).ok_or_else(bad)?, None),
                    });
                }
                "suppress_prefixlength" | "sup_pl" => {
                    let v = value(w)?;
                    out.suppress_prefixlen = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|n| *n <= i32::MAX as u32)
                            .ok_or_else(|| format!("suppress_prefixlength {v} is invalid"))?,
                    );
                    table_option = true;
                }
                "suppress_ifgroup" | "sup_group" => {
                    let v = value(w)?;
                    out.suppress_ifgroup = Some(match v {
                        "default" => 0,
                        v => rule_number(v)
                            .ok_or_else(|| format!("suppress_group {v} is invalid"))?,
                    });
                    table_option = true;
                }
                "dev" | "iif" => out.iif = Some(value(w)?.to_string()),
                "oif" => out.oif = Some(value(w)?.to_string()),
                "uidrange" => {
                    let v = value(w)?;
                    out.uid_range =
                        Some(rule_range(v).ok_or_else(|| format!("uidrange {v} is invalid"))?);
                }
                "l3mdev" => set_action(RuleAction::L3mdev)?,
                "protocol" => {
                    let v = value(w)?;
                    match v.parse::<u8>() {
                        Ok(p) => out.protocol = Some(p),
                        // keepalived logs it and keeps the rule.
                        Err(_) => tracing::warn!(
                            "{owner}: rule protocol {v} is invalid; ignored (as keepalived does)"
                        ),
                    }
                }
                "ipproto" => {
                    let v = value(w)?;
                    match ip_proto(v) {
                        Some(p) => out.ip_proto = Some(p),
                        None => tracing::warn!(
                            "{owner}: rule ipproto {v} is invalid; ignored (as keepalived does)"
                        ),
                    }
                }
                "sport" | "dport" => {
                    let v = value(w)?;
                    // keepalived 2.2.7 reads only START-END (a single port is logged as
                    // invalid and left out; the rule stays).
                    match rule_range::<u16>(v) {
                        Some(range) if w == "sport" => out.sport = Some(range),
                        Some(range) => out.dport = Some(range),
                        None => tracing::warn!("{owner}: rule {w} {v}: keepalived 2.2.7 reads only START-END ranges; ignored, as keepalived does"),
                    }
                }
                "realms" | "tunnel-id" => {
                    let v = value(w)?;
                    tracing::warn!(
                        "{owner}: rule {w} {v} is not implemented by lvsd; left out of the rule"
                    );
                    if w == "realms" {
                        table_option = true;
                    }
                }
                "type" => {} // `type blackhole` == `blackhole`
                "goto" => {
                    let v = value(w)?;
                    let t = v
                        .parse::<u32>()
                        .map_err(|_| format!("goto target {v} is invalid"))?;
                    set_action(RuleAction::Goto(t))?;
                }
                "nop" => set_action(RuleAction::Nop)?,
                "blackhole" => set_action(RuleAction::Blackhole)?,
                "unreachable" => set_action(RuleAction::Unreachable)?,
                "prohibit" => set_action(RuleAction::Prohibit)?,
                other => return Err(format!("option {other} is unknown")),
            }
            Ok(())
        })();
        if let Err(e) = res {
            return refuse(e);
        }
    }
    let Some(action) = action else {
        return refuse(
            "has no action (table, goto, nop, blackhole, unreachable, prohibit or l3mdev)".into(),
        );
    };
    out.action = action;
    out.priority = match (r.preference, default_pref) {
        (Some(p), _) => p,
        (None, Some(p)) => {
            tracing::warn!(
                "{owner}: rule has no preference; keepalived gives it {p}, and so does lvsd"
            );
            p
        }
        (None, None) => RULE_START_PRIORITY,
    };
    if let RuleAction::Goto(target) = action {
        if r.preference.is_none() {
            return refuse(format!("goto {target} needs a preference"));
        }
        if out.priority >= target {
            return refuse(format!(
                "preference {} is not below goto target {target}",
                out.priority
            ));
        }
    }
    if table_option && !matches!(action, RuleAction::Table(_)) {
        return refuse(
            "suppress_prefixlength / suppress_ifgroup / realms need a table action".into(),
        );
    }
    // keepalived marks tracked rules as its own (RTPROT_KEEPALIVED).
    if !r.no_track {
        if out
            .protocol
            .is_some_and(|p| p != super::vip::RTPROT_KEEPALIVED)
        {
            tracing::warn!("{owner}: a tracked rule's protocol is keepalived's (18); keepalived resets it, and so does lvsd (or add no_track)");
        }
        out.protocol = Some(super::vip::RTPROT_KEEPALIVED);
    }
    Some(out)
}

/// The rules of `rules`, with keepalived's default preferences.
fn rules(
    owner: &str,
    rules: &[model::VirtualRule],
    prefs: &[(config::Span, u32)],
) -> Vec<RuleConfig> {
    rules
        .iter()
        .filter_map(|r| {
            let default = prefs.iter().find(|(s, _)| *s == r.span).map(|(_, p)| *p);
            rule(owner, r, default)
        })
        .collect()
}

/// `static_ipaddress`, `static_routes`, `static_rules`.
fn statics(
    cfg: &model::Config,
    prefs: &[(config::Span, u32)],
) -> Result<StaticConfig, TranslateError> {
    let addresses = cfg
        .static_ipaddresses
        .iter()
        .map(|a| {
            let dev = a
                .dev
                .clone()
                .unwrap_or_else(|| cfg.global.default_interface.clone());
            (vip(a), dev)
        })
        .collect();
    let family_of = |r: &model::VirtualRoute| {
        let v6 = r.destination.contains(':') || r.via.first().is_some_and(IpAddr::is_ipv6);
        if v6 {
            Family::V6
        } else {
            Family::V4
        }
    };
    let routes = cfg
        .static_routes
        .iter()
        .map(|r| route("static_routes", family_of(r), r))
        .collect::<Result<_, _>>()?;
    Ok(StaticConfig {
        addresses,
        routes,
        rules: rules("static_rules", &cfg.static_rules, prefs),
    })
}

/// `track_group`: the interfaces each instance tracks (weight 0: down is
/// FAULT) because a static address (its `dev`), route (`dev`) or rule
/// (`iif`) names a group the instance is in (keepalived 2.2.7's
/// static_track_group_init; an entry with `no_track` too is not tracked).
fn track_group_interfaces(cfg: &model::Config) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let addresses = cfg.static_ipaddresses.iter().map(|a| {
        let dev = a
            .dev
            .clone()
            .unwrap_or_else(|| cfg.global.default_interface.clone());
        (
            "static address",
            a.track_group.as_ref(),
            a.no_track,
            Some(dev),
        )
    });
    let routes = cfg.static_routes.iter().map(|r| {
        (
            "static route",
            r.track_group.as_ref(),
            r.no_track,
            r.dev.clone(),
        )
    });
    let rules = cfg.static_rules.iter().map(|r| {
        let iif = r
            .options
            .windows(2)
            .find(|w| matches!(w[0].as_str(), "iif" | "dev"))
            .map(|w| w[1].clone());
        ("static rule", r.track_group.as_ref(), r.no_track, iif)
    });
    for (what, group, no_track, dev) in addresses.chain(routes).chain(rules) {
        let Some(group) = group else { continue };
        // An undefined group was warned about and dropped at load.
        let Some(g) = cfg.track_groups.iter().find(|g| g.name == *group) else {
            continue;
        };
        if no_track {
            tracing::warn!("{what} has both track_group and no_track set - not tracking");
            continue;
        }
        let Some(dev) = dev else { continue };
        for name in &g.instances {
            // Unknown members were warned about at load.
            if !cfg.vrrp_instances.iter().any(|i| i.name == *name) {
                continue;
            }
            let list = out.entry(name.clone()).or_default();
            if !list.contains(&dev) {
                list.push(dev.clone());
            }
        }
    }
    out
}

/// The interfaces other than the instance's own that its tracked (not
/// `no_track`) VIPs, virtual routes (`dev`) and virtual rules (`iif`/`oif`) name.
fn other_interfaces(i: &model::VrrpInstance, own: &str) -> Vec<String> {
    let vips = i
        .virtual_ipaddresses
        .iter()
        .chain(&i.virtual_ipaddresses_excluded)
        .filter(|v| !v.no_track)
        .filter_map(|v| v.dev.clone());
    let routes = i
        .virtual_routes
        .iter()
        .filter(|r| !r.no_track)
        .filter_map(|r| r.dev.clone());
    let rules = i
        .virtual_rules
        .iter()
        .filter(|r| !r.no_track)
        .flat_map(|r| {
            r.options
                .windows(2)
                .filter(|w| matches!(w[0].as_str(), "iif" | "dev" | "oif"))
                .map(|w| w[1].clone())
                .collect::<Vec<_>>()
        });
    let mut out: Vec<String> = Vec::new();
    for dev in vips.chain(routes).chain(rules) {
        if dev != own && !out.contains(&dev) {
            out.push(dev);
        }
    }
    out
}

/// The VRRP part of a loaded keepalived.conf.
/// `use_vmac [NAME] [MAC]`, `vmac_xmit_base`, global `vmac_prefix`. A MAC keepalived
/// would refuse is logged and the RFC's one used, as keepalived does.
fn vmac(
    cfg: &model::Config,
    i: &model::VrrpInstance,
    family: Family,
) -> Option<super::vmac::VmacConfig> {
    use super::vmac;
    let u = i.use_vmac.as_ref()?;
    let vrid = i.virtual_router_id.get();
    let mac = match &u.mac {
        None => vmac::default_mac(family, vrid),
        Some(text) => vmac::parse_mac(text, vrid).unwrap_or_else(|e| {
            tracing::warn!("vrrp_instance {}: use_vmac: {e}; using the RFC MAC", i.name);
            vmac::default_mac(family, vrid)
        }),
    };
    Some(vmac::VmacConfig {
        name: u.name.clone(),
        prefix: cfg.global.vmac_prefix.clone(),
        mac,
        xmit_base: i.vmac_xmit_base,
    })
}

pub fn translate(cfg: &model::Config) -> Result<VrrpConfig, TranslateError> {
    let prefs = default_rule_prefs(cfg);
    let group_tracks = track_group_interfaces(cfg);
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
        tracks.extend(
            i.track_processes
                .iter()
                .filter_map(|t| track_process(cfg, t, zero_weights)),
        );
        if let Some(g) = group {
            for t in &g.track_processes {
                if !tracks
                    .iter()
                    .any(|x| matches!(&x.id, TrackId::Process(n) if *n == t.name))
                {
                    tracks.extend(track_process(cfg, t, zero_weights));
                }
            }
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
        // keepalived 2.2.7 also tracks (weight 0: down means FAULT) the interface
        // of a VIP, virtual route or virtual rule that sits on another interface
        // than the instance's, unless the line says `no_track`.
        let by_group = group_tracks.get(&i.name).cloned().unwrap_or_default();
        for dev in other_interfaces(i, &interface).into_iter().chain(by_group) {
            let id = TrackId::Interface(dev);
            if !tracks.iter().any(|t| t.id == id) {
                tracks.push(TrackConfig {
                    id,
                    weight: 0,
                    reverse: false,
                    initially_up: true,
                    initial_value: 0,
                });
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
            // The lowering already chose (IPv6 without `version 2` is v3).
            version: match i.version {
                model::VrrpVersion::V3 => Version::V3,
                model::VrrpVersion::V2 => Version::V2,
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
            rules: rules(
                &format!("vrrp_instance {}", i.name),
                &i.virtual_rules,
                &prefs,
            ),
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
                lower_prio_repeat: i.garp.lower_prio_repeat,
                lower_prio_delay: i.garp.lower_prio_delay,
                interval: i.garp.interval,
                na_interval: i.garp.gna_interval,
                // Decided below, once the VIPs' interfaces are known.
                extra_if: Duration::ZERO,
                extra_if_all: false,
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
            track_src_ip: i.track_src_ip,
            promote_secondaries: i.promote_secondaries,
            config_fault: i.unicast_no_peer_fault,
            // keepalived: never for the address owner (priority 255).
            no_accept: !i.accept_mode() && !i.priority.is_owner(),
            notify_deleted: i.notify.deleted.is_some(),
            // keepalived: the instance's own setting, else its sync group's,
            // else the global vrrp_notify_priority_changes.
            notify_priority_changes: i
                .notify_priority_changes
                .or_else(|| {
                    cfg.vrrp_sync_groups
                        .iter()
                        .find(|g| g.group.contains(&i.name))
                        .and_then(|g| g.notify_priority_changes)
                })
                .unwrap_or(cfg.global.vrrp_notify_priority_changes),
            vmac: vmac(cfg, i, family),
            own_vmac_prefix: String::new(),
        });
        if let Some(last) = instances.last_mut() {
            let mac_given = i.use_vmac.as_ref().is_some_and(|u| u.mac.is_some());
            last.place_own_vmacs(i.use_vmac_addr, mac_given);
            // `garp_extra_if`: keepalived 2.2.7 sends on the VIPs' own VMACs
            // and, with `all`, on any other interface holding a VIP; with no
            // such interface it is off.
            (last.garp.extra_if, last.garp.extra_if_all) = match i.garp.extra_if {
                Some(x) if last.has_own_vmacs() => (x.interval, x.all),
                Some(x) if x.all && last.has_vip_on_other_interface() => (x.interval, true),
                _ => (Duration::ZERO, false),
            };
            if last.has_own_vmacs() {
                last.own_vmac_prefix = cfg
                    .global
                    .vmac_addr_prefix
                    .clone()
                    .unwrap_or_else(|| cfg.global.vmac_prefix.clone());
            }
        }
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
    let processes = cfg
        .vrrp_track_processes
        .iter()
        .filter(|p| {
            instances.iter().any(|i| {
                i.tracks
                    .iter()
                    .any(|t| matches!(&t.id, TrackId::Process(n) if *n == p.name))
            })
        })
        .map(|p| crate::vrrp::process_track::ProcessSpec {
            name: p.name.clone(),
            process: p.process.clone(),
            params: p.params.clone(),
            param_match: match p.param_match {
                model::ParamMatch::None => crate::vrrp::process_track::ParamMatch::None,
                model::ParamMatch::Exact => crate::vrrp::process_track::ParamMatch::Exact,
                model::ParamMatch::Partial => crate::vrrp::process_track::ParamMatch::Partial,
                model::ParamMatch::Initial => crate::vrrp::process_track::ParamMatch::Initial,
            },
            full_command: p.full_command,
            quorum: p.quorum,
            quorum_max: p.quorum_max,
            fork_delay: p.fork_delay,
            terminate_delay: p.terminate_delay,
        })
        .collect();
    Ok(VrrpConfig {
        dynamic_interfaces: cfg.global.dynamic_interfaces,
        processes,
        instances,
        sync_groups,
        scripts,
        track_files,
        startup_delay: cfg.global.vrrp_startup_delay.unwrap_or(Duration::ZERO),
        script_security: cfg.global.enable_script_security,
        statics: statics(cfg, &prefs)?,
        firewall: crate::vrrp::firewall::FirewallConfig {
            table: cfg
                .global
                .nftables_table
                .clone()
                .unwrap_or_else(|| "lvsd".into()),
            priority: cfg.global.nftables_priority,
        },
        start_stop: StartStopScripts {
            startup: cfg.global.startup_script.as_ref().map(|c| {
                (
                    start_stop_command(c, cfg.global.script_user.as_ref()),
                    cfg.global.startup_script_timeout,
                )
            }),
            shutdown: cfg.global.shutdown_script.as_ref().map(|c| {
                (
                    start_stop_command(c, cfg.global.script_user.as_ref()),
                    cfg.global.shutdown_script_timeout,
                )
            }),
        },
    })
}
