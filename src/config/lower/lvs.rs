//! `virtual_server_group`, `virtual_server`, `real_server`, checkers, `SSL`.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use super::super::diag::Problem;
use super::super::keywords::{self, Block};
use super::super::model::{
    Checker, CheckerCommon, DnsCheck, FileCheck, ForwardingMethod, HexBytes, HttpCheck,
    HttpProtocol, IpFamily, LbAlgo, LbKind, Md5Digest, MiscCheck, RealServer, SchedulerFlags,
    ScriptCommand, Secret, SmtpCheck, SorryServer, SslSettings, StatusRange, TunnelChecksum,
    TunnelType, UdpCheck, UrlCheck, VirtualServer, VirtualServerGroup, VirtualServerKey, VsgMember,
    Weight,
};
use super::super::tree::Node;
use super::{parse_integer, Cx};
use checkers::{BodyRegex, RegexFlags, RegexOptionKind};

/// keepalived's defaults.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;
/// The longest persistence_timeout keepalived 2.2.7 takes (`LVS_MAX_TIMEOUT`, 31 days).
pub const MAX_PERSISTENCE_TIMEOUT: u32 = 86400 * 31;

pub(super) fn ssl(cx: &mut Cx<'_>, node: &Node) -> SslSettings {
    let mut s = SslSettings::default();
    for n in cx.statements(node, Block::Ssl) {
        match n.name() {
            "password" => s.password = cx.string(n).map(Secret::new),
            "ca" => s.ca = cx.string(n),
            "certificate" => s.certificate = cx.string(n),
            "key" => s.key = cx.string(n),
            _ => cx.unknown(n, "SSL"),
        }
    }
    s
}

/// `A.B.C.D-E`, `A.B.C.D-E.F.G.H`, `A.B.C.D/NN` (and IPv6 forms) into first..=last.
fn address_range(text: &str) -> Option<(IpAddr, IpAddr)> {
    if let Some((a, b)) = text.split_once('-') {
        let first: IpAddr = a.parse().ok()?;
        if let Ok(last) = b.parse::<IpAddr>() {
            return (first.is_ipv4() == last.is_ipv4() && last >= first).then_some((first, last));
        }
        let last = match first {
            IpAddr::V4(v4) => {
                let mut o = v4.octets();
                o[3] = b.parse::<u8>().ok()?;
                IpAddr::from(o)
            }
            IpAddr::V6(v6) => {
                let mut s = v6.segments();
                s[7] = u16::from_str_radix(b, 16).ok()?;
                IpAddr::from(s)
            }
        };
        return (last >= first).then_some((first, last));
    }
    if let Some((a, l)) = text.split_once('/') {
        let addr: IpAddr = a.parse().ok()?;
        let len: u32 = l.parse().ok()?;
        return match addr {
            IpAddr::V4(v4) if len <= 32 => {
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                let base = u32::from(v4) & mask;
                Some((
                    IpAddr::from(std::net::Ipv4Addr::from(base)),
                    IpAddr::from(std::net::Ipv4Addr::from(base | !mask)),
                ))
            }
            IpAddr::V6(v6) if len <= 128 => {
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                let base = u128::from(v6) & mask;
                Some((
                    IpAddr::from(std::net::Ipv6Addr::from(base)),
                    IpAddr::from(std::net::Ipv6Addr::from(base | !mask)),
                ))
            }
            _ => None,
        };
    }
    let a: IpAddr = text.parse().ok()?;
    Some((a, a))
}

pub(super) fn virtual_server_group(cx: &mut Cx<'_>, node: &Node) -> Option<VirtualServerGroup> {
    let name = match node.args.first() {
        Some(t) => t.text.clone(),
        None => {
            cx.missing(node, "a group name");
            return None;
        }
    };
    cx.extra(node, 1);
    let mut g = VirtualServerGroup {
        name,
        span: node.span(),
        members: Vec::new(),
    };
    for n in cx.block(node) {
        cx.no_block(n);
        if n.name() == "fwmark" {
            let Some(t) = n.args.first() else {
                cx.missing(n, "a firewall mark");
                continue;
            };
            let Some(mark) = cx
                .int_token(n, t, 1, i64::from(u32::MAX))
                .and_then(|v| u32::try_from(v).ok())
            else {
                continue;
            };
            let family = match n.args.get(1).map(|t| t.text.as_str()) {
                None => None,
                Some("inet") => Some(IpFamily::Inet),
                Some("inet6") => Some(IpFamily::Inet6),
                Some(_) => {
                    if let Some(t) = n.args.get(1) {
                        cx.invalid(n, t, "inet or inet6");
                    }
                    None
                }
            };
            cx.extra(n, 2);
            g.members.push(VsgMember::Fwmark {
                mark,
                family,
                span: n.span(),
            });
            continue;
        }
        let Some((first, last)) = address_range(n.name()) else {
            cx.error_expected(
                n.keyword.span,
                Problem::InvalidValue {
                    keyword: "virtual_server_group".into(),
                    value: n.name().into(),
                },
                "IP[-LAST] [PORT], IP/LEN [PORT] or fwmark N",
            );
            continue;
        };
        let port = match n.args.first() {
            Some(p) => cx.port_token(n, p),
            None => None,
        };
        cx.extra(n, 1);
        g.members.push(VsgMember::Range {
            first,
            last,
            port,
            span: n.span(),
        });
    }
    Some(g)
}

fn lvs_method(cx: &mut Cx<'_>, n: &Node) -> Option<ForwardingMethod> {
    cx.no_block(n);
    let mut args = n.args.iter();
    let Some(kind_tok) = args.next() else {
        cx.missing(n, "NAT, DR or TUN");
        return None;
    };
    let Some(kind) = LbKind::parse(&kind_tok.text) else {
        // keepalived 2.2.7: "PARSER : unknown [dr] routing method for virtual server.",
        // and the line is ignored: NAT unless a method was set before.
        let hint = LbKind::parse(&kind_tok.text.to_ascii_uppercase())
            .map(|_| format!("write {}", kind_tok.text.to_ascii_uppercase()));
        cx.fallback(
            n,
            kind_tok,
            "is not a forwarding method (NAT, DR or TUN)",
            "ignores the line and uses NAT unless a method was set before",
            hint,
        );
        return None;
    };
    let mut m = ForwardingMethod {
        kind,
        tunnel: None,
        tunnel_checksum: None,
    };
    if kind == LbKind::Tun {
        m.tunnel = Some(TunnelType::Ipip);
    }
    while let Some(t) = args.next() {
        if kind != LbKind::Tun {
            cx.extra(n, 1);
            break;
        }
        match t.text.as_str() {
            "type" => match args.next().map(|t| (t, t.text.as_str())) {
                Some((_, "ipip")) => m.tunnel = Some(TunnelType::Ipip),
                Some((_, "gre")) => m.tunnel = Some(TunnelType::Gre),
                Some((g, "gue")) => {
                    let port = match (args.next(), args.next()) {
                        (Some(p), Some(v)) if p.text == "port" => cx
                            .int_token(n, v, 1, 65535)
                            .and_then(|x| u16::try_from(x).ok()),
                        _ => {
                            cx.invalid(n, g, "gue port NUM");
                            None
                        }
                    };
                    m.tunnel = port.map(|port| TunnelType::Gue { port });
                }
                Some((t, _)) => cx.invalid(n, t, "ipip, gue port NUM or gre"),
                None => cx.missing(n, "a tunnel type"),
            },
            "nocsum" => m.tunnel_checksum = Some(TunnelChecksum::Nocsum),
            "csum" => m.tunnel_checksum = Some(TunnelChecksum::Csum),
            "remcsum" => m.tunnel_checksum = Some(TunnelChecksum::Remcsum),
            _ => cx.invalid(n, t, "type ..., nocsum, csum or remcsum"),
        }
    }
    Some(m)
}

/// Options shared by virtual servers, real servers and checkers (`None` = inherit).
#[derive(Debug, Clone, Default)]
struct Inherited {
    connect_timeout: Option<Duration>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    delay_loop: Option<Duration>,
    alpha: Option<bool>,
    virtualhost: Option<String>,
}

impl Inherited {
    /// Lowers one of the shared keywords into `self`; `false` if `n` is not one.
    fn keyword(&mut self, cx: &mut Cx<'_>, n: &Node) -> bool {
        match n.name() {
            "connect_timeout" => {
                if let Some(t) = cx.timer(n) {
                    self.connect_timeout = Some(t)
                }
            }
            "retry" | "nb_get_retry" => self.retry = cx.u32(n).or(self.retry),
            "delay_before_retry" => {
                if let Some(t) = cx.timer(n) {
                    self.delay_before_retry = Some(t)
                }
            }
            "warmup" => {
                if let Some(t) = cx.timer(n) {
                    self.warmup = Some(t)
                }
            }
            "delay_loop" => {
                if let Some(t) = cx.timer(n) {
                    if t.is_zero() {
                        cx.error(
                            n.span(),
                            Problem::OutOfRange {
                                keyword: "delay_loop".into(),
                                value: "0".into(),
                                min: 1,
                                max: i64::from(u32::MAX),
                            },
                        );
                    } else {
                        self.delay_loop = Some(t)
                    }
                }
            }
            "alpha" => self.alpha = Some(cx.flag(n)),
            _ => return false,
        }
        true
    }

    /// `self` where set, else `parent`.
    fn over(&self, parent: &Inherited) -> Inherited {
        Inherited {
            connect_timeout: self.connect_timeout.or(parent.connect_timeout),
            retry: self.retry.or(parent.retry),
            delay_before_retry: self.delay_before_retry.or(parent.delay_before_retry),
            warmup: self.warmup.or(parent.warmup),
            delay_loop: self.delay_loop.or(parent.delay_loop),
            alpha: self.alpha.or(parent.alpha),
            virtualhost: self.virtualhost.clone().or(parent.virtualhost.clone()),
        }
    }
}

fn parse_key(cx: &mut Cx<'_>, node: &Node) -> Option<VirtualServerKey> {
    let expected = "IP [PORT], fwmark N or group NAME";
    let Some(first) = node.args.first() else {
        cx.missing(node, expected);
        return None;
    };
    match first.text.as_str() {
        "fwmark" => {
            let Some(t) = node.args.get(1) else {
                cx.missing(node, "a firewall mark after fwmark");
                return None;
            };
            cx.extra(node, 2);
            cx.int_token(node, t, 1, i64::from(u32::MAX))
                .and_then(|v| u32::try_from(v).ok())
                .map(VirtualServerKey::Fwmark)
        }
        "group" => {
            let Some(t) = node.args.get(1) else {
                cx.missing(node, "a virtual_server_group name after group");
                return None;
            };
            cx.extra(node, 2);
            Some(VirtualServerKey::Group(t.text.clone()))
        }
        _ => {
            let ip = cx.plain_ip_token(node, first)?;
            let port = match node.args.get(1) {
                Some(p) => Some(cx.port_token(node, p)?),
                None => None,
            };
            cx.extra(node, 2);
            Some(VirtualServerKey::Address { ip, port })
        }
    }
}

pub(super) fn virtual_server(cx: &mut Cx<'_>, node: &Node) -> Option<VirtualServer> {
    let key = parse_key(cx, node);
    let mut inherited = Inherited::default();
    let mut vs = VirtualServer {
        key: VirtualServerKey::Fwmark(0),
        span: node.span(),
        lb_algo: LbAlgo::default(),
        scheduler_flags: SchedulerFlags::default(),
        method: ForwardingMethod::default(),
        persistence_engine: None,
        persistence_timeout: None,
        persistence_granularity: None,
        protocol: Default::default(),
        protocol_explicit: false,
        ha_suspend: false,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        weight: None,
        alpha: false,
        omega: false,
        announce: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        ip_family: None,
        sorry_server: None,
        delay_loop: DEFAULT_DELAY_LOOP,
        connect_timeout: None,
        retry: None,
        delay_before_retry: None,
        warmup: None,
        inhibit_on_failure: false,
        real_servers: Vec::new(),
    };
    let mut sorry: Option<(IpAddr, Option<u16>)> = None;
    let mut sorry_inhibit = false;
    let mut sorry_method = None;
    let block = cx.statements(node, Block::VirtualServer);
    // Scalars first: real servers inherit from them wherever they are written.
    for n in block {
        if n.name() == "real_server" || inherited.keyword(cx, n) {
            continue;
        }
        match n.name() {
            "lb_algo" | "lvs_sched" => {
                if let Some(t) = cx.one(n, "a scheduler") {
                    match LbAlgo::parse(&t.text) {
                        Some(a) => vs.lb_algo = a,
                        // keepalived 2.2.7: "Invalid lvs_scheduler '...' - ignoring".
                        None => {
                            let lower = t.text.to_ascii_lowercase();
                            let hint = LbAlgo::parse(&lower).map(|a| format!("write {}", a.name()));
                            cx.fallback(
                                n,
                                t,
                                "is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh or twos)",
                                &format!(
                                    "ignores the line and uses {} unless a scheduler was set before",
                                    LbAlgo::default().name()
                                ),
                                hint,
                            )
                        }
                    }
                }
            }
            "lb_kind" | "lvs_method" => {
                if let Some(m) = lvs_method(cx, n) {
                    vs.method = m
                }
            }
            "flag-1" => vs.scheduler_flags.flag_1 = cx.flag(n),
            "flag-2" => vs.scheduler_flags.flag_2 = cx.flag(n),
            "flag-3" => vs.scheduler_flags.flag_3 = cx.flag(n),
            "sh-port" | "mh-port" => vs.scheduler_flags.port = cx.flag(n),
            "sh-fallback" | "mh-fallback" => vs.scheduler_flags.fallback = cx.flag(n),
            "ops" => vs.scheduler_flags.ops = cx.flag(n),
            "hashed" => vs.scheduler_flags.hashed = cx.flag(n),
            // keepalived 2.2.7: read_unsigned_strvec(.., 1, IPVS_WEIGHT_LIMIT, true),
            // "Virtual server weight X is outside range 1-2147483647" and the line ignored.
            "weight" => {
                if let Some(t) = cx.one(n, "an integer 1..2147483647") {
                    let read = cx.keepalived_run_unsigned(
                        n,
                        t,
                        (1, u64::from(Weight::MAX)),
                        "ignores the line",
                    );
                    if let Some(w) = read.and_then(|v| u32::try_from(v).ok()) {
                        vs.weight = Some(w);
                    }
                }
            }
            "persistence_engine" => vs.persistence_engine = cx.string(n),
            "persistence_timeout" => {
                cx.no_block(n);
                vs.persistence_timeout = match n.args.first() {
                    None => Some(DEFAULT_PERSISTENCE_TIMEOUT),
                    Some(t) => {
                        cx.extra(n, 1);
                        // keepalived 2.2.7 reads 1..LVS_MAX_TIMEOUT (31 days); anything
                        // else is "persistence_timeout invalid" and the line is ignored.
                        match parse_integer(&t.text).and_then(|v| u32::try_from(v).ok()) {
                            Some(v) if (1..=MAX_PERSISTENCE_TIMEOUT).contains(&v) => Some(v),
                            _ => {
                                cx.fallback(
                                    n,
                                    t,
                                    &format!("is not a timeout 1..{MAX_PERSISTENCE_TIMEOUT}"),
                                    "ignores the line (the service is not persistent unless set before)",
                                    None,
                                );
                                vs.persistence_timeout
                            }
                        }
                    }
                }
            }
            "persistence_granularity" => vs.persistence_granularity = cx.string(n),
            "protocol" => {
                if let Some(t) = cx.one(n, "TCP, UDP or SCTP") {
                    match super::super::model::Protocol::parse(&t.text) {
                        Some(p) => {
                            vs.protocol = p;
                            vs.protocol_explicit = true;
                        }
                        // keepalived 2.2.7: "Unknown protocol X - ignoring".
                        None => cx.fallback(
                            n,
                            t,
                            "is not a protocol (TCP, UDP or SCTP)",
                            "ignores the line",
                            None,
                        ),
                    }
                }
            }
            "ha_suspend" => vs.ha_suspend = cx.flag(n),
            "smtp_alert" => vs.smtp_alert = Some(cx.flag(n)),
            "virtualhost" => {
                vs.virtualhost = cx.string(n);
                inherited.virtualhost = vs.virtualhost.clone();
            }
            "snmp_name" => vs.snmp_name = cx.string(n),
            "omega" => vs.omega = cx.flag(n),
            // lvsd's own (issue #17); keepalived warns "Unknown keyword".
            "announce" => vs.announce = cx.flag(n),
            // keepalived 2.2.7: "Quorum X must be in [1, 4294967295]. Setting to 1."
            "quorum" => {
                if let Some(t) = cx.one(n, "an integer 1..4294967295") {
                    vs.quorum = cx
                        .keepalived_run_unsigned(n, t, (1, u64::from(u32::MAX)), "uses 1")
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(1);
                }
            }
            "hysteresis" => {
                if let Some(v) = keepalived_run_u32(cx, n, "ignores the line") {
                    vs.hysteresis = v
                }
            }
            "quorum_up" => vs.quorum_up = cx.script(n),
            "quorum_down" => vs.quorum_down = cx.script(n),
            "ip_family" => {
                if let Some(t) = cx.one(n, "inet or inet6") {
                    match t.text.as_str() {
                        "inet" => vs.ip_family = Some(IpFamily::Inet),
                        "inet6" => vs.ip_family = Some(IpFamily::Inet6),
                        _ => cx.invalid(n, t, "inet or inet6"),
                    }
                }
            }
            "sorry_server" => {
                cx.no_block(n);
                match n.args.first() {
                    None => cx.missing(n, "IP [PORT]"),
                    Some(a) => {
                        if let Some(ip) = cx.plain_ip_token(n, a) {
                            let port = n.args.get(1).and_then(|p| cx.port_token(n, p));
                            cx.extra(n, 2);
                            sorry = Some((ip, port));
                        }
                    }
                }
            }
            "sorry_server_inhibit" => sorry_inhibit = cx.flag(n),
            "sorry_server_lvs_method" => sorry_method = lvs_method(cx, n),
            "inhibit_on_failure" => vs.inhibit_on_failure = cx.flag(n),
            // Warned by `statements`.
            k if keywords::not_implemented(Block::VirtualServer, k) => {}
            _ => cx.unknown(n, "virtual_server"),
        }
    }
    vs.alpha = inherited.alpha.unwrap_or(false);
    vs.delay_loop = inherited.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    vs.connect_timeout = inherited.connect_timeout;
    vs.retry = inherited.retry;
    vs.delay_before_retry = inherited.delay_before_retry;
    vs.warmup = inherited.warmup;
    if let Some((address, port)) = sorry {
        vs.sorry_server = Some(SorryServer {
            address,
            port: port.or(vs.port_of(&key)),
            inhibit: sorry_inhibit,
            method: sorry_method.unwrap_or(vs.method),
        });
    }
    // Sized up front: 100 real servers must not regrow (and copy) the vector 6 times.
    vs.real_servers
        .reserve_exact(block.iter().filter(|n| n.name() == "real_server").count());
    for n in block.iter().filter(|n| n.name() == "real_server") {
        if let Some(rs) = real_server(cx, n, &vs, &key, &inherited) {
            vs.real_servers.push(rs);
        }
    }
    vs.key = key?;
    Some(vs)
}

/// A number 0..=u32::MAX as keepalived 2.2.7's running daemon reads it
/// (`read_unsigned_strvec(.., 0, UINT_MAX, true)`); `otherwise`: what it does with one
/// out of range.
fn keepalived_run_u32(cx: &mut Cx<'_>, n: &Node, otherwise: &str) -> Option<u32> {
    let t = cx.one(n, "an integer 0..4294967295")?;
    cx.keepalived_run_unsigned(n, t, (0, u64::from(u32::MAX)), otherwise)
        .and_then(|v| u32::try_from(v).ok())
}

impl VirtualServer {
    fn port_of(&self, key: &Option<VirtualServerKey>) -> Option<u16> {
        match key {
            Some(VirtualServerKey::Address { port, .. }) => *port,
            _ => None,
        }
    }
}

fn real_server(
    cx: &mut Cx<'_>,
    node: &Node,
    vs: &VirtualServer,
    key: &Option<VirtualServerKey>,
    vs_inherited: &Inherited,
) -> Option<RealServer> {
    let address = match node.args.first() {
        Some(t) => cx.plain_ip_token(node, t),
        None => {
            cx.missing(node, "IP [PORT]");
            None
        }
    };
    let port = match node.args.get(1) {
        Some(p) => cx.port_token(node, p),
        None => vs.port_of(key),
    };
    cx.extra(node, 2);
    let mut own = Inherited::default();
    let mut rs = RealServer {
        address: address.unwrap_or(IpAddr::from([0, 0, 0, 0])),
        port,
        span: node.span(),
        // A virtual server's `weight` is its real servers' default, as in keepalived.
        weight: vs
            .weight
            .and_then(|w| Weight::new(i64::from(w)).ok())
            .unwrap_or_default(),
        method: vs.method,
        notify_up: None,
        notify_down: None,
        uthreshold: None,
        lthreshold: None,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        alpha: false,
        inhibit_on_failure: vs.inhibit_on_failure,
        delay_loop: vs.delay_loop,
        checkers: Vec::new(),
        file_checks: Vec::new(),
    };
    let block = cx.statements(node, Block::RealServer);
    for n in block {
        if is_checker(n.name()) || own.keyword(cx, n) {
            continue;
        }
        match n.name() {
            // keepalived 2.2.7: read_unsigned_strvec(.., 0, IPVS_WEIGHT_MAX, true).
            "weight" => {
                let range = format!("an integer 0..{}", Weight::MAX);
                if let Some(t) = cx.one(n, &range) {
                    let read = cx.keepalived_run_unsigned(
                        n,
                        t,
                        (0, u64::from(Weight::MAX)),
                        "ignores the line",
                    );
                    if let Some(w) = read
                        .and_then(|v| i64::try_from(v).ok())
                        .and_then(|v| Weight::new(v).ok())
                    {
                        rs.weight = w;
                    }
                }
            }
            // keepalived 2.2.7 takes lb_kind in a virtual_server only: in a real_server
            // it is an unknown keyword and the server keeps the virtual server's method.
            "lvs_method" => {
                if let Some(m) = lvs_method(cx, n) {
                    rs.method = m
                }
            }
            "notify_up" => rs.notify_up = cx.script(n).map(Box::new),
            "notify_down" => rs.notify_down = cx.script(n).map(Box::new),
            "uthreshold" => {
                rs.uthreshold = keepalived_run_u32(cx, n, "ignores the line").or(rs.uthreshold)
            }
            "lthreshold" => {
                rs.lthreshold = keepalived_run_u32(cx, n, "ignores the line").or(rs.lthreshold)
            }
            "smtp_alert" => rs.smtp_alert = Some(cx.flag(n)),
            "virtualhost" => own.virtualhost = cx.string(n),
            "snmp_name" => rs.snmp_name = cx.string(n),
            "inhibit_on_failure" => rs.inhibit_on_failure = cx.flag(n),
            _ => cx.unknown(n, "real_server"),
        }
    }
    let eff = own.over(vs_inherited);
    rs.virtualhost = eff.virtualhost.clone();
    rs.alpha = eff.alpha.unwrap_or(false);
    rs.delay_loop = eff.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    // Exact: a first push would reserve room for 4 checkers (~1 KB per real server).
    rs.checkers
        .reserve_exact(block.iter().filter(|n| is_checker(n.name())).count());
    for n in block.iter().filter(|n| is_checker(n.name())) {
        if n.name() == "FILE_CHECK" {
            rs.file_checks.extend(file_check(cx, n));
            continue;
        }
        // Warned by `statements`.
        if keywords::not_implemented(Block::RealServer, n.name()) {
            continue;
        }
        if let Some(c) = checker(cx, n, &eff) {
            rs.checkers.push(c);
        }
    }
    address?;
    Some(rs)
}

fn is_checker(name: &str) -> bool {
    matches!(
        name,
        "TCP_CHECK"
            | "HTTP_GET"
            | "SSL_GET"
            | "MISC_CHECK"
            | "PING_CHECK"
            | "UDP_CHECK"
            | "SMTP_CHECK"
            | "DNS_CHECK"
            | "FILE_CHECK"
    ) || name == "BFD_CHECK"
}

/// `FILE_CHECK { track_file NAME  weight W [reverse|noreverse] }`. Without a
/// track_file it is ignored with a warning, as keepalived ignores it.
fn file_check(cx: &mut Cx<'_>, node: &Node) -> Option<FileCheck> {
    cx.extra(node, 0);
    let mut check = FileCheck {
        track_file: String::new(),
        span: node.span(),
        weight: None,
        reverse: false,
    };
    for n in cx.statements(node, Block::FileCheck) {
        match n.name() {
            "track_file" => {
                if let Some(name) = cx.string(n) {
                    check.track_file = name;
                    check.span = n.span();
                }
            }
            "weight" => {
                let (w, r) = cx.weight_and_reverse(n, i64::from(i32::MAX), true);
                check.weight = w.and_then(|w| i32::try_from(w).ok());
                check.reverse = r.unwrap_or(false);
            }
            _ => cx.unknown(n, "FILE_CHECK"),
        }
    }
    if check.track_file.is_empty() {
        cx.warning(
            node.keyword.span,
            Problem::MissingRequired {
                object: "FILE_CHECK (ignored)".into(),
                what: "track_file".into(),
            },
        );
        return None;
    }
    Some(check)
}

fn checker(cx: &mut Cx<'_>, node: &Node, parent: &Inherited) -> Option<Checker> {
    let kind = node.name();
    let http = matches!(kind, "HTTP_GET" | "SSL_GET");
    let misc = kind == "MISC_CHECK";
    let udp = kind == "UDP_CHECK";
    let smtp = kind == "SMTP_CHECK";
    let dns = kind == "DNS_CHECK";
    if !node.args.is_empty() {
        cx.extra(node, 0);
    }
    let mut own = Inherited::default();
    let mut common = CheckerCommon {
        connect_ip: None,
        connect_port: None,
        bindto: None,
        bind_if: None,
        bind_port: None,
        fwmark: None,
        alpha: false,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        retry: 1,
        delay_before_retry: Duration::from_secs(1),
        warmup: None,
        delay_loop: DEFAULT_DELAY_LOOP,
        log_all_failures: None,
    };
    let mut http_check = HttpCheck {
        common: common.clone(),
        http_protocol: HttpProtocol::default(),
        fast_recovery: false,
        virtualhost: None,
        urls: Vec::new(),
        enable_sni: false,
    };
    let mut misc_path: Option<String> = None;
    let mut misc_user: Option<(String, Option<String>)> = None;
    let mut misc_timeout = None;
    let mut misc_dynamic = false;
    let mut url_nodes = Vec::new();
    let mut udp_check = UdpCheck {
        common: common.clone(),
        payload: None,
        require_reply: false,
        reply: None,
        min_reply_length: 0,
        max_reply_length: 255,
    };
    let mut conn = ConnectionOptions::default();
    let mut udp_lengths_span = None;
    let mut helo_name = None;
    let mut smtp_hosts = Vec::new();
    let mut dns_type = 6; // SOA
    let mut dns_name = ".".to_string();
    let context = kind.to_string();
    let statements = match Block::of_checker(kind) {
        Some(block) => cx.statements(node, block),
        None => cx.block(node),
    };
    for n in statements {
        if own.keyword(cx, n) {
            continue;
        }
        match n.name() {
            "log_all_failures" => common.log_all_failures = Some(cx.flag(n)),
            _ if !misc && conn.keyword(cx, n) => {}
            "http_protocol" if http => {
                if let Some(t) = cx.one(n, "1.0, 1.0C or 1.1") {
                    match t.text.as_str() {
                        "1.0" => http_check.http_protocol = HttpProtocol::Http10,
                        "1.0C" | "1.0c" => http_check.http_protocol = HttpProtocol::Http10Close,
                        "1.1" => http_check.http_protocol = HttpProtocol::Http11,
                        _ => cx.invalid(n, t, "1.0, 1.0C or 1.1"),
                    }
                }
            }
            "fast_recovery" if http => http_check.fast_recovery = cx.flag(n),
            "virtualhost" if http => http_check.virtualhost = cx.string(n),
            "url" if http => url_nodes.push(n),
            // keepalived 2.2.7 also accepts it in HTTP_GET, where it has no effect.
            "enable_sni" => http_check.enable_sni = cx.flag(n),
            "misc_path" if misc => misc_path = cx.rest(n, "a script path or quoted command line"),
            "misc_timeout" if misc => misc_timeout = cx.timer(n),
            "misc_dynamic" if misc => misc_dynamic = cx.flag(n),
            "user" if misc => {
                if let Some(s) = cx.script(n) {
                    cx.extra(n, 2);
                    misc_user = Some((s.command, s.user));
                }
            }
            "type" if dns => {
                if let Some(t) = cx.one(n, "a query type") {
                    match checkers::dns::query_type(&t.text) {
                        Some(q) => dns_type = q,
                        // keepalived 2.2.7: "Unknown DNS check type X - ignoring".
                        None => cx.fallback(
                            n,
                            t,
                            "is not a query type (A, NS, CNAME, SOA, MX, TXT or AAAA)",
                            "ignores the line (SOA unless a type was set before)",
                            None,
                        ),
                    }
                }
            }
            "name" if dns => {
                if let Some(t) = cx.one(n, "a domain name") {
                    match checkers::dns::name_problem(&t.text) {
                        None => dns_name = t.text.clone(),
                        Some(why) => cx.invalid(n, t, &format!("a domain name ({why})")),
                    }
                }
            }
            "helo_name" if smtp => helo_name = cx.string(n),
            "host" if smtp => {
                cx.warning(n.keyword.span, Problem::DeprecatedSmtpHost);
                smtp_hosts.push(smtp_host(cx, n, &mut own, &mut common.log_all_failures));
            }
            "payload" if udp => {
                cx.no_block(n);
                if n.args.is_empty() {
                    cx.missing(n, HEX_EXPECTED);
                } else {
                    udp_check.payload = hex(cx, n, false);
                }
            }
            "require_reply" if udp => {
                cx.no_block(n);
                udp_check.require_reply = true;
                if !n.args.is_empty() {
                    udp_check.reply = hex(cx, n, true);
                }
            }
            "min_reply_length" | "max_reply_length" if udp => {
                udp_lengths_span = Some(n.span());
                let length = cx
                    .int(n, 0, i64::from(u16::MAX))
                    .and_then(|v| u16::try_from(v).ok());
                let field = if n.name() == "min_reply_length" {
                    &mut udp_check.min_reply_length
                } else {
                    &mut udp_check.max_reply_length
                };
                *field = length.unwrap_or(*field);
            }
            _ => cx.unknown(n, &context),
        }
    }
    let eff = own.over(parent);
    common = conn.over(&common);
    common.alpha = eff.alpha.unwrap_or(false);
    common.connect_timeout = eff.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    common.retry = eff.retry.unwrap_or(match kind {
        "MISC_CHECK" => 0,
        "DNS_CHECK" => 3,
        _ => 1,
    });
    common.delay_before_retry = eff.delay_before_retry.unwrap_or(if http {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(1)
    });
    common.warmup = eff.warmup;
    common.delay_loop = eff.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    match kind {
        "TCP_CHECK" => Some(Checker::Tcp(common)),
        "PING_CHECK" => Some(Checker::Ping(common)),
        "DNS_CHECK" => Some(Checker::Dns(Box::new(DnsCheck {
            common,
            qtype: dns_type,
            name: dns_name,
        }))),
        "SMTP_CHECK" => {
            let hosts = smtp_hosts.iter().map(|h| h.over(&common)).collect();
            Some(Checker::Smtp(Box::new(SmtpCheck {
                common,
                helo_name: helo_name.unwrap_or_else(|| DEFAULT_HELO_NAME.to_string()),
                hosts,
            })))
        }
        "UDP_CHECK" => {
            let (min, max) = (udp_check.min_reply_length, udp_check.max_reply_length);
            let span = udp_lengths_span.unwrap_or_else(|| node.span());
            if min > max && udp_check.reply.is_some() {
                // keepalived 2.2.7 runs it anyway: "... - will always fail".
                cx.warning(span, Problem::ReplyLengthsNeverMatch { min, max });
            } else if min > max {
                cx.warning(span, Problem::ReplyLengthsUnused { min, max });
            }
            udp_check.common = common;
            Some(Checker::Udp(Box::new(udp_check)))
        }
        "MISC_CHECK" => {
            // keepalived 2.2.7: "No script path has been specified for MISC_CHECKER -
            // skipping": the real server has one checker less.
            let Some(command) = misc_path else {
                cx.warning(
                    node.span(),
                    Problem::MissingRequired {
                        object: "MISC_CHECK".into(),
                        what: "misc_path; keepalived ignores the checker, and so does lvsd".into(),
                    },
                );
                return None;
            };
            let (user, group) = match misc_user {
                Some((u, g)) => (Some(u), g),
                None => (None, None),
            };
            Some(Checker::Misc(Box::new(MiscCheck {
                common,
                misc_path: ScriptCommand {
                    command,
                    user,
                    group,
                },
                misc_timeout,
                misc_dynamic,
            })))
        }
        _ => {
            let vhost = http_check.virtualhost.clone().or(eff.virtualhost.clone());
            for u in url_nodes {
                if let Some(url) = url_check(cx, u, &vhost) {
                    http_check.urls.push(url);
                }
            }
            if http_check.urls.is_empty() {
                cx.error(
                    node.span(),
                    Problem::MissingRequired {
                        object: kind.to_string(),
                        what: "url { path ... }".into(),
                    },
                );
                return None;
            }
            http_check.common = common;
            Some(if kind == "SSL_GET" {
                Checker::Ssl(Box::new(http_check))
            } else {
                Checker::Http(Box::new(http_check))
            })
        }
    }
}

/// keepalived's `helo_name` when none is given.
const DEFAULT_HELO_NAME: &str = "smtpchecker.keepalived.org";

/// Connection keywords of a checker, or of an SMTP_CHECK `host { }` block,
/// as written; unset ones come from the enclosing check.
#[derive(Default)]
struct ConnectionOptions {
    connect_ip: Option<IpAddr>,
    connect_port: Option<u16>,
    bindto: Option<IpAddr>,
    bind_if: Option<String>,
    bind_port: Option<u16>,
    fwmark: Option<u32>,
    connect_timeout: Option<Duration>,
}

impl ConnectionOptions {
    /// Lowers one connection keyword (but `connect_timeout`, which checkers
    /// inherit with the timing keywords); `false` if `n` is not one.
    fn keyword(&mut self, cx: &mut Cx<'_>, n: &Node) -> bool {
        match n.name() {
            "connect_ip" => self.connect_ip = cx.plain_ip(n),
            "connect_port" => self.connect_port = cx.port(n),
            "bindto" => self.bindto = cx.plain_ip(n),
            "bind_if" => self.bind_if = cx.string(n),
            "bind_port" => self.bind_port = cx.port(n),
            "fwmark" => self.fwmark = cx.u32(n),
            _ => return false,
        }
        true
    }

    fn over(&self, check: &CheckerCommon) -> CheckerCommon {
        CheckerCommon {
            connect_ip: self.connect_ip.or(check.connect_ip),
            connect_port: self.connect_port.or(check.connect_port),
            bindto: self.bindto.or(check.bindto),
            bind_if: self.bind_if.clone().or_else(|| check.bind_if.clone()),
            bind_port: self.bind_port.or(check.bind_port),
            fwmark: self.fwmark.or(check.fwmark),
            connect_timeout: self.connect_timeout.unwrap_or(check.connect_timeout),
            ..check.clone()
        }
    }
}

/// An SMTP_CHECK `host { }` block. Its timing keywords (retry, delay_loop,
/// ...) set the whole SMTP_CHECK's, as in keepalived, where they belong to
/// the checker.
fn smtp_host(
    cx: &mut Cx<'_>,
    node: &Node,
    check: &mut Inherited,
    log_all_failures: &mut Option<bool>,
) -> ConnectionOptions {
    let mut h = ConnectionOptions::default();
    for n in cx.statements(node, Block::SmtpHost) {
        if n.name() == "connect_timeout" {
            h.connect_timeout = cx.timer(n);
        } else if n.name() == "log_all_failures" {
            *log_all_failures = Some(cx.flag(n));
        } else if !h.keyword(cx, n) && !check.keyword(cx, n) {
            cx.unknown(n, "SMTP_CHECK host");
        }
    }
    h
}

const HEX_EXPECTED: &str = "hex digits, e.g. 0a1b 2c (at most 65507 bytes)";

/// The hex bytes of `payload` / `require_reply` (`x` wildcards in the latter).
fn hex(cx: &mut Cx<'_>, node: &Node, wildcards: bool) -> Option<HexBytes> {
    match HexBytes::parse(node.args.iter().map(|t| t.text.as_str()), wildcards) {
        Ok(h) => Some(h),
        Err(word) => {
            if let Some(t) = node.args.iter().find(|t| t.text == word) {
                let expected = if wildcards {
                    "hex digits or x (any nibble), e.g. 0a1b 2x (at most 65507 bytes)"
                } else {
                    HEX_EXPECTED
                };
                cx.invalid(node, t, expected);
            }
            None
        }
    }
}

/// A url's `regex` with its options and offsets, compiled; `None` without
/// `regex`. Options without an equivalent were dropped (with a warning).
fn compile_regex(u: &UrlCheck) -> Result<Option<BodyRegex>, String> {
    let Some(pattern) = &u.regex else {
        return Ok(None);
    };
    let mut flags = RegexFlags::default();
    for option in &u.regex_options {
        flags.apply(option);
    }
    let offset = |o: Option<u32>| o.and_then(|o| usize::try_from(o).ok());
    BodyRegex::new(
        pattern,
        flags,
        u.regex_no_match,
        offset(u.regex_min_offset).unwrap_or(0),
        offset(u.regex_max_offset),
    )
    .map(Some)
    .map_err(|e| {
        e.to_string()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn status_range(text: &str) -> Option<StatusRange> {
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let first: u16 = a.parse().ok()?;
    let last: u16 = b.parse().ok()?;
    ((100..=999).contains(&first) && (first..=999).contains(&last))
        .then_some(StatusRange { first, last })
}

fn url_check(cx: &mut Cx<'_>, node: &Node, vhost: &Option<String>) -> Option<UrlCheck> {
    let mut u = UrlCheck {
        path: String::new(),
        span: node.span(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: vhost.clone(),
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
        compiled_regex: None,
    };
    let mut path = None;
    let mut regex_token = None;
    for n in cx.statements(node, Block::Url) {
        match n.name() {
            "path" => path = cx.string(n),
            "digest" => {
                if let Some(t) = cx.one(n, "32 hex digits") {
                    match Md5Digest::parse(&t.text) {
                        Ok(d) => u.digest = Some(d),
                        // keepalived 2.2.7: "digest '...' character length should be 32
                        // rather than N" / "Unable to interpret hex digit", line ignored.
                        Err(_) => cx.fallback(
                            n,
                            t,
                            "is not an MD5 digest of 32 hex digits (as genhash prints it)",
                            "ignores the line (the url is checked without a digest)",
                            None,
                        ),
                    }
                }
            }
            "status_code" => {
                cx.no_block(n);
                if n.args.is_empty() {
                    cx.missing(n, "a status code or range, e.g. 200 or 200-299");
                }
                for t in &n.args {
                    match status_range(&t.text) {
                        Some(r) => u.status_codes.push(r),
                        None => cx.invalid(n, t, "a status code 100..999 or a range like 200-299"),
                    }
                }
            }
            "virtualhost" => u.virtualhost = cx.string(n),
            "regex" => {
                regex_token = n.args.first().cloned();
                u.regex = cx.string(n);
            }
            "regex_no_match" => u.regex_no_match = cx.flag(n),
            "regex_options" => {
                cx.no_block(n);
                if n.args.is_empty() {
                    cx.missing(n, "regex options, e.g. caseless multiline");
                }
                for t in &n.args {
                    match RegexFlags::default().apply(&t.text) {
                        None => cx.invalid(n, t, "a PCRE2 option keepalived knows, e.g. caseless, multiline, dotall, extended"),
                        Some(RegexOptionKind::NoEquivalent) => cx.warning(
                            t.span,
                            Problem::RegexOptionWithoutEquivalent {
                                option: t.text.clone(),
                            },
                        ),
                        Some(_) => u.regex_options.push(t.text.clone()),
                    }
                }
            }
            "regex_min_offset" => u.regex_min_offset = cx.u32(n),
            "regex_max_offset" => u.regex_max_offset = cx.u32(n),
            // PCRE2's JIT stack sizes: nothing to tune in lvsd's engine.
            "regex_stack" => {
                cx.no_block(n);
            }
            _ => cx.unknown(n, "url"),
        }
    }
    // Compiled here, so a pattern PCRE2 refuses fails the config with its
    // place instead of a real server later.
    match (compile_regex(&u), &regex_token) {
        (Ok(compiled), _) => u.compiled_regex = compiled,
        (Err(why), Some(t)) => cx.error_expected(
            t.span,
            Problem::InvalidValue {
                keyword: "regex".into(),
                value: t.text.clone(),
            },
            &format!("a PCRE2 regular expression ({why})"),
        ),
        (Err(_), None) => {}
    }
    let Some(path) = path else {
        cx.error(
            node.span(),
            Problem::MissingRequired {
                object: "url".into(),
                what: "path".into(),
            },
        );
        return None;
    };
    u.path = path;
    if u.status_codes.is_empty() {
        u.status_codes.push(StatusRange {
            first: 200,
            last: 299,
        });
    }
    Some(u)
}
