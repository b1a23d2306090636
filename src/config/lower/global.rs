//! `global_defs { }` and the daemon-wide keywords keepalived also accepts at top level.
#![forbid(unsafe_code)]

use std::time::Duration;

use super::super::diag::Problem;
use super::super::keywords::{self, Block};
use super::super::model::{
    GarpExtraIf, GarpSettings, GlobalDefs, LvsSyncDaemon, NotifyFifo, ProcessTuning, RunAs,
    SmtpServer, VrrpVersion,
};
use super::super::tree::Node;
use super::Cx;

/// Daemon-wide keywords accepted outside global_defs too.
pub(super) const TOP_LEVEL_GLOBALS: &[&str] = &["instance", "use_pid_dir", "child_wait_time"];

pub(super) fn global_defs(cx: &mut Cx<'_>, node: &Node, g: &mut GlobalDefs) {
    if !node.args.is_empty() {
        cx.extra(node, 0);
    }
    let mut lower_prio_delay = None;
    let mut lower_prio_repeat = None;
    for n in cx.statements(node, Block::GlobalDefs) {
        match n.name() {
            "vrrp_garp_lower_prio_delay" => lower_prio_delay = cx.timer(n),
            "vrrp_garp_lower_prio_repeat" => lower_prio_repeat = cx.u32(n),
            _ => global_keyword(cx, n, g),
        }
    }
    // The lower-priority GARP settings default to the master ones.
    g.garp.lower_prio_delay = lower_prio_delay.unwrap_or(g.garp.master_delay);
    g.garp.lower_prio_repeat = lower_prio_repeat.unwrap_or(g.garp.master_repeat);
    if g.vrrp_min_garp {
        g.garp.master_repeat = 1;
        g.garp.master_delay = Duration::ZERO;
        g.garp.lower_prio_repeat = 1;
    }
}

fn fifo(cx: &mut Cx<'_>, n: &Node) -> Option<NotifyFifo> {
    cx.script(n).map(|s| NotifyFifo {
        path: s.command,
        user: s.user,
        group: s.group,
    })
}

/// `vrrp_*` / `checker_*` scheduling keywords, as keepalived 2.2.7 reads
/// them (global_parser.c): out-of-range values are logged and replaced or
/// ignored, never refused.
fn tuning_keyword(cx: &mut Cx<'_>, n: &Node, t: &mut ProcessTuning, setting: &str) {
    match setting {
        "priority" => {
            let Some(tok) = cx.one(n, "a nice value -20..19") else {
                return;
            };
            match tok.text.parse::<i32>() {
                Ok(v) if (-20..=19).contains(&v) => t.nice = Some(v),
                _ => cx.fallback(
                    n,
                    tok,
                    "is not a nice value -20..19",
                    "leaves the priority as it is",
                    None,
                ),
            }
        }
        "rt_priority" => {
            let Some(tok) = cx.one(n, "a real-time priority 1..99") else {
                return;
            };
            match tok.text.parse::<i64>() {
                Ok(v) if (1..=99).contains(&v) => t.rt_priority = Some(v as u32),
                Ok(v) => {
                    let to = v.clamp(1, 99);
                    cx.fallback(
                        n,
                        tok,
                        "is not a real-time priority 1..99",
                        &format!("uses {to}"),
                        None,
                    );
                    t.rt_priority = Some(to as u32);
                }
                Err(_) => cx.fallback(
                    n,
                    tok,
                    "is not a number",
                    "leaves the scheduling as it is",
                    None,
                ),
            }
        }
        "rlimit_rttime" | "rlimit_rtime" => {
            if setting == "rlimit_rtime" {
                cx.warning(
                    n.keyword.span,
                    Problem::DeprecatedKeyword {
                        keyword: n.name().to_string(),
                        instead: n.name().replace("rlimit_rtime", "rlimit_rttime"),
                    },
                );
            }
            let Some(tok) = cx.one(n, "microseconds 1..4294967295") else {
                return;
            };
            match tok.text.parse::<u64>() {
                // keepalived halves it for the soft limit, which must not be 0.
                Ok(v) if (1..=u64::from(u32::MAX)).contains(&v) => t.rlimit_rttime_us = v.max(2),
                _ => {
                    cx.fallback(
                        n,
                        tok,
                        "is not a number of microseconds 1..4294967295",
                        "sets no real-time limit",
                        None,
                    );
                    t.rlimit_rttime_us = 0;
                }
            }
        }
        "no_swap" => t.no_swap = cx.flag(n),
        "cpu_affinity" => {
            cx.no_block(n);
            if n.args.is_empty() {
                cx.missing(n, "CPU numbers");
                return;
            }
            let cpus = online_cpus();
            let mut set = Vec::new();
            for tok in &n.args {
                match tok.text.parse::<usize>() {
                    Ok(c) if c < cpus => set.push(c),
                    _ => {
                        cx.fallback(
                            n,
                            tok,
                            &format!("is not a CPU of this machine (0..{})", cpus - 1),
                            "ignores the whole list",
                            None,
                        );
                        return;
                    }
                }
            }
            set.sort_unstable();
            set.dedup();
            t.cpu_affinity = set;
        }
        _ => cx.unknown(n, "global_defs"),
    }
}

/// The CPUs online, as keepalived counts them (sysconf, not this thread's
/// affinity, which `checker_cpu_affinity` may have narrowed).
pub fn online_cpus() -> usize {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN) {
        Ok(Some(n)) if n > 0 => n as usize,
        _ => 1,
    }
}

pub(super) fn global_keyword(cx: &mut Cx<'_>, n: &Node, g: &mut GlobalDefs) {
    if let Some((process, setting)) = n.name().split_once('_') {
        let tuned = match process {
            "vrrp" => Some(&mut g.vrrp_tuning),
            "checker" => Some(&mut g.checker_tuning),
            _ => None,
        };
        if let Some(t) = tuned {
            if matches!(
                setting,
                "priority"
                    | "rt_priority"
                    | "rlimit_rttime"
                    | "rlimit_rtime"
                    | "no_swap"
                    | "cpu_affinity"
            ) {
                return tuning_keyword(cx, n, t, setting);
            }
        }
    }
    match n.name() {
        "router_id" => g.router_id = cx.string(n),
        "notification_email" => {
            g.notification_email = cx.words(n).into_iter().map(|t| t.text).collect()
        }
        "notification_email_from" => g.notification_email_from = cx.string(n),
        "smtp_server" => {
            cx.no_block(n);
            let Some(host) = n.args.first() else {
                cx.missing(n, "an SMTP server address [port]");
                return;
            };
            let port = match n.args.get(1) {
                Some(p) => cx.port_token(n, p).unwrap_or(25),
                None => 25,
            };
            cx.extra(n, 2);
            g.smtp_server = Some(SmtpServer {
                host: host.text.clone(),
                port,
            });
        }
        "smtp_helo_name" => g.smtp_helo_name = cx.string(n),
        "smtp_connect_timeout" => {
            if let Some(t) = cx.timer(n) {
                g.smtp_connect_timeout = t
            }
        }
        "smtp_alert" => g.smtp_alert = Some(cx.flag(n)),
        "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(cx.flag(n)),
        "smtp_alert_checker" => g.smtp_alert_checker = Some(cx.flag(n)),
        "checker_log_all_failures" => g.checker_log_all_failures = cx.flag(n),
        "no_email_faults" => g.no_email_faults = cx.flag(n),
        "no_checker_emails" => g.no_checker_emails = cx.flag(n),
        "vrrp_mcast_group4" => {
            if let Some(t) = cx.one(n, "an IPv4 multicast address") {
                match t.text.parse::<std::net::Ipv4Addr>() {
                    Ok(a) if a.is_multicast() => g.vrrp_mcast_group4 = a,
                    _ => cx.invalid(n, t, "an IPv4 multicast address"),
                }
            }
        }
        "vrrp_mcast_group6" => {
            if let Some(t) = cx.one(n, "an IPv6 multicast address") {
                match t.text.parse::<std::net::Ipv6Addr>() {
                    Ok(a) if a.is_multicast() => g.vrrp_mcast_group6 = a,
                    _ => cx.invalid(n, t, "an IPv6 multicast address"),
                }
            }
        }
        "default_interface" => {
            if let Some(s) = cx.string(n) {
                g.default_interface = s
            }
        }
        "lvs_sync_daemon" => g.lvs_sync_daemon = lvs_sync_daemon(cx, n),
        "lvs_timeouts" => lvs_timeouts(cx, n, g),
        "lvs_flush" => g.lvs_flush = cx.flag(n),
        "lvs_flush_on_stop" | "lvs_flush_onstop" => {
            cx.no_block(n);
            g.lvs_flush_on_stop = match n.args.first() {
                None => Some(false),
                Some(t) if t.text == "VS" => Some(true),
                Some(t) => {
                    cx.invalid(n, t, "nothing or VS");
                    None
                }
            };
        }
        "vrrp_garp_master_delay" => {
            if let Some(t) = cx.timer(n) {
                g.garp.master_delay = t
            }
        }
        "vrrp_garp_master_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.garp.master_repeat = v
            }
        }
        "vrrp_garp_lower_prio_delay" => {
            if let Some(t) = cx.timer(n) {
                g.garp.lower_prio_delay = t
            }
        }
        "vrrp_garp_lower_prio_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.garp.lower_prio_repeat = v
            }
        }
        "vrrp_garp_master_refresh" => g.garp.master_refresh = cx.timer(n).filter(|d| !d.is_zero()),
        "vrrp_garp_master_refresh_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.garp.master_refresh_repeat = v
            }
        }
        "vrrp_garp_interval" => {
            if let Some(t) = cx.timer(n) {
                g.garp.interval = t
            }
        }
        "vrrp_gna_interval" => {
            if let Some(t) = cx.timer(n) {
                g.garp.gna_interval = t
            }
        }
        "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => g.garp.extra_if = garp_extra_if(cx, n),
        "vrrp_min_garp" => g.vrrp_min_garp = cx.flag(n),
        "vrrp_down_timer_adverts" => {
            if let Some(v) = cx.u8_range(n, 1, 100) {
                g.vrrp_down_timer_adverts = v
            }
        }
        "vrrp_lower_prio_no_advert" => g.vrrp_lower_prio_no_advert = cx.flag(n),
        "vrrp_higher_prio_send_advert" => g.vrrp_higher_prio_send_advert = cx.flag(n),
        "vrrp_version" => {
            if let Some(v) = version(cx, n) {
                g.vrrp_version = v
            }
        }
        "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = cx.flag(n),
        "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = cx.flag(n),
        "vrrp_strict" => g.vrrp_strict = cx.flag(n),
        "nftables" => {
            g.nftables_table = Some(match n.args.first() {
                Some(t) => t.text.clone(),
                None => "keepalived".into(),
            })
        }
        "nftables_priority" => {
            if let Some(v) = cx.int(n, i64::from(i32::MIN), i64::from(i32::MAX)) {
                g.nftables_priority = i32::try_from(v).unwrap_or(-1)
            }
        }
        "v3_checksum_as_v2" => g.v3_checksum_as_v2 = cx.flag(n),
        "vrrp_notify_priority_changes" => g.vrrp_notify_priority_changes = cx.flag(n),
        "vrrp_startup_delay" => g.vrrp_startup_delay = cx.timer(n),
        "log_unknown_vrids" => g.log_unknown_vrids = cx.flag(n),
        "vmac_prefix" => {
            if let Some(s) = cx.string(n) {
                g.vmac_prefix = s
            }
        }
        "vmac_addr_prefix" => g.vmac_addr_prefix = cx.string(n),
        "dynamic_interfaces" => {
            cx.no_block(n);
            g.dynamic_interfaces = true;
            match n.args.first() {
                None => {}
                Some(t) if t.text == "allow_if_changes" => {
                    g.dynamic_interfaces_allow_if_changes = true
                }
                Some(t) => cx.invalid(n, t, "nothing or allow_if_changes"),
            }
        }
        "script_user" => {
            if let Some(s) = cx.script(n) {
                cx.extra(n, 2);
                g.script_user = Some(RunAs {
                    user: s.command,
                    group: s.user,
                });
            }
        }
        "enable_script_security" => g.enable_script_security = cx.flag(n),
        "notify_fifo" => g.notify_fifo = fifo(cx, n),
        "notify_fifo_script" => g.notify_fifo_script = cx.script(n),
        "vrrp_notify_fifo" => g.vrrp_notify_fifo = fifo(cx, n),
        "vrrp_notify_fifo_script" => g.vrrp_notify_fifo_script = cx.script(n),
        "lvs_notify_fifo" => g.lvs_notify_fifo = fifo(cx, n),
        "lvs_notify_fifo_script" => g.lvs_notify_fifo_script = cx.script(n),
        "fifo_write_vrrp_states_on_reload" => g.fifo_write_vrrp_states_on_reload = cx.flag(n),
        "rs_init_notifies" => g.rs_init_notifies = cx.flag(n),
        "startup_script" => g.startup_script = cx.script(n),
        "shutdown_script" => g.shutdown_script = cx.script(n),
        "startup_script_timeout" => {
            if let Some(v) = cx.int(n, 1, 1000) {
                g.startup_script_timeout = Duration::from_secs(v.unsigned_abs())
            }
        }
        "shutdown_script_timeout" => {
            if let Some(v) = cx.int(n, 1, 1000) {
                g.shutdown_script_timeout = Duration::from_secs(v.unsigned_abs())
            }
        }
        "child_wait_time" => {
            if let Some(t) = cx.timer(n) {
                g.child_wait_time = t
            }
        }
        "instance" => g.instance = cx.string(n),
        "use_pid_dir" => g.use_pid_dir = cx.flag(n),
        "random_seed" => g.random_seed = cx.u32(n),
        // Warned by `statements`.
        k if keywords::not_implemented(Block::GlobalDefs, k) => {}
        k if keywords::not_implemented(Block::TopLevel, k) => {
            cx.check_support(Block::TopLevel, &n.keyword)
        }
        _ => cx.unknown(n, "global_defs"),
    }
}

pub(super) fn version(cx: &mut Cx<'_>, n: &Node) -> Option<VrrpVersion> {
    match cx.int(n, 2, 3)? {
        2 => Some(VrrpVersion::V2),
        _ => Some(VrrpVersion::V3),
    }
}

/// `[all] SECS` (0 disables; `all` may also follow the seconds, as
/// keepalived reads it). The `vmac_garp_intvl` spellings are deprecated.
pub(super) fn garp_extra_if(cx: &mut Cx<'_>, n: &Node) -> Option<GarpExtraIf> {
    cx.no_block(n);
    if n.name().contains("vmac_garp_intvl") {
        cx.warning(
            n.keyword.span,
            Problem::DeprecatedKeyword {
                keyword: n.name().to_string(),
                instead: n.name().replace("vmac_garp_intvl", "garp_extra_if"),
            },
        );
    }
    let all = n.args.iter().any(|t| t.text == "all");
    let Some(t) = n.args.iter().find(|t| t.text != "all") else {
        cx.missing(n, "[all] SECONDS");
        return None;
    };
    let d = cx.timer_token(n, t)?;
    if d > Duration::from_secs(86400) {
        cx.error(
            t.span,
            Problem::OutOfRange {
                keyword: n.name().into(),
                value: t.text.clone(),
                min: 0,
                max: 86400,
            },
        );
        return None;
    }
    (!d.is_zero()).then_some(GarpExtraIf { all, interval: d })
}

/// Instance-level garp overrides on top of the global settings.
pub(super) fn garp_keyword(cx: &mut Cx<'_>, n: &Node, g: &mut GarpSettings) -> bool {
    match n.name() {
        "garp_master_delay" => {
            if let Some(t) = cx.timer(n) {
                g.master_delay = t
            }
        }
        "garp_master_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.master_repeat = v
            }
        }
        "garp_lower_prio_delay" => {
            if let Some(t) = cx.timer(n) {
                g.lower_prio_delay = t
            }
        }
        "garp_lower_prio_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.lower_prio_repeat = v
            }
        }
        "garp_master_refresh" => g.master_refresh = cx.timer(n).filter(|d| !d.is_zero()),
        "garp_master_refresh_repeat" => {
            if let Some(v) = cx.u32(n) {
                g.master_refresh_repeat = v
            }
        }
        "garp_extra_if" | "vmac_garp_intvl" => g.extra_if = garp_extra_if(cx, n),
        _ => return false,
    }
    true
}

fn lvs_sync_daemon(cx: &mut Cx<'_>, n: &Node) -> Option<LvsSyncDaemon> {
    cx.no_block(n);
    let mut args = n.args.iter().peekable();
    let Some(iface) = args.next() else {
        cx.missing(n, "INTERFACE [inst] VRRP_INSTANCE [id N] ...");
        return None;
    };
    let mut d = LvsSyncDaemon {
        interface: iface.text.clone(),
        span: n.span(),
        instance: None,
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    while let Some(t) = args.next() {
        let key = t.text.as_str();
        let needs_value = matches!(key, "inst" | "id" | "maxlen" | "port" | "ttl" | "group");
        if !needs_value {
            // Backward-compatible form: the instance name without `inst`.
            if d.instance.is_none() {
                d.instance = Some(t.text.clone());
            } else {
                cx.invalid(n, t, "inst, id, maxlen, port, ttl or group");
            }
            continue;
        }
        let Some(v) = args.next() else {
            cx.missing(n, &format!("a value after '{key}'"));
            break;
        };
        match key {
            "inst" => d.instance = Some(v.text.clone()),
            "id" => {
                d.sync_id = cx
                    .int_token(n, v, 0, 255)
                    .and_then(|x| u8::try_from(x).ok())
            }
            "maxlen" => {
                d.maxlen = cx
                    .int_token(n, v, 1, 65507)
                    .and_then(|x| u16::try_from(x).ok())
            }
            "port" => {
                d.port = cx
                    .int_token(n, v, 1, 65535)
                    .and_then(|x| u16::try_from(x).ok())
            }
            "ttl" => {
                d.ttl = cx
                    .int_token(n, v, 1, 255)
                    .and_then(|x| u8::try_from(x).ok())
            }
            _ => d.group = cx.ip_token(n, v),
        }
    }
    Some(d)
}

fn lvs_timeouts(cx: &mut Cx<'_>, n: &Node, g: &mut GlobalDefs) {
    cx.no_block(n);
    if n.args.is_empty() {
        cx.missing(n, "tcp SECS, tcpfin SECS and/or udp SECS");
        return;
    }
    let mut args = n.args.iter();
    while let Some(t) = args.next() {
        let Some(v) = args.next() else {
            cx.missing(n, &format!("seconds after '{}'", t.text));
            return;
        };
        let secs = cx
            .int_token(n, v, 0, 86400 * 31)
            .and_then(|x| u32::try_from(x).ok());
        match t.text.as_str() {
            "tcp" => g.lvs_timeouts.tcp = secs,
            "tcpfin" => g.lvs_timeouts.tcp_fin = secs,
            "udp" => g.lvs_timeouts.udp = secs,
            _ => cx.invalid(n, t, "tcp, tcpfin or udp"),
        }
    }
}
