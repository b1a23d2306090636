//! Codec tests: golden vectors captured from keepalived 2.2.7, RFC validations,
//! round trips and no-panic on arbitrary bytes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use lvsd::vrrp::packet::*;
use proptest::prelude::*;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vrrp-golden")
}

/// A golden file: the header's `key value` fields and the hex bytes.
struct Golden {
    fields: HashMap<String, String>,
    auth_data: Option<Vec<u8>>,
    bytes: Vec<u8>,
}

fn hex_decode(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("golden hex"))
        .collect()
}

/// Decodes a Python bytes literal such as `b's3cret\x00\x00'` from the golden header.
fn py_bytes(lit: &str) -> Vec<u8> {
    let inner = lit.trim_start_matches("b'").trim_end_matches('\'');
    let mut out = Vec::new();
    let b = inner.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&inner[i + 2..i + 4], 16).expect("hex escape"));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn load(name: &str) -> Golden {
    let text = std::fs::read_to_string(golden_dir().join(name)).expect("golden file");
    let mut fields = HashMap::new();
    let mut auth_data = None;
    let mut hex = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim();
            let body = rest
                .strip_prefix("ip:")
                .or_else(|| rest.strip_prefix("vrrp:"));
            let Some(body) = body else { continue };
            if let Some(pos) = body.find("auth_data ") {
                auth_data = Some(py_bytes(body[pos + 10..].trim()));
            }
            let toks: Vec<&str> = body.split_whitespace().collect();
            for w in toks.windows(2) {
                fields.entry(w[0].to_string()).or_insert(w[1].to_string());
            }
        } else {
            hex.push_str(line);
        }
    }
    Golden {
        fields,
        auth_data,
        bytes: hex_decode(&hex),
    }
}

impl Golden {
    fn num(&self, k: &str) -> u32 {
        let v = &self.fields[k];
        match v.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).expect("hex field"),
            None => v.parse().expect("numeric field"),
        }
    }
    fn addr(&self, k: &str) -> IpAddr {
        self.fields[k]
            .trim_end_matches(',')
            .parse()
            .expect("address field")
    }
}

const MESSAGES: [&str; 6] = [
    "vrrp-v2-advert.hex",
    "vrrp-v2-advert-prio0.hex",
    "vrrp-v2-unicast-advert.hex",
    "vrrp-v2-unicast-advert-prio0.hex",
    "vrrp-v3-advert.hex",
    "vrrp-v3-advert-prio0.hex",
];

fn check_fields(g: &Golden, a: &Advert) {
    assert_eq!(u32::from(a.version().number()), g.num("version"));
    assert_eq!(u32::from(u8::from(a.kind)), g.num("type"));
    assert_eq!(u32::from(a.vrid), g.num("vrid"));
    assert_eq!(u32::from(a.priority), g.num("priority"));
    assert_eq!(a.addresses.len() as u32, g.num("count_ip"));
    assert_eq!(u32::from(a.checksum), g.num("checksum"));
    assert_eq!(a.addresses, vec![g.addr("addresses")]);
    match &a.body {
        Body::V2 {
            auth_type,
            advert_int_s,
            auth_data,
        } => {
            assert_eq!(u32::from(u8::from(*auth_type)), g.num("auth_type"));
            assert_eq!(u32::from(*advert_int_s), g.num("advert_int"));
            assert_eq!(Some(auth_data.to_vec()), g.auth_data);
        }
        Body::V3 {
            reserved,
            max_advert_int_cs,
        } => {
            assert_eq!(u32::from(*reserved), g.num("rsvd"));
            assert_eq!(u32::from(*max_advert_int_cs), g.num("max_advert_int"));
        }
    }
}

fn meta_of(g: &Golden) -> RxMeta {
    RxMeta {
        src: g.addr("src"),
        dst: g.addr("dst"),
        ttl: g.num("ttl") as u8,
    }
}

fn mode_of(a: &Advert, meta: &RxMeta) -> ChecksumMode {
    match a.version() {
        Version::V2 => ChecksumMode::MessageOnly,
        Version::V3 => ChecksumMode::PseudoHeader {
            src: meta.src,
            dst: meta.dst,
        },
    }
}

/// The policy of an instance that expects this kind of advert (multicast or
/// unicast by its destination), with no source check and the RFC checksum.
fn policy_for(meta: &RxMeta) -> RxPolicy<'static> {
    RxPolicy {
        unicast: !meta.dst.is_multicast(),
        ..RxPolicy::MULTICAST
    }
}

fn validate(bytes: &[u8], meta: &RxMeta) -> Result<(Advert, ChecksumKind), PacketError> {
    validate_received(bytes, meta, &policy_for(meta))
}

// Goldens: captured from keepalived 2.2.7 with `tcpdump -xx` (see each file's header).
#[test]
fn golden_messages_parse_to_their_header_fields_and_emit_to_their_bytes() {
    for name in MESSAGES {
        let g = load(name);
        let meta = meta_of(&g);
        let (advert, kind) = validate(&g.bytes, &meta).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_fields(&g, &advert);
        let expect_kind = match advert.version() {
            Version::V2 => ChecksumKind::MessageOnly,
            Version::V3 => ChecksumKind::PseudoHeader,
        };
        assert_eq!(kind, expect_kind, "{name}");
        assert_eq!(
            advert.to_bytes(mode_of(&advert, &meta)),
            g.bytes,
            "{name}: emit"
        );
    }
}

#[test]
fn golden_frames_carry_keepalived_ip_header_and_the_same_message() {
    for name in MESSAGES {
        let frame_name = name.replace(".hex", ".frame.hex");
        let g = load(&frame_name);
        let msg = load(name);
        assert_eq!(&g.bytes[12..14], &[0x08, 0x00], "{frame_name}: ethertype");
        let (ip, payload) = parse_ipv4(&g.bytes[14..]).expect("ip header");
        assert_eq!(u32::from(ip.ttl), g.num("ttl"), "{frame_name}");
        assert_eq!(ip.tos, 0xc0, "{frame_name}: tos (internetwork control)");
        assert_eq!(u32::from(ip.protocol), g.num("proto"));
        assert_eq!(IpAddr::V4(ip.src), g.addr("src"));
        assert_eq!(IpAddr::V4(ip.dst), g.addr("dst"));
        assert_eq!(payload, &msg.bytes[..], "{frame_name}: payload");
        // Multicast frames go to the VRRP group MAC 01:00:5e:00:00:12.
        if ip.dst == MCAST_V4 {
            assert_eq!(&g.bytes[..6], &[0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
        }
    }
}

fn v2_sample() -> (Vec<u8>, RxMeta) {
    let g = load("vrrp-v2-advert.hex");
    let meta = meta_of(&g);
    (g.bytes, meta)
}

fn v3_sample() -> (Vec<u8>, RxMeta) {
    let g = load("vrrp-v3-advert.hex");
    let meta = meta_of(&g);
    (g.bytes, meta)
}

#[test]
fn multicast_ttl_other_than_255_is_rejected() {
    let (bytes, mut meta) = v2_sample();
    meta.ttl = 254;
    assert_eq!(
        validate(&bytes, &meta).expect_err("must be rejected"),
        PacketError::BadTtl(254)
    );
}

/// A unicast advert (keepalived capture, TTL 255 on the wire) as it arrives
/// after `hops` routers.
fn unicast_sample(hops: u8) -> (Vec<u8>, RxMeta) {
    let g = load("vrrp-v2-unicast-advert.hex");
    let mut meta = meta_of(&g);
    assert!(!meta.dst.is_multicast());
    meta.ttl -= hops;
    (g.bytes, meta)
}

// RFC 5798 5.1.1.3 and keepalived 2.2.7's vrrp_check_packet check TTL 255
// for multicast only: unicast adverts may cross routers.
#[test]
fn unicast_ttl_is_not_required_to_be_255() {
    let unicast = RxPolicy {
        unicast: true,
        ..RxPolicy::MULTICAST
    };
    for hops in [0, 1, 254] {
        let (bytes, meta) = unicast_sample(hops);
        validate_received(&bytes, &meta, &unicast)
            .unwrap_or_else(|e| panic!("TTL {}: {e}", meta.ttl));
    }
}

#[test]
fn the_instance_and_the_advert_must_agree_on_multicast_or_unicast() {
    let (bytes, meta) = unicast_sample(1);
    assert_eq!(
        validate_received(&bytes, &meta, &RxPolicy::MULTICAST).expect_err("unicast advert"),
        PacketError::UnexpectedUnicast
    );
    let (bytes, meta) = v2_sample();
    let unicast = RxPolicy {
        unicast: true,
        ..RxPolicy::MULTICAST
    };
    assert_eq!(
        validate_received(&bytes, &meta, &unicast).expect_err("multicast advert"),
        PacketError::UnexpectedMulticast
    );
}

// keepalived 2.2.7 binds a multicast instance's socket to its group
// (vrrp_mcast_group4/6, mcast_dst_ip): adverts to another group never reach it.
#[test]
fn a_multicast_advert_must_be_sent_to_the_instance_group() {
    let (bytes, meta) = v2_sample();
    let ours = RxPolicy {
        group: Some(meta.dst),
        ..RxPolicy::MULTICAST
    };
    validate_received(&bytes, &meta, &ours).expect("the instance's group");
    let other = RxPolicy {
        group: Some("224.0.0.19".parse().expect("ip")),
        ..RxPolicy::MULTICAST
    };
    assert_eq!(
        validate_received(&bytes, &meta, &other).expect_err("another group"),
        PacketError::OtherGroup(meta.dst)
    );
}

#[test]
fn check_unicast_src_wants_a_configured_peer_within_its_ttl_range() {
    let (bytes, meta) = unicast_sample(1); // TTL 254, from 10.99.0.1
    let peer = |addr: &str, min_ttl, max_ttl| PeerRx {
        addr: addr.parse().expect("ip"),
        min_ttl,
        max_ttl,
    };
    let check = |peers: &[PeerRx]| {
        let policy = RxPolicy {
            unicast: true,
            group: None,
            check_src: Some(peers),
            checksum: ChecksumAccept::RFC,
        };
        validate_received(&bytes, &meta, &policy).map(|_| ())
    };
    let src = meta.src.to_string();
    // keepalived's defaults: any TTL from a listed peer.
    assert_eq!(check(&[peer(&src, 0, 255)]), Ok(()));
    assert_eq!(
        check(&[peer("10.99.0.77", 0, 255)]),
        Err(PacketError::NotUnicastPeer)
    );
    assert_eq!(
        check(&[peer("10.99.0.77", 0, 255), peer(&src, 254, 254)]),
        Ok(())
    );
    assert_eq!(
        check(&[peer(&src, 255, 255)]),
        Err(PacketError::TtlOutOfRange {
            ttl: 254,
            min: 255,
            max: 255
        })
    );
    assert_eq!(
        check(&[peer(&src, 0, 253)]),
        Err(PacketError::TtlOutOfRange {
            ttl: 254,
            min: 0,
            max: 253
        })
    );
    // Without check_unicast_src any source and TTL will do.
    let open = RxPolicy {
        unicast: true,
        ..RxPolicy::MULTICAST
    };
    assert!(validate_received(&bytes, &meta, &open).is_ok());
}

#[test]
fn unknown_version_is_rejected() {
    let (mut bytes, meta) = v2_sample();
    bytes[0] = 0x41;
    assert_eq!(
        validate(&bytes, &meta).expect_err("must be rejected"),
        PacketError::UnsupportedVersion(4)
    );
}

#[test]
fn non_advertisement_type_is_rejected_but_survives_structural_round_trip() {
    let (mut bytes, meta) = v2_sample();
    bytes[0] = 0x22;
    assert_eq!(
        validate(&bytes, &meta).expect_err("must be rejected"),
        PacketError::NotAdvertisement(2)
    );
    let a = Advert::parse(&bytes, Family::V4).expect("structural parse");
    assert_eq!(a.kind, AdvertType::Other(2));
    assert_eq!(a.to_bytes(ChecksumMode::MessageOnly)[0], 0x22);
}

#[test]
fn vrid_zero_is_rejected() {
    let (bytes, meta) = v2_sample();
    let mut a = Advert::parse(&bytes, Family::V4).expect("parse");
    a.vrid = 0;
    let b = a.to_bytes(ChecksumMode::MessageOnly);
    assert_eq!(
        validate(&b, &meta).expect_err("must be rejected"),
        PacketError::ZeroVrid
    );
}

#[test]
fn length_must_match_address_count() {
    let (mut bytes, meta) = v2_sample();
    bytes[3] = 2;
    assert!(matches!(
        validate(&bytes, &meta).expect_err("must be rejected"),
        PacketError::LengthMismatch {
            count: 2,
            len: 20,
            expected: 24
        }
    ));
    let (bytes, meta) = v3_sample();
    assert!(matches!(
        validate(&bytes[..11], &meta).expect_err("must be rejected"),
        PacketError::LengthMismatch { .. }
    ));
    assert!(matches!(
        validate(&bytes[..5], &meta).expect_err("must be rejected"),
        PacketError::TooShort { len: 5, need: 8 }
    ));
}

#[test]
fn corrupted_checksum_is_rejected() {
    for (mut bytes, meta) in [v2_sample(), v3_sample()] {
        bytes[2] ^= 0x01; // priority changes, checksum no longer matches
        assert!(matches!(
            validate(&bytes, &meta).expect_err("must be rejected"),
            PacketError::BadChecksum { .. }
        ));
    }
}

// RFC 5798 5.2.8, and keepalived 2.2.7 logs "Invalid VRRPv3 checksum": the
// message-only form is accepted only where `v3_checksum_as_v2` asks for it.
#[test]
fn v3_ipv4_message_only_checksum_only_with_v3_checksum_as_v2() {
    let (bytes, meta) = v3_sample();
    let a = Advert::parse(&bytes, Family::V4).expect("parse");
    let message_only = a.to_bytes(ChecksumMode::MessageOnly);
    assert!(matches!(
        validate(&message_only, &meta).expect_err("RFC instance"),
        PacketError::MessageOnlyChecksum { .. }
    ));
    let as_v2 = RxPolicy {
        checksum: ChecksumAccept {
            message_only: true,
            ..ChecksumAccept::RFC
        },
        ..RxPolicy::MULTICAST
    };
    let (_, kind) = validate_received(&message_only, &meta, &as_v2).expect("accepted");
    assert_eq!(kind, ChecksumKind::MessageOnly);
    // The RFC form still passes there.
    let (_, kind) = validate_received(&bytes, &meta, &as_v2).expect("accepted");
    assert_eq!(kind, ChecksumKind::PseudoHeader);
    // Corruption is not mistaken for either form.
    let mut bad = message_only.clone();
    bad[2] ^= 1;
    assert!(matches!(
        validate_received(&bad, &meta, &as_v2).expect_err("corrupt"),
        PacketError::BadChecksum { .. }
    ));
}

/// keepalived's old unicast form (vrrp.c, _WITH_UNICAST_CHKSUM_COMPAT_):
/// the pseudo-header carries the multicast group, not the unicast destination.
#[test]
fn v3_ipv4_old_unicast_checksum_where_configured() {
    let (bytes, mut meta) = v3_sample();
    meta.dst = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
    let a = Advert::parse(&bytes, Family::V4).expect("parse");
    let old = a.to_bytes(ChecksumMode::PseudoHeader {
        src: meta.src,
        dst: IpAddr::V4(MCAST_V4),
    });
    let rfc = a.to_bytes(ChecksumMode::PseudoHeader {
        src: meta.src,
        dst: meta.dst,
    });
    let policy = |pseudo_header, old_unicast| RxPolicy {
        unicast: true,
        group: None,
        check_src: None,
        checksum: ChecksumAccept {
            pseudo_header,
            old_unicast,
            message_only: false,
        },
    };
    let kind = |b: &[u8], p| validate_received(b, &meta, &p).map(|(_, k)| k);
    // `old_unicast_checksum never`: RFC only.
    assert_eq!(
        kind(&rfc, policy(true, false)),
        Ok(ChecksumKind::PseudoHeader)
    );
    assert!(matches!(
        kind(&old, policy(true, false)),
        Err(PacketError::BadChecksum { .. })
    ));
    // No keyword (auto-detect): both, each reported as what it is.
    assert_eq!(
        kind(&rfc, policy(true, true)),
        Ok(ChecksumKind::PseudoHeader)
    );
    assert_eq!(kind(&old, policy(true, true)), Ok(ChecksumKind::OldUnicast));
    // `old_unicast_checksum` (or after detection): the old form only.
    assert_eq!(
        kind(&old, policy(false, true)),
        Ok(ChecksumKind::OldUnicast)
    );
    assert!(matches!(
        kind(&rfc, policy(false, true)),
        Err(PacketError::BadChecksum { .. })
    ));
}

#[test]
fn v3_pseudo_header_checksum_depends_on_addresses() {
    let (bytes, mut meta) = v3_sample();
    meta.dst = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
    assert!(matches!(
        validate(&bytes, &meta).expect_err("must be rejected"),
        PacketError::BadChecksum { .. }
    ));
}

fn v6_advert() -> (Advert, RxMeta) {
    let a = Advert {
        kind: AdvertType::Advertisement,
        vrid: 60,
        priority: 150,
        body: Body::V3 {
            reserved: 0,
            max_advert_int_cs: 10,
        },
        checksum: 0,
        addresses: vec![
            IpAddr::V6("fe80::1".parse::<Ipv6Addr>().expect("v6")),
            IpAddr::V6("fd00:99::100".parse::<Ipv6Addr>().expect("v6")),
        ],
    };
    let meta = RxMeta {
        src: "fe80::99:1".parse().expect("v6"),
        dst: IpAddr::V6(MCAST_V6),
        ttl: 255,
    };
    (a, meta)
}

#[test]
fn v3_ipv6_round_trip_with_pseudo_header_and_no_message_only_fallback() {
    let (a, meta) = v6_advert();
    let bytes = a.to_bytes(ChecksumMode::PseudoHeader {
        src: meta.src,
        dst: meta.dst,
    });
    assert_eq!(bytes.len(), 8 + 32);
    let (back, kind) = validate(&bytes, &meta).expect("valid");
    assert_eq!(kind, ChecksumKind::PseudoHeader);
    assert_eq!(back.addresses, a.addresses);
    let plain = a.to_bytes(ChecksumMode::MessageOnly);
    assert!(validate(&plain, &meta).is_err());
}

/// keepalived 2.2.7's VRRPv2 advert over IPv6 (an instance with `version 2`
/// and IPv6 VIPs), captured here with tcpdump: no authentication data, the
/// checksum over the IPv6 pseudo-header (the kernel fills it in).
const KEEPALIVED_V2_OVER_IPV6: &str = "210cc802000155de\
    fe800000000000000000000000000001fd000000000000000000000000000005";

#[test]
fn v2_over_ipv6_is_read_and_written_as_keepalived_sends_it() {
    let bytes: Vec<u8> = (0..KEEPALIVED_V2_OVER_IPV6.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&KEEPALIVED_V2_OVER_IPV6[i..i + 2], 16).expect("hex"))
        .collect();
    let meta = RxMeta {
        src: "fe80::50e5:e5ff:fefc:9179".parse().expect("v6"),
        dst: IpAddr::V6(MCAST_V6),
        ttl: 255,
    };
    let (advert, kind) = validate(&bytes, &meta).expect("keepalived's advert is valid");
    assert_eq!(kind, ChecksumKind::PseudoHeader);
    assert_eq!(advert.vrid, 12);
    assert_eq!(advert.priority, 200);
    assert_eq!(advert.interval_cs(), 100);
    assert_eq!(
        advert.addresses,
        vec![
            "fe80::1".parse::<IpAddr>().expect("v6"),
            "fd00::5".parse::<IpAddr>().expect("v6")
        ]
    );
    // Written back: the same bytes.
    let again = advert.to_bytes(ChecksumMode::PseudoHeader {
        src: meta.src,
        dst: meta.dst,
    });
    assert_eq!(again, bytes);
    // The IPv4 form's checksum (message only) is not accepted over IPv6.
    let plain = advert.to_bytes(ChecksumMode::MessageOnly);
    assert!(validate(&plain, &meta).is_err());
}

#[test]
fn auth_pass_is_cut_and_padded_to_eight_bytes() {
    assert_eq!(&auth_data_from_pass("s3cret"), b"s3cret\0\0");
    assert_eq!(&auth_data_from_pass("0123456789"), b"01234567");
}

#[test]
fn ipv4_header_errors_are_reported_not_panicked() {
    assert!(parse_ipv4(&[0x45; 10]).is_err());
    let g = load("vrrp-v2-advert.frame.hex");
    let mut ip = g.bytes[14..].to_vec();
    ip[9] = 6;
    assert_eq!(
        parse_ipv4(&ip).expect_err("must be rejected"),
        PacketError::NotVrrp(6)
    );
    ip[9] = 112;
    ip[3] = 200; // total length beyond the buffer
    assert!(matches!(
        parse_ipv4(&ip).expect_err("must be rejected"),
        PacketError::BadIpHeader(_)
    ));
}

fn arb_advert() -> impl Strategy<Value = (Advert, Family)> {
    let v4 = any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)));
    let v6 = any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)));
    let v2 = (
        1u8..=255,
        any::<u8>(),
        prop::collection::vec(v4.clone(), 0..20),
        any::<u8>(),
        1u8..=255,
        any::<[u8; 8]>(),
    )
        .prop_map(|(vrid, prio, addrs, at, ai, ad)| {
            (
                Advert {
                    kind: AdvertType::Advertisement,
                    vrid,
                    priority: prio,
                    body: Body::V2 {
                        auth_type: AuthType::from(at),
                        advert_int_s: ai,
                        auth_data: ad,
                    },
                    checksum: 0,
                    addresses: addrs,
                },
                Family::V4,
            )
        });
    let v3 = (
        1u8..=255,
        any::<u8>(),
        prop_oneof![
            prop::collection::vec(v4, 0..20).prop_map(|a| (a, Family::V4)),
            prop::collection::vec(v6, 0..20).prop_map(|a| (a, Family::V6)),
        ],
        0u16..0x1000,
    )
        .prop_map(|(vrid, prio, (addrs, fam), cs)| {
            (
                Advert {
                    kind: AdvertType::Advertisement,
                    vrid,
                    priority: prio,
                    body: Body::V3 {
                        reserved: 0,
                        max_advert_int_cs: cs,
                    },
                    checksum: 0,
                    addresses: addrs,
                },
                fam,
            )
        });
    prop_oneof![v2, v3]
}

proptest! {
    #[test]
    fn emit_then_validate_round_trips((advert, fam) in arb_advert()) {
        let (src, dst) = match fam {
            Family::V4 => (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), IpAddr::V4(MCAST_V4)),
            Family::V6 => (IpAddr::V6("fe80::1".parse().expect("v6")), IpAddr::V6(MCAST_V6)),
        };
        let meta = RxMeta { src, dst, ttl: 255 };
        let bytes = advert.to_bytes(mode_of(&advert, &meta));
        let (back, _) = validate(&bytes, &meta).expect("own packets validate");
        let mut expect = advert.clone();
        expect.checksum = back.checksum;
        prop_assert_eq!(back, expect);
    }

    // The same property as the cargo-fuzz target fuzz_targets/vrrp_packet.rs, run in CI.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), ttl in any::<u8>(), v6 in any::<bool>()) {
        let meta = if v6 {
            RxMeta { src: "fe80::1".parse().expect("v6"), dst: IpAddr::V6(MCAST_V6), ttl }
        } else {
            RxMeta { src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), dst: IpAddr::V4(MCAST_V4), ttl }
        };
        let _ = validate(&bytes, &meta);
        let _ = parse_ipv4(&bytes);
        if let Ok(a) = Advert::parse(&bytes, Family::of(&meta.src)) {
            let again = a.to_bytes(ChecksumMode::MessageOnly);
            prop_assert_eq!(again.len(), bytes.len());
        }
    }
}
