//! cargo-fuzz target: the VRRP receive path must never panic, whatever the bytes.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use lvsd::vrrp::packet::{self, Advert, ChecksumAccept, ChecksumMode, Family, PeerRx, RxMeta, RxPolicy};

fuzz_target!(|data: &[u8]| {
    let Some((&ttl, rest)) = data.split_first() else {
        return;
    };
    let v4 = RxMeta {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(packet::MCAST_V4),
        ttl,
    };
    let v6 = RxMeta {
        src: IpAddr::V6("fe80::1".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST)),
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
        check_src: Some(&peers),
        checksum: ChecksumAccept {
            pseudo_header: true,
            old_unicast: true,
            message_only: true,
        },
    };
    for policy in [RxPolicy::MULTICAST, lenient] {
        let _ = packet::validate_received(rest, &v4, &policy);
        let _ = packet::validate_received(rest, &v6, &policy);
    }
    let _ = packet::parse_ipv4(rest);
    for fam in [Family::V4, Family::V6] {
        if let Ok(a) = Advert::parse(rest, fam) {
            let _ = a.to_bytes(ChecksumMode::MessageOnly);
        }
    }
});
