//! The bodies of the fuzz targets (fuzz/fuzz_targets/*.rs call them under
//! libFuzzer), here so that the regression test replays the kept corpus and
//! every crash input on stable Rust in every test run (tests/fuzz_corpus.rs).
//! Each must return for any bytes; a panic is a finding.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::OnceLock;

/// A fuzz target's body.
pub type Body = fn(&[u8]);

/// Every target by the name its cargo-fuzz binary and corpus folder have.
pub const TARGETS: &[(&str, Body)] = &[
    ("config", config),
    ("vrrp_packet", vrrp_packet),
    ("ipvs_message", ipvs_message),
    ("http_response", http_response),
    ("control_request", control_request),
    ("check_replies", check_replies),
    ("rtnetlink_message", rtnetlink_message),
];

/// The keepalived.conf parser: a model or diagnostics, never a panic, hang
/// or stack overflow. Includes are not followed (the input cannot walk the disk).
pub fn config(data: &[u8]) {
    use crate::config::{load_str, ConfigOptions};
    let text = String::from_utf8_lossy(data);
    let opts = ConfigOptions {
        config_id: Some("fuzz".into()),
        check_interfaces: false,
        follow_includes: false,
    };
    match load_str(Path::new("/nonexistent/fuzz.conf"), &text, &opts) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = w.render(&loaded.sources);
            }
            // What `check-config --dump` prints must serialize for any accepted input.
            if let Err(e) = serde_json::to_string(&loaded.config) {
                panic!("--dump cannot serialize an accepted configuration: {e}");
            }
            // And the VRRP part translates or says why not.
            let _ = crate::vrrp::translate::translate(&loaded.config);
        }
        Err(problems) => {
            let _ = problems.render();
        }
    }
}

/// The VRRP receive path, whatever the bytes (the first byte is the TTL).
pub fn vrrp_packet(data: &[u8]) {
    use crate::vrrp::packet::{
        self, Advert, ChecksumAccept, ChecksumMode, Family, PeerRx, RxMeta, RxPolicy,
    };
    let Some((&ttl, rest)) = data.split_first() else {
        return;
    };
    let v4 = RxMeta {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(packet::MCAST_V4),
        ttl,
    };
    let v6 = RxMeta {
        src: IpAddr::V6(std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
        dst: IpAddr::V6(packet::MCAST_V6),
        ttl,
    };
    let peers = [PeerRx {
        addr: v4.src,
        min_ttl: 1,
        max_ttl: 254,
    }];
    let lenient = RxPolicy {
        unicast: true,
        group: None,
        check_src: Some(&peers),
        checksum: ChecksumAccept {
            pseudo_header: true,
            old_unicast: true,
            message_only: true,
        },
    };
    let grouped = RxPolicy {
        group: Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19))),
        ..RxPolicy::MULTICAST
    };
    for policy in [RxPolicy::MULTICAST, lenient, grouped] {
        let _ = packet::validate_received(rest, &v4, &policy);
        let _ = packet::validate_received(rest, &v6, &policy);
    }
    let _ = packet::parse_ipv4(rest);
    for fam in [Family::V4, Family::V6] {
        if let Ok(a) = Advert::parse(rest, fam) {
            let _ = a.to_bytes(ChecksumMode::MessageOnly);
        }
    }
}

/// IPVS replies from a netlink socket: framing and decoding into typed
/// services, real servers and sync daemons return values or errors, and
/// decoded messages re-encode.
pub fn ipvs_message(data: &[u8]) {
    use ipvs::frame::{parse_datagram, Reply};
    use ipvs::model::{Destination, Service, SyncDaemon, AF_INET, AF_INET6};
    use ipvs::ops::encode;
    use ipvs::wire::IpvsAttr;
    let Some((&family, rest)) = data.split_first() else {
        return;
    };
    // Family ids are small numbers assigned at boot; let the input pick one.
    let family_id = 16 + u16::from(family % 32);
    let Ok(replies) = parse_datagram(rest, family_id) else {
        return;
    };
    for reply in replies {
        let Reply::Ipvs { msg, seq, .. } = reply else {
            continue;
        };
        for attr in &msg.attrs {
            match attr {
                IpvsAttr::Service(a) => {
                    let _ = Service::from_attrs(a);
                }
                IpvsAttr::Dest(a) => {
                    let _ = Destination::from_attrs(a, AF_INET);
                    let _ = Destination::from_attrs(a, AF_INET6);
                }
                IpvsAttr::Daemon(a) => {
                    let _ = SyncDaemon::from_attrs(a);
                }
                _ => {}
            }
        }
        let _ = encode(msg, family_id, seq, false);
    }
}

type HttpOutcome = Result<([u8; 16], Result<u16, String>, u64), String>;

fn read_http(data: &[u8], cuts: &[usize]) -> HttpOutcome {
    let mut reader = checkers::http::ResponseReader::new(4096);
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(start, data.len());
        let fed = reader.feed(&data[start..end]).map_err(|e| e.to_string())?;
        assert!(fed.body.end <= end - start);
        start = end;
        if fed.complete {
            break;
        }
    }
    let reply = reader.finish().map_err(|e| e.to_string())?;
    Ok((reply.digest, reply.status, reply.body_len))
}

/// The HTTP reply reader behind HTTP_GET/SSL_GET and genhash: never a
/// panic, and the outcome (digest, status, errors) does not depend on where
/// the reads were cut (the first byte seeds the read sizes).
pub fn http_response(input: &[u8]) {
    let Some((&n, data)) = input.split_first() else {
        return;
    };
    let step = usize::from(n % 17) + 1;
    let cuts: Vec<usize> = (step..data.len()).step_by(step).collect();
    assert_eq!(read_http(data, &[]), read_http(data, &cuts));
}

fn control_spec() -> &'static crate::director::DirectorSpec {
    static SPEC: OnceLock<crate::director::DirectorSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        const CONF: &str = "virtual_server 10.0.0.100 80 { protocol TCP\n real_server 10.0.0.4 80 { }\n real_server 10.0.0.5 80 { } }\n\
virtual_server 10.0.0.100 80 { protocol UDP\n real_server 10.0.0.4 80 { } }\n\
virtual_server fwmark 7 { real_server 2001:db8::4 443 { } }\n";
        let opts = crate::config::ConfigOptions {
            config_id: Some("fuzz".into()),
            check_interfaces: false,
            follow_includes: false,
        };
        let loaded = crate::config::load_str(Path::new("/nonexistent/fuzz.conf"), CONF, &opts)
            .unwrap_or_else(|_| panic!("the fuzz config loads"));
        crate::director::translate(&loaded.config).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The control socket's request parsing and the naming of virtual and real
/// servers (`lvsd ctl`): a command or an error, never a panic.
pub fn control_request(data: &[u8]) {
    use crate::daemon::control::{parse_request, Command};
    use crate::director::admin::resolve;
    if let Ok(Command::Admin {
        virtual_server,
        real_server,
        ..
    }) = parse_request(data)
    {
        let _ = resolve(control_spec(), &virtual_server, &real_server);
    }
    // Also the raw text as "VS<newline>RS", the shape `lvsd ctl` sends.
    let text = String::from_utf8_lossy(data);
    let (vs, rs) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = resolve(control_spec(), vs, rs);
}

/// What the DNS, SMTP and UDP checkers read from a real server: a verdict,
/// never a panic. The first byte picks the checker; for UDP_CHECK the input
/// up to the first newline is the `require_reply` pattern (hex words) and
/// the rest the reply.
pub fn check_replies(data: &[u8]) {
    use checkers::config::{HexBytes, ReplyPattern};
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let id = rest.first().map_or(0, |b| u16::from(*b) << 8);
            let _ = checkers::dns::judge(rest, id);
            let _ = checkers::dns::judge(rest, 0x1234);
        }
        1 => {
            for line in String::from_utf8_lossy(rest).split('\n') {
                let _ = checkers::smtp::reply_code(line);
            }
        }
        _ => {
            let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let (pattern, reply) = rest.split_at(split);
            let text = String::from_utf8_lossy(pattern);
            if let Ok(hex) = HexBytes::parse(text.split_whitespace(), true) {
                let lens = reply.first().copied().unwrap_or(0);
                let p = ReplyPattern {
                    data: hex,
                    min_len: u16::from(lens & 0x0f),
                    max_len: 16 * u16::from(lens >> 4) + 16,
                };
                let _ = p.mismatch(reply);
                let _ = p.data.to_hex();
            }
        }
    }
}

/// The kernel's route and rule notifications: any bytes decode to a
/// message or an error, and a decoded route or rule gives a key or nothing.
pub fn rtnetlink_message(data: &[u8]) {
    use crate::vrrp::route_watch::KernelKey;
    use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
    use rtnetlink::packet_route::RouteNetlinkMessage;
    let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data) else {
        return;
    };
    if let NetlinkPayload::InnerMessage(inner) = msg.payload {
        match inner {
            RouteNetlinkMessage::DelRoute(m) | RouteNetlinkMessage::NewRoute(m) => {
                let _ = KernelKey::of_route(&m);
            }
            RouteNetlinkMessage::DelRule(m) | RouteNetlinkMessage::NewRule(m) => {
                let _ = KernelKey::of_rule(&m);
            }
            _ => {}
        }
    }
}
