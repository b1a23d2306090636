//! `vrrp_script`, `vrrp_instance`, `vrrp_sync_group`, addresses, routes and rules.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use super::super::diag::Problem;
use super::super::keywords::{self, Block};
use super::super::model::{
    AdvertInt, AuthType, Authentication, Broadcast, GlobalDefs, InitialState, IpFamily, ParamMatch,
    Priority, RunAs, Scope, ScriptCommand, Secret, TrackFile, TrackFileInit, TrackWeight,
    TrackedFile, TrackedInterface, TrackedScript, UnicastPeer, UseVmac, VirtualIpAddress,
    VirtualRoute, VirtualRule, Vrid, VrrpInstance, VrrpNotify, VrrpScript, VrrpSyncGroup,
    VrrpTrackProcess, VrrpVersion,
};
use super::super::tree::Node;
use super::{global, parse_integer, Cx};

/// The name after a block keyword (`vrrp_instance VI_1 {`).
fn block_name(cx: &mut Cx<'_>, node: &Node) -> Option<String> {
    match node.args.first() {
        Some(t) => {
            cx.extra(node, 1);
            Some(t.text.clone())
        }
        None => {
            cx.missing(node, "a name");
            None
        }
    }
}

/// `weight W [reverse]` of a vrrp_script or track_file block, W in -limit..=limit; a bad
/// W leaves `weight` as it was.
fn weight_and_reverse(cx: &mut Cx<'_>, n: &Node, limit: i16, weight: &mut i16, reverse: &mut bool) {
    let (w, r) = cx.weight_and_reverse(n, i64::from(limit), false);
    if let Some(w) = w.and_then(|w| i16::try_from(w).ok()) {
        *weight = w;
    }
    *reverse |= r == Some(true);
}

pub(super) fn vrrp_script(cx: &mut Cx<'_>, node: &Node) -> Option<VrrpScript> {
    let name = block_name(cx, node);
    let mut script = None;
    let mut s = VrrpScript {
        name: name.clone().unwrap_or_default(),
        span: node.span(),
        script: ScriptCommand {
            command: String::new(),
            user: None,
            group: None,
        },
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    };
    let mut user: Option<RunAs> = None;
    for n in cx.statements(node, Block::VrrpScript) {
        match n.name() {
            "script" => script = cx.rest(n, "a script path or quoted command line"),
            "interval" => {
                if let Some(t) = cx.timer(n) {
                    if t.is_zero() {
                        cx.error(
                            n.span(),
                            Problem::OutOfRange {
                                keyword: "interval".into(),
                                value: "0".into(),
                                min: 1,
                                max: i64::from(u32::MAX),
                            },
                        );
                    } else {
                        s.interval = t;
                    }
                }
            }
            "timeout" => s.timeout = cx.timer(n),
            "weight" => weight_and_reverse(cx, n, 253, &mut s.weight, &mut s.weight_reverse),
            "rise" => {
                if let Some(v) = cx.int(n, 1, i64::from(u32::MAX)) {
                    s.rise = u32::try_from(v).unwrap_or(1)
                }
            }
            "fall" => {
                if let Some(v) = cx.int(n, 1, i64::from(u32::MAX)) {
                    s.fall = u32::try_from(v).unwrap_or(1)
                }
            }
            "user" => {
                if let Some(c) = cx.script(n) {
                    cx.extra(n, 2);
                    user = Some(RunAs {
                        user: c.command,
                        group: c.user,
                    });
                }
            }
            "init_fail" => s.init_fail = cx.flag(n),
            _ => cx.unknown(n, "vrrp_script"),
        }
    }
    let name = name?;
    let Some(command) = script else {
        // keepalived: "No script set for vrrp_script X - removing".
        cx.warning(
            node.span(),
            Problem::MissingRequired {
                object: format!("vrrp_script {name}"),
                what: "script; it is ignored (as keepalived does)".into(),
            },
        );
        return None;
    };
    s.script = ScriptCommand {
        command,
        user: user.as_ref().map(|u| u.user.clone()),
        group: user.and_then(|u| u.group),
    };
    Some(s)
}

/// `vrrp_track_process NAME { process NAME [PARAMS]; param_match [initial|partial];
/// quorum N; quorum_max N; delay/fork_delay/terminate_delay SECS; weight W [reverse];
/// full_command }`.
pub(super) fn vrrp_track_process(cx: &mut Cx<'_>, node: &Node) -> Option<VrrpTrackProcess> {
    let name = block_name(cx, node);
    let mut p = VrrpTrackProcess {
        name: name.clone().unwrap_or_default(),
        span: node.span(),
        process: String::new(),
        params: Vec::new(),
        param_match: ParamMatch::None,
        full_command: false,
        quorum: 1,
        quorum_max: u32::MAX,
        fork_delay: Duration::ZERO,
        terminate_delay: Duration::ZERO,
        weight: 0,
        weight_reverse: false,
    };
    let mut process = None;
    for n in cx.statements(node, Block::VrrpTrackProcess) {
        match n.name() {
            "process" => {
                cx.no_block(n);
                if let Some((first, rest)) = n.args.split_first() {
                    process = Some(first.text.clone());
                    if !rest.is_empty() {
                        p.params = rest.iter().map(|t| t.text.clone()).collect();
                        if p.param_match == ParamMatch::None {
                            p.param_match = ParamMatch::Exact;
                        }
                        p.full_command = true;
                    }
                }
            }
            "param_match" => {
                p.full_command = true;
                p.param_match = match n.args.first().map(|t| t.text.as_str()) {
                    None => ParamMatch::Exact,
                    Some("initial") => ParamMatch::Initial,
                    Some("partial") => ParamMatch::Partial,
                    Some(_) => {
                        if let Some(t) = n.args.first() {
                            cx.invalid(n, t, "initial or partial");
                        }
                        p.param_match
                    }
                };
            }
            "weight" => weight_and_reverse(cx, n, 254, &mut p.weight, &mut p.weight_reverse),
            "quorum" => {
                if let Some(v) = cx.int(n, 1, 65535) {
                    p.quorum = u32::try_from(v).unwrap_or(1)
                }
            }
            "quorum_max" => {
                if let Some(v) = cx.int(n, 0, 65535) {
                    p.quorum_max = u32::try_from(v).unwrap_or(u32::MAX);
                    // keepalived: quorum_max 0 means "up while none runs".
                    if p.quorum_max == 0 {
                        p.quorum = 0;
                    }
                }
            }
            "delay" | "fork_delay" | "terminate_delay" => {
                if let Some(t) = cx.timer(n) {
                    if n.name() != "terminate_delay" {
                        p.fork_delay = t;
                    }
                    if n.name() != "fork_delay" {
                        p.terminate_delay = t;
                    }
                }
            }
            "full_command" => p.full_command = cx.flag(n),
            _ => cx.unknown(n, "vrrp_track_process"),
        }
    }
    let name = name?;
    let Some(process) = process else {
        // keepalived: "track process 'X' process name not specified".
        cx.warning(
            node.span(),
            Problem::MissingRequired {
                object: format!("vrrp_track_process {name}"),
                what: "process; it is ignored (as keepalived does)".into(),
            },
        );
        return None;
    };
    p.process = process;
    Some(p)
}

fn track_processes(cx: &mut Cx<'_>, node: &Node) -> Vec<TrackedScript> {
    let mut out = Vec::new();
    for n in cx.block(node) {
        let (weight, reverse) = tracked_within(cx, n, TrackWeight::for_file, "-254..254");
        out.push(TrackedScript {
            name: n.name().to_string(),
            span: n.keyword.span,
            weight,
            reverse: reverse.unwrap_or(false),
        });
    }
    out
}

/// `track_file NAME { file PATH; weight W [reverse]; init_file [VALUE] [overwrite] }`.
pub(super) fn track_file(cx: &mut Cx<'_>, node: &Node) -> Option<TrackFile> {
    if node.name() == "vrrp_track_file" {
        cx.warning(
            node.keyword.span,
            Problem::DeprecatedKeyword {
                keyword: "vrrp_track_file".into(),
                instead: "track_file".into(),
            },
        );
    }
    let name = block_name(cx, node);
    let mut file = None;
    let mut t = TrackFile {
        name: name.clone().unwrap_or_default(),
        span: node.span(),
        file: Default::default(),
        weight: 1,
        weight_reverse: false,
        init: None,
    };
    for n in cx.statements(node, Block::TrackFile) {
        match n.name() {
            "file" => file = cx.string(n),
            "weight" => weight_and_reverse(cx, n, 254, &mut t.weight, &mut t.weight_reverse),
            "init_file" => {
                cx.no_block(n);
                let mut init = TrackFileInit {
                    value: 0,
                    overwrite: false,
                };
                for a in &n.args {
                    if a.text == "overwrite" {
                        init.overwrite = true;
                    } else if let Some(v) =
                        cx.int_token(n, a, i64::from(i32::MIN), i64::from(i32::MAX))
                    {
                        init.value = i32::try_from(v).unwrap_or(0);
                        if !(-254..=254).contains(&v) {
                            // keepalived writes it anyway, with this warning.
                            cx.warning(
                                a.span,
                                Problem::OutsideSensibleRange {
                                    keyword: "init_file".into(),
                                    value: a.text.clone(),
                                    min: -254,
                                    max: 254,
                                },
                            );
                        }
                    }
                }
                t.init = Some(init);
            }
            _ => cx.unknown(n, "track_file"),
        }
    }
    let name = name?;
    let Some(file) = file else {
        // keepalived: "No file set for track_file X - ignoring".
        cx.warning(
            node.span(),
            Problem::MissingRequired {
                object: format!("track_file {name}"),
                what: "file; it is ignored (as keepalived does)".into(),
            },
        );
        return None;
    };
    t.file = file.into();
    Some(t)
}

/// `NAME [weight N] [reverse|noreverse|no_reverse]` entries of track_interface/track_script.
fn tracked(cx: &mut Cx<'_>, n: &Node) -> (Option<TrackWeight>, bool) {
    let (weight, reverse) = tracked_within(cx, n, TrackWeight::new, "-253..253");
    (weight, reverse.unwrap_or(false))
}

/// [`tracked`] with the weight's constructor and range (track_file allows ±254), and
/// the reverse word given, if any (a track_file entry without one takes the file's).
fn tracked_within(
    cx: &mut Cx<'_>,
    n: &Node,
    weight_of: fn(i64) -> Result<TrackWeight, Problem>,
    range: &str,
) -> (Option<TrackWeight>, Option<bool>) {
    if let Some(b) = &n.block {
        cx.error(
            b.open,
            Problem::UnexpectedBlock {
                keyword: n.name().into(),
            },
        );
    }
    let mut weight = None;
    let mut reverse = None;
    let mut args = n.args.iter();
    while let Some(t) = args.next() {
        match t.text.as_str() {
            "weight" => match args.next() {
                Some(v) => match parse_integer(&v.text).map(weight_of) {
                    Some(Ok(w)) => weight = Some(w),
                    Some(Err(p)) => cx.error(v.span, p),
                    None => cx.invalid(n, v, &format!("an integer {range}")),
                },
                None => cx.missing(n, &format!("a weight {range}")),
            },
            "reverse" => reverse = Some(true),
            "noreverse" | "no_reverse" => reverse = Some(false),
            _ => cx.invalid(n, t, "weight N [reverse]"),
        }
    }
    (weight, reverse)
}

fn track_interfaces(cx: &mut Cx<'_>, node: &Node) -> Vec<TrackedInterface> {
    let mut out = Vec::new();
    for n in cx.block(node) {
        let (weight, reverse) = tracked(cx, n);
        out.push(TrackedInterface {
            name: n.name().to_string(),
            span: n.keyword.span,
            weight,
            reverse,
        });
    }
    out
}

fn track_scripts(cx: &mut Cx<'_>, node: &Node) -> Vec<TrackedScript> {
    let mut out = Vec::new();
    for n in cx.block(node) {
        let (weight, reverse) = tracked(cx, n);
        out.push(TrackedScript {
            name: n.name().to_string(),
            span: n.keyword.span,
            weight,
            reverse,
        });
    }
    out
}

fn tracked_files(cx: &mut Cx<'_>, node: &Node) -> Vec<TrackedFile> {
    let mut out = Vec::new();
    for n in cx.block(node) {
        let (weight, reverse) = tracked_within(cx, n, TrackWeight::for_file, "-254..254");
        out.push(TrackedFile {
            name: n.name().to_string(),
            span: n.keyword.span,
            weight,
            reverse,
        });
    }
    out
}

/// notify_* keywords shared by instances and sync groups; `false` if not one.
fn notify_keyword(cx: &mut Cx<'_>, n: &Node, notify: &mut VrrpNotify) -> bool {
    match n.name() {
        "notify_master" => notify.master = cx.script(n),
        "notify_backup" => notify.backup = cx.script(n),
        "notify_fault" => notify.fault = cx.script(n),
        "notify_stop" => notify.stop = cx.script(n),
        "notify" => notify.any = cx.script(n),
        "notify_master_rx_lower_pri" => notify.master_rx_lower_pri = cx.script(n),
        // Documented for sync groups; keepalived 2.2.7 takes it in vrrp_instance: both work.
        "notify_deleted" => {
            notify.deleted = Some(if n.args.is_empty() {
                cx.no_block(n);
                None
            } else {
                cx.script(n)
            })
        }
        _ => return false,
    }
    true
}

/// `track_group NAME { group { VI_1 ... } }` (keepalived drops a group
/// without instances, with a log line).
pub(super) fn track_group(cx: &mut Cx<'_>, node: &Node) -> Option<crate::config::TrackGroup> {
    let name = block_name(cx, node)?;
    let mut instances = Vec::new();
    for n in cx.block(node) {
        match n.name() {
            "group" => instances.extend(cx.words(n).into_iter().map(|t| t.text)),
            _ => cx.unknown(n, "track_group"),
        }
    }
    if instances.is_empty() {
        cx.warning(
            node.span(),
            Problem::MissingRequired {
                object: format!("track_group {name}"),
                what: "group { } of vrrp_instances; it is ignored".into(),
            },
        );
        return None;
    }
    Some(crate::config::TrackGroup {
        span: node.span(),
        name,
        instances,
    })
}

pub(super) fn vrrp_sync_group(cx: &mut Cx<'_>, node: &Node) -> Option<VrrpSyncGroup> {
    let name = block_name(cx, node);
    let mut g = VrrpSyncGroup {
        name: name.clone().unwrap_or_default(),
        span: node.span(),
        group: Vec::new(),
        group_spans: Vec::new(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_processes: Vec::new(),
        track_files: Vec::new(),
        notify: VrrpNotify::default(),
        notify_priority_changes: None,
        smtp_alert: None,
        sync_group_tracking_weight: false,
    };
    let mut has_group = false;
    for n in cx.statements(node, Block::VrrpSyncGroup) {
        if notify_keyword(cx, n, &mut g.notify) {
            continue;
        }
        match n.name() {
            "group" => {
                has_group = true;
                for t in cx.words(n) {
                    g.group.push(t.text);
                    g.group_spans.push(t.span);
                }
            }
            "track_interface" => g.track_interfaces = track_interfaces(cx, n),
            "track_script" => g.track_scripts = track_scripts(cx, n),
            "track_process" => g.track_processes = track_processes(cx, n),
            "track_file" => g.track_files = tracked_files(cx, n),
            "notify_priority_changes" => g.notify_priority_changes = Some(cx.flag(n)),
            "smtp_alert" => g.smtp_alert = Some(cx.flag(n)),
            // keepalived 2.2.7: a deprecated synonym of sync_group_tracking_weight.
            "global_tracking" => {
                cx.warning(
                    n.keyword.span,
                    Problem::DeprecatedKeyword {
                        keyword: "global_tracking".into(),
                        instead: "sync_group_tracking_weight".into(),
                    },
                );
                g.sync_group_tracking_weight = cx.flag(n);
            }
            "sync_group_tracking_weight" => g.sync_group_tracking_weight = cx.flag(n),
            // Warned by `statements`.
            k if keywords::not_implemented(Block::VrrpSyncGroup, k) => {}
            _ => cx.unknown(n, "vrrp_sync_group"),
        }
    }
    let name = name?;
    if !has_group {
        // keepalived ignores such a group with a warning.
        cx.warning(
            node.span(),
            Problem::MissingRequired {
                object: format!("vrrp_sync_group {name}"),
                what: "group { } of vrrp_instances; it is ignored".into(),
            },
        );
        return None;
    }
    Some(g)
}

/// A vrrp_instance, and the interface of its deprecated `lvs_sync_daemon_interface`.
pub(super) fn vrrp_instance(
    cx: &mut Cx<'_>,
    node: &Node,
    global: &GlobalDefs,
) -> Option<(VrrpInstance, Option<String>)> {
    let mut sync_daemon_interface = None;
    let name = block_name(cx, node);
    let label = format!("vrrp_instance {}", name.as_deref().unwrap_or("?"));
    let mut vrid = None;
    let mut vrid_given = false;
    let mut version = None;
    let mut advert: Option<(Duration, &Node)> = None;
    let mut auth_type = None;
    let mut auth_pass: Option<String> = None;
    let mut auth_span = node.span();
    let mut lower_prio_no_advert = None;
    let mut higher_prio_send_advert = None;
    let mut skip_check_adv_addr = None;
    let mut strict_mode = None;
    let mut check_unicast_src = None;
    let mut state_given = false;
    let mut priority_given = false;
    let mut garp_lower_prio_repeat_given = false;
    let mut garp_lower_prio_delay_given = false;
    // keepalived's "unicast configured": any unicast keyword, peers or not.
    let mut unicast_keyword = None;
    let mut i = VrrpInstance {
        name: name.clone().unwrap_or_default(),
        span: node.span(),
        state: InitialState::Backup,
        interface: None,
        interface_span: node.span(),
        vrf: None,
        use_vmac: None,
        use_vmac_addr: false,
        vmac_xmit_base: false,
        native_ipv6: false,
        dont_track_primary: false,
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
        track_processes: Vec::new(),
        track_files: Vec::new(),
        src_ip: None,
        mcast_dst_ip: None,
        track_src_ip: false,
        version: global.vrrp_version,
        check_unicast_src: false,
        unicast_peers: Vec::new(),
        unicast_fault_no_peer: false,
        unicast_no_peer_fault: false,
        unicast_ttl: None,
        v3_checksum_as_v2: global.v3_checksum_as_v2,
        old_unicast_checksum: None,
        garp: global.garp,
        down_timer_adverts: global.vrrp_down_timer_adverts,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        virtual_router_id: Vrid::new(1).ok()?,
        priority: Priority::DEFAULT,
        advert_int: AdvertInt::DEFAULT,
        authentication: None,
        virtual_ipaddresses: Vec::new(),
        virtual_ipaddresses_excluded: Vec::new(),
        promote_secondaries: false,
        virtual_routes: Vec::new(),
        virtual_rules: Vec::new(),
        accept: None,
        preempt: true,
        preempt_delay: Duration::ZERO,
        skip_check_adv_addr: false,
        strict_mode: false,
        notify: VrrpNotify::default(),
        notify_priority_changes: None,
        smtp_alert: None,
        debug: None,
        kernel_rx_buf_size: None,
        linkbeat_use_polling: false,
    };
    for n in cx.statements(node, Block::VrrpInstance) {
        match n.name() {
            "garp_lower_prio_repeat" => garp_lower_prio_repeat_given = true,
            "garp_lower_prio_delay" => garp_lower_prio_delay_given = true,
            _ => {}
        }
        if notify_keyword(cx, n, &mut i.notify) || global::garp_keyword(cx, n, &mut i.garp) {
            continue;
        }
        match n.name() {
            "state" => {
                if let Some(t) = cx.one(n, "MASTER or BACKUP") {
                    match t.text.as_str() {
                        "MASTER" => {
                            i.state = InitialState::Master;
                            state_given = true;
                        }
                        "BACKUP" => {
                            i.state = InitialState::Backup;
                            state_given = true;
                        }
                        // keepalived 2.2.7: "unknown state '...', defaulting to BACKUP".
                        _ => {
                            let upper = t.text.to_ascii_uppercase();
                            let hint = matches!(upper.as_str(), "MASTER" | "BACKUP")
                                .then(|| format!("write {upper}"));
                            cx.fallback(n, t, "is not a state", "starts as BACKUP", hint);
                            i.state = InitialState::Backup;
                            state_given = true;
                        }
                    }
                }
            }
            "interface" => {
                i.interface = cx.string(n);
                i.interface_span = n.args.first().map(|t| t.span).unwrap_or(n.keyword.span);
            }
            // Deprecated form of global lvs_sync_daemon IFACE inst THIS_INSTANCE.
            "lvs_sync_daemon_interface" => sync_daemon_interface = cx.string(n),
            "vrf" => i.vrf = cx.string(n),
            "use_vmac" => {
                cx.no_block(n);
                let mut vmac = UseVmac {
                    name: None,
                    mac: None,
                };
                for t in &n.args {
                    // A MAC has ':'-separated hex octets; anything else is the name.
                    if t.text.contains(':') && vmac.mac.is_none() {
                        vmac.mac = Some(t.text.clone());
                    } else if vmac.name.is_none() {
                        vmac.name = Some(t.text.clone());
                    } else {
                        cx.invalid(n, t, "[NAME] [MAC]");
                    }
                }
                i.use_vmac = Some(vmac);
            }
            "use_vmac_addr" => i.use_vmac_addr = cx.flag(n),
            "vmac_xmit_base" => i.vmac_xmit_base = cx.flag(n),
            "native_ipv6" => i.native_ipv6 = cx.flag(n),
            "dont_track_primary" => i.dont_track_primary = cx.flag(n),
            "track_interface" => i.track_interfaces = track_interfaces(cx, n),
            "track_script" => i.track_scripts = track_scripts(cx, n),
            "track_process" => i.track_processes = track_processes(cx, n),
            "track_file" => i.track_files = tracked_files(cx, n),
            "mcast_src_ip" => i.src_ip = cx.plain_ip(n),
            "unicast_src_ip" => {
                unicast_keyword.get_or_insert(n.span());
                i.src_ip = cx.plain_ip(n)
            }
            "mcast_dst_ip" => {
                if let Some(t) = cx.one(n, "a multicast address") {
                    match t.text.parse::<IpAddr>() {
                        Ok(a) if a.is_multicast() => i.mcast_dst_ip = Some(a),
                        _ => cx.invalid(n, t, "a multicast address"),
                    }
                }
            }
            "track_src_ip" => i.track_src_ip = cx.flag(n),
            "version" => version = global::version(cx, n),
            "check_unicast_src" => {
                unicast_keyword.get_or_insert(n.span());
                check_unicast_src = Some(cx.flag(n))
            }
            "unicast_peer" => {
                unicast_keyword.get_or_insert(n.span());
                for p in cx.block(n) {
                    if let Some(peer) = unicast_peer(cx, p) {
                        i.unicast_peers.push(peer);
                    }
                }
            }
            "unicast_fault_no_peer" => {
                unicast_keyword.get_or_insert(n.span());
                i.unicast_fault_no_peer = cx.flag(n)
            }
            "unicast_ttl" => i.unicast_ttl = cx.u8_range(n, 0, 255),
            "v3_checksum_as_v2" => i.v3_checksum_as_v2 = cx.flag(n),
            "old_unicast_checksum" => {
                unicast_keyword.get_or_insert(n.span());
                cx.no_block(n);
                i.old_unicast_checksum = match n.args.first() {
                    None => Some(false),
                    Some(t) if t.text == "never" => Some(true),
                    Some(t) => {
                        cx.invalid(n, t, "nothing or never");
                        None
                    }
                }
            }
            "down_timer_adverts" => {
                if let Some(v) = cx.u8_range(n, 1, 100) {
                    i.down_timer_adverts = v
                }
            }
            "lower_prio_no_advert" => lower_prio_no_advert = Some(cx.flag(n)),
            "higher_prio_send_advert" => higher_prio_send_advert = Some(cx.flag(n)),
            "virtual_router_id" => {
                vrid_given = true;
                if let Some(t) = cx.one(n, "an integer 1..255") {
                    match parse_integer(&t.text).map(Vrid::new) {
                        Some(Ok(v)) => vrid = Some(v),
                        Some(Err(p)) => cx.error(t.span, p),
                        None => cx.invalid(n, t, "an integer 1..255"),
                    }
                }
            }
            "priority" => {
                if let Some(t) = cx.one(n, "an integer 1..255") {
                    match parse_integer(&t.text).map(Priority::new) {
                        Some(Ok(p)) => i.priority = p,
                        // keepalived 2.2.7: "Priority not valid! must be between 1 & 255.
                        // Using default 100", for junk and for out-of-range numbers.
                        _ => {
                            let what = if parse_integer(&t.text).is_some() {
                                "is out of range 1..255"
                            } else {
                                "is not a number"
                            };
                            cx.fallback(
                                n,
                                t,
                                what,
                                &format!("uses the default {}", Priority::DEFAULT.get()),
                                None,
                            );
                            i.priority = Priority::DEFAULT;
                        }
                    }
                    priority_given = true;
                }
            }
            "advert_int" => {
                if let Some(d) = cx.timer(n) {
                    advert = Some((d, n));
                }
            }
            "authentication" => {
                auth_span = n.span();
                for a in cx.statements(n, Block::Authentication) {
                    match a.name() {
                        "auth_type" => {
                            if let Some(t) = cx.one(a, "PASS or AH") {
                                match t.text.as_str() {
                                    "PASS" => auth_type = Some(AuthType::Pass),
                                    "AH" => auth_type = Some(AuthType::Ah),
                                    // keepalived 2.2.7: "(VI_1) unknown authentication
                                    // type 'X'", and the line is ignored.
                                    _ => cx.fallback(
                                        a,
                                        t,
                                        "is not an authentication type (PASS or AH)",
                                        "ignores the line",
                                        None,
                                    ),
                                }
                            }
                        }
                        "auth_pass" => {
                            if let Some(t) = cx.one(a, "a password") {
                                let mut pass = t.text.clone();
                                if pass.len() > 8 {
                                    cx.warning(
                                        t.span,
                                        Problem::AuthPassTruncated {
                                            instance: i.name.clone(),
                                        },
                                    );
                                    let mut cut = 8;
                                    while !pass.is_char_boundary(cut) {
                                        cut -= 1;
                                    }
                                    pass.truncate(cut);
                                }
                                auth_pass = Some(pass);
                            }
                        }
                        _ => cx.unknown(a, "authentication"),
                    }
                }
            }
            "virtual_ipaddress" => {
                for a in cx.block(n) {
                    if let Some(v) = ip_address(cx, a) {
                        i.virtual_ipaddresses.push(v);
                    }
                }
            }
            "virtual_ipaddress_excluded" => {
                for a in cx.block(n) {
                    if let Some(v) = ip_address(cx, a) {
                        i.virtual_ipaddresses_excluded.push(v);
                    }
                }
            }
            "promote_secondaries" => i.promote_secondaries = cx.flag(n),
            "virtual_routes" => {
                for r in cx.block(n) {
                    i.virtual_routes.push(route(cx, r));
                }
            }
            "virtual_rules" => {
                for r in cx.block(n) {
                    i.virtual_rules.push(rule(cx, r));
                }
            }
            "accept" => {
                cx.flag(n);
                i.accept = Some(true)
            }
            "no_accept" => {
                cx.flag(n);
                i.accept = Some(false)
            }
            "nopreempt" | "no_preempt" => {
                cx.flag(n);
                i.preempt = false
            }
            "preempt" => {
                cx.flag(n);
                i.preempt = true
            }
            "preempt_delay" => {
                if let Some(d) = cx.timer(n) {
                    if d > Duration::from_secs(1000) {
                        cx.error(
                            n.span(),
                            Problem::OutOfRange {
                                keyword: "preempt_delay".into(),
                                value: format!("{}", d.as_secs_f64()),
                                min: 0,
                                max: 1000,
                            },
                        );
                    } else {
                        i.preempt_delay = d;
                    }
                }
            }
            "skip_check_adv_addr" => skip_check_adv_addr = Some(cx.flag(n)),
            "strict_mode" => strict_mode = Some(cx.flag(n)),
            "debug" => i.debug = cx.u8_range(n, 0, 4),
            "notify_priority_changes" => i.notify_priority_changes = Some(cx.flag(n)),
            "smtp_alert" => i.smtp_alert = Some(cx.flag(n)),
            "kernel_rx_buf_size" => {
                i.kernel_rx_buf_size = cx.int(n, 0, i64::MAX).and_then(|v| u64::try_from(v).ok())
            }
            "linkbeat_use_polling" => i.linkbeat_use_polling = cx.flag(n),
            // Warned by `statements`.
            k if keywords::not_implemented(Block::VrrpInstance, k) => {}
            _ => cx.unknown(n, "vrrp_instance"),
        }
    }
    let name = name?;
    let Some(vrid) = vrid else {
        if vrid_given {
            return None;
        }
        cx.error(
            node.span(),
            Problem::MissingRequired {
                object: label,
                what: "virtual_router_id".into(),
            },
        );
        return None;
    };
    i.virtual_router_id = vrid;
    i.strict_mode = strict_mode.unwrap_or(global.vrrp_strict);
    // keepalived derives whichever of state and priority is missing from the other:
    // MASTER without a priority is the address owner (255); priority 255 without a
    // state starts as MASTER.
    if !priority_given && i.state == InitialState::Master {
        i.priority = Priority::OWNER;
    }
    if !state_given && i.priority.is_owner() {
        i.state = InitialState::Master;
    }
    let owner_state = if i.priority.is_owner() {
        InitialState::Master
    } else {
        InitialState::Backup
    };
    if i.strict_mode && state_given && i.state != owner_state {
        cx.warning(
            node.span(),
            Problem::InstanceConflict {
                instance: name.clone(),
                reason: format!(
                    "strict mode: state MASTER must match being the address owner \
                     (priority 255); starting as {owner_state:?} (as keepalived does)"
                ),
            },
        );
        i.state = owner_state;
    }
    i.lower_prio_no_advert =
        lower_prio_no_advert.unwrap_or(global.vrrp_lower_prio_no_advert || i.strict_mode);
    i.higher_prio_send_advert =
        higher_prio_send_advert.unwrap_or(global.vrrp_higher_prio_send_advert && !i.strict_mode);
    i.skip_check_adv_addr = skip_check_adv_addr.unwrap_or(global.vrrp_skip_check_adv_addr);
    i.check_unicast_src = check_unicast_src.unwrap_or(global.vrrp_check_unicast_src)
        || i.unicast_peers
            .iter()
            .any(|p| p.min_ttl.is_some() || p.max_ttl.is_some());
    let ipv6 = i.family() == IpFamily::Inet6;
    i.version = match (version, ipv6) {
        // keepalived 2.2.7 sends VRRPv2 over IPv6 when asked (without
        // authentication data); strict mode makes it version 3.
        (Some(VrrpVersion::V2), true) if i.strict_mode => {
            cx.warning(
                node.span(),
                Problem::InstanceConflict {
                    instance: name.clone(),
                    reason: "strict mode: VRRPv2 cannot carry IPv6; using version 3 (as keepalived does)".into(),
                },
            );
            VrrpVersion::V3
        }
        (Some(v), _) => v,
        (None, true) => VrrpVersion::V3,
        (None, false) => global.vrrp_version,
    };
    if let Some((d, n)) = advert {
        let cs = d.as_micros() / 10_000;
        match AdvertInt::from_centiseconds(u64::try_from(cs).unwrap_or(u64::MAX)) {
            Ok(a) => {
                if i.version == VrrpVersion::V2 && a.centiseconds() % 100 != 0 {
                    cx.warning(
                        n.span(),
                        Problem::InstanceConflict {
                            instance: name.clone(),
                            reason: format!(
                                "VRRPv2 advert_int is whole seconds; {} is rounded up to {}",
                                d.as_secs_f64(),
                                a.whole_seconds()
                            ),
                        },
                    );
                }
                i.advert_int = a;
            }
            // keepalived 2.2.7 takes 0.01..255 s: below, "(VI_1) Advert interval (0) not
            // valid! Must be > 0 - ignoring".
            Err(_) if cs == 0 => {
                if let Some(t) = n.args.first() {
                    cx.fallback(
                        n,
                        t,
                        "is below 0.01 s",
                        "ignores the line (1 s unless set before)",
                        None,
                    );
                }
            }
            // Above 40.95 s: keepalived 2.2.7 runs up to 255 s; lvsd's advert_int holds the
            // VRRPv3 12-bit field only.
            Err(p) => cx.error(n.span(), p),
        }
    }
    match (auth_type, auth_pass) {
        (Some(auth_type), Some(pass)) => {
            i.authentication = Some(Authentication {
                auth_type,
                auth_pass: Secret::new(pass),
            })
        }
        (None, None) => {}
        // keepalived ignores an incomplete authentication block (warning when the
        // password is missing); so do we, always with a warning.
        (None, Some(_)) => cx.warning(
            auth_span,
            Problem::MissingRequired {
                object: format!("authentication of {name}"),
                what: "auth_type; it is ignored".into(),
            },
        ),
        (Some(_), None) => cx.warning(
            auth_span,
            Problem::MissingRequired {
                object: format!("authentication of {name}"),
                what: "auth_pass; it is ignored (as keepalived does)".into(),
            },
        ),
    }
    if let Some(span) = unicast_keyword.filter(|_| i.unicast_peers.is_empty()) {
        // keepalived 2.2.7: FAULT with unicast_fault_no_peer, else multicast.
        cx.warning(
            span,
            Problem::InstanceConflict {
                instance: name.clone(),
                reason: if i.unicast_fault_no_peer {
                    "unicast without any unicast_peer: the instance stays in FAULT \
                     (unicast_fault_no_peer, as keepalived)"
                        .into()
                } else {
                    "a unicast keyword without any unicast_peer: multicast is used \
                     (keepalived: deprecated since 2.2.4; add peers or unicast_fault_no_peer)"
                        .into()
                },
            },
        );
        i.unicast_no_peer_fault = i.unicast_fault_no_peer;
    }
    if i.strict_mode {
        let mut repair = |what: &str| {
            cx.warning(
                node.span(),
                Problem::InstanceConflict {
                    instance: name.clone(),
                    reason: format!("strict mode: {what} (as keepalived does)"),
                },
            )
        };
        if i.authentication.take().is_some() {
            repair("authentication is not supported; it is ignored");
        }
        if i.accept == Some(true) && !i.priority.is_owner() && i.version == VrrpVersion::V2 {
            repair("accept mode with VRRPv2 does not comply with RFC 3768; cleared");
            i.accept = Some(false);
        }
        if garp_lower_prio_repeat_given && i.garp.lower_prio_repeat != 0 {
            repair("garp_lower_prio_repeat must be 0; reset");
        }
        if garp_lower_prio_delay_given && !i.garp.lower_prio_delay.is_zero() {
            repair("garp_lower_prio_delay must be 0; reset");
        }
        i.garp.lower_prio_repeat = 0;
        i.garp.lower_prio_delay = Duration::ZERO;
        if !i.lower_prio_no_advert {
            repair("lower_prio_no_advert cannot be cleared; set");
            i.lower_prio_no_advert = true;
        }
        if i.higher_prio_send_advert {
            repair("higher_prio_send_advert must be clear; cleared");
            i.higher_prio_send_advert = false;
        }
        if i.down_timer_adverts != 3 {
            repair("down_timer_adverts must be 3 (RFC 5798); reset");
            i.down_timer_adverts = 3;
        }
        if let Some(u) = i.use_vmac.as_mut() {
            if u.mac.take().is_some() {
                repair("use_vmac takes no MAC address; the RFC's is used");
            }
            if i.vmac_xmit_base {
                repair("vmac_xmit_base is not allowed; adverts go out on the VMAC");
                i.vmac_xmit_base = false;
            }
        }
    }
    if i.authentication.is_some() && i.version == VrrpVersion::V3 {
        cx.warning(
            auth_span,
            Problem::InstanceConflict {
                instance: name.clone(),
                reason: "VRRPv3 has no authentication; it is ignored".into(),
            },
        );
        i.authentication = None;
    }
    i.name = name;
    Some((i, sync_daemon_interface))
}

fn unicast_peer(cx: &mut Cx<'_>, n: &Node) -> Option<UnicastPeer> {
    if let Some(b) = &n.block {
        cx.error(
            b.open,
            Problem::UnexpectedBlock {
                keyword: n.name().into(),
            },
        );
    }
    let address = cx.plain_ip_token(n, &n.keyword)?;
    let mut peer = UnicastPeer {
        address,
        span: n.keyword.span,
        min_ttl: None,
        max_ttl: None,
    };
    let mut args = n.args.iter();
    while let Some(t) = args.next() {
        cx.check_support(Block::UnicastPeerOptions, t);
        let slot = match t.text.as_str() {
            "min_ttl" => &mut peer.min_ttl,
            "max_ttl" => &mut peer.max_ttl,
            _ => {
                cx.invalid(n, t, "min_ttl N or max_ttl N");
                continue;
            }
        };
        match args.next() {
            Some(v) => {
                *slot = cx
                    .int_token(n, v, 0, 255)
                    .and_then(|x| u8::try_from(x).ok())
            }
            None => cx.missing(n, "a TTL 0..255"),
        }
    }
    Some(peer)
}

/// `ADDR[/LEN]` into address and prefix length.
pub(super) fn address_prefix(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

/// One `virtual_ipaddress` / `static_ipaddress` line.
pub(super) fn ip_address(cx: &mut Cx<'_>, n: &Node) -> Option<VirtualIpAddress> {
    if let Some(b) = &n.block {
        cx.error(
            b.open,
            Problem::UnexpectedBlock {
                keyword: n.name().into(),
            },
        );
    }
    let Some((address, prefix_len)) = address_prefix(n.name()) else {
        cx.error_expected(
            n.keyword.span,
            Problem::InvalidValue {
                keyword: "virtual_ipaddress".into(),
                value: n.name().into(),
            },
            "an IP address with optional /prefix",
        );
        return None;
    };
    let mut v = VirtualIpAddress {
        address,
        prefix_len,
        span: n.keyword.span,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        home: false,
        nodad: false,
        mngtmpaddr: false,
        noprefixroute: false,
        autojoin: false,
        no_track: false,
        use_vmac: false,
        preferred_lft: None,
        track_group: None,
    };
    let mut args = n.args.iter();
    while let Some(t) = args.next() {
        cx.check_support(Block::VirtualIpaddressOptions, t);
        let key = t.text.as_str();
        match key {
            "home" => v.home = true,
            "-nodad" | "nodad" => v.nodad = true,
            "mngtmpaddr" => v.mngtmpaddr = true,
            "noprefixroute" => v.noprefixroute = true,
            "autojoin" => v.autojoin = true,
            "no_track" => v.no_track = true,
            "use_vmac" => v.use_vmac = true,
            "brd" | "broadcast" | "dev" | "scope" | "label" | "peer" | "preferred_lft"
            | "track_group" => {
                let Some(val) = args.next() else {
                    cx.error_expected(
                        t.span,
                        Problem::MissingValue {
                            keyword: key.into(),
                        },
                        "a value",
                    );
                    break;
                };
                let tok_node = Node {
                    keyword: t.clone(),
                    args: vec![val.clone()],
                    block: None,
                };
                match key {
                    "brd" | "broadcast" => {
                        v.broadcast = match val.text.as_str() {
                            "+" => Some(Broadcast::SetHostBits),
                            "-" => Some(Broadcast::ClearHostBits),
                            s => match s.parse() {
                                Ok(a) => Some(Broadcast::Address(a)),
                                Err(_) => {
                                    cx.invalid(&tok_node, val, "an IPv4 address, + or -");
                                    None
                                }
                            },
                        }
                    }
                    "dev" => v.dev = Some(val.text.clone()),
                    "scope" => match Scope::parse(&val.text) {
                        Some(s) => v.scope = Some(s),
                        None => cx.invalid(&tok_node, val, "site, link, host, nowhere or global"),
                    },
                    "label" => v.label = Some(val.text.clone()),
                    "peer" => v.peer = cx.ip_token(&tok_node, val),
                    "preferred_lft" => {
                        v.preferred_lft = match val.text.as_str() {
                            "forever" => Some(None),
                            s => match s.parse::<u32>() {
                                Ok(x) => Some(Some(x)),
                                Err(_) => {
                                    cx.invalid(&tok_node, val, "seconds or forever");
                                    None
                                }
                            },
                        }
                    }
                    _ => v.track_group = Some(val.text.clone()),
                }
            }
            _ => cx.error_expected(
                t.span,
                Problem::InvalidValue {
                    keyword: "virtual_ipaddress".into(),
                    value: t.text.clone(),
                },
                "brd, dev, scope, label, peer, home, -nodad, mngtmpaddr, noprefixroute, autojoin, no_track, use_vmac or preferred_lft",
            ),
        }
    }
    Some(v)
}

/// keepalived 2.2.7's route types (`rtntypes` in lib/rttables.c).
const ROUTE_TYPES: [&str; 12] = [
    "unicast",
    "local",
    "broadcast",
    "brd",
    "xresolve",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
];

/// One `virtual_routes` / `static_routes` line (ip route syntax).
pub(super) fn route(cx: &mut Cx<'_>, n: &Node) -> VirtualRoute {
    cx.no_block(n);
    let mut r = VirtualRoute {
        span: n.span(),
        route_type: None,
        destination: String::new(),
        src: None,
        via: Vec::new(),
        dev: None,
        scope: None,
        table: None,
        metric: None,
        no_track: false,
        track_group: None,
        options: Vec::new(),
    };
    let words: Vec<_> = std::iter::once(&n.keyword).chain(n.args.iter()).collect();
    let mut k = 0;
    while let Some(t) = words.get(k) {
        let next = words.get(k + 1);
        let key = t.text.as_str();
        cx.check_support(Block::VirtualRoutesOptions, t);
        let takes_value = matches!(
            key,
            "src"
                | "to"
                | "via"
                | "gw"
                | "or"
                | "dev"
                | "oif"
                | "scope"
                | "table"
                | "metric"
                | "priority"
                | "preference"
                | "track_group"
        );
        if takes_value {
            let Some(v) = next else {
                cx.error_expected(
                    t.span,
                    Problem::MissingValue {
                        keyword: key.into(),
                    },
                    "a value",
                );
                break;
            };
            let node = Node {
                keyword: (*t).clone(),
                args: vec![(*v).clone()],
                block: None,
            };
            match key {
                "src" => r.src = cx.ip_token(&node, v),
                "to" => r.destination = v.text.clone(),
                "via" | "gw" | "or" => {
                    // `via inet6 ADDR`
                    let (v, skip) = if matches!(v.text.as_str(), "inet" | "inet6") {
                        match words.get(k + 2) {
                            Some(a) => (*a, 1),
                            None => (*v, 0),
                        }
                    } else {
                        (*v, 0)
                    };
                    if let Some(a) = cx.ip_token(&node, v) {
                        r.via.push(a);
                    }
                    k += skip;
                }
                "dev" | "oif" => r.dev = Some(v.text.clone()),
                "scope" => match Scope::parse(&v.text) {
                    Some(s) => r.scope = Some(s),
                    None => cx.invalid(&node, v, "site, link, host, nowhere or global"),
                },
                "table" => r.table = Some(v.text.clone()),
                "track_group" => r.track_group = Some(v.text.clone()),
                _ => match v.text.parse::<u32>() {
                    Ok(m) => r.metric = Some(m),
                    Err(_) => cx.invalid(&node, v, "an integer"),
                },
            }
            k += 2;
            continue;
        }
        if key == "no_track" {
            r.no_track = true;
        } else if r.destination.is_empty() && r.route_type.is_none() && ROUTE_TYPES.contains(&key) {
            r.route_type = Some(key.to_string());
        } else if r.destination.is_empty() && (key == "default" || address_prefix(key).is_some()) {
            r.destination = key.to_string();
        } else {
            r.options.push(key.to_string());
        }
        k += 1;
    }
    if r.destination.is_empty() {
        cx.error_expected(
            n.keyword.span,
            Problem::InvalidValue {
                keyword: "route".into(),
                value: n.name().into(),
            },
            "a destination ADDRESS[/PREFIX] or default",
        );
    }
    r
}

/// One `virtual_rules` / `static_rules` line (ip rule syntax).
pub(super) fn rule(cx: &mut Cx<'_>, n: &Node) -> VirtualRule {
    cx.no_block(n);
    let mut r = VirtualRule {
        span: n.span(),
        from: None,
        to: None,
        table: None,
        preference: None,
        no_track: false,
        track_group: None,
        options: Vec::new(),
    };
    let words: Vec<_> = std::iter::once(&n.keyword).chain(n.args.iter()).collect();
    let mut k = 0;
    while let Some(t) = words.get(k) {
        cx.check_support(Block::VirtualRulesOptions, t);
        let key = t.text.as_str();
        let next = words.get(k + 1).map(|v| v.text.clone());
        let slot = match key {
            "from" => Some(&mut r.from),
            "to" => Some(&mut r.to),
            "table" | "lookup" => Some(&mut r.table),
            "track_group" => Some(&mut r.track_group),
            _ => None,
        };
        if let Some(slot) = slot {
            match next {
                Some(v) => *slot = Some(v),
                None => cx.error_expected(
                    t.span,
                    Problem::MissingValue {
                        keyword: key.into(),
                    },
                    "a value",
                ),
            }
            k += 2;
            continue;
        }
        match key {
            "preference" | "priority" | "pref" | "order" => {
                match next.as_deref().map(str::parse::<u32>) {
                    Some(Ok(p)) => r.preference = Some(p),
                    _ => cx.error_expected(
                        t.span,
                        Problem::MissingValue {
                            keyword: key.into(),
                        },
                        "an integer preference",
                    ),
                }
                k += 2;
            }
            "no_track" => {
                r.no_track = true;
                k += 1;
            }
            _ => {
                r.options.push(key.to_string());
                k += 1;
            }
        }
    }
    r
}
