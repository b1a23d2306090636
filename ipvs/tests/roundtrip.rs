//! Encode/decode round trips (proptest), unknown attributes surviving, and
//! malformed input giving typed errors with context instead of panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvs::model::*;
use ipvs::ops::{encode, Op};
use ipvs::wire::{DestAttr, IpvsAttr, IpvsMessage, ServiceAttr};
use netlink_packet_core::{DefaultNla, NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use proptest::prelude::*;

fn decode(bytes: &[u8]) -> Result<IpvsMessage, String> {
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(bytes)
        .map_err(|e| e.to_string())?;
    match msg.payload {
        NetlinkPayload::InnerMessage(g) => Ok(g.payload),
        other => Err(format!("unexpected payload {other:?}")),
    }
}

fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ]
}

fn arb_key() -> impl Strategy<Value = ServiceKey> {
    prop_oneof![
        (
            prop_oneof![
                Just(Protocol::Tcp),
                Just(Protocol::Udp),
                Just(Protocol::Sctp)
            ],
            arb_addr(),
            any::<u16>()
        )
            .prop_map(|(protocol, addr, port)| ServiceKey::Inet {
                protocol,
                addr,
                port
            }),
        (1..u32::MAX, any::<bool>()).prop_map(|(mark, ipv6)| ServiceKey::Fwmark { mark, ipv6 }),
    ]
}

fn arb_sched() -> impl Strategy<Value = Scheduler> {
    prop_oneof![
        Just(Scheduler::Rr),
        Just(Scheduler::Wlc),
        Just(Scheduler::Mh),
        "[a-z]{1,15}".prop_map(|s| Scheduler::from_name(&s)),
    ]
}

fn arb_service() -> impl Strategy<Value = Service> {
    (
        arb_key(),
        arb_sched(),
        proptest::option::of(any::<u32>()),
        any::<u32>(),
        0u32..8,
    )
        .prop_map(|(key, sched, persistence, netmask, bits)| {
            let mut s = Service::new(key, sched);
            s.persistence = persistence;
            s.netmask = netmask;
            s.flags = ServiceFlags((bits << 3) | (ServiceFlags::ONEPACKET * (bits & 1)));
            if persistence.is_some() {
                s.flags.0 |= ServiceFlags::PERSISTENT;
            }
            s
        })
}

fn arb_dest() -> impl Strategy<Value = Destination> {
    (
        arb_addr(),
        any::<u16>(),
        prop_oneof![
            Just(Forward::Masq),
            Just(Forward::Route),
            Just(Forward::Tunnel)
        ],
        any::<u32>(),
        any::<(u32, u32)>(),
        prop_oneof![
            Just(TunnelType::Ipip),
            Just(TunnelType::Gue),
            Just(TunnelType::Gre)
        ],
        any::<u16>(),
        0u16..4,
    )
        .prop_map(|(addr, port, fwd, weight, (u, l), tt, tp, tf)| {
            let mut d = Destination::new(addr, port, fwd, weight);
            d.upper_threshold = u;
            d.lower_threshold = l;
            d.tunnel_type = tt;
            d.tunnel_port = tp;
            d.tunnel_flags = tf;
            d
        })
}

proptest! {
    #[test]
    fn service_round_trips(svc in arb_service(), seq in any::<u32>()) {
        let bytes = encode(Op::AddService(svc.clone()).message(), 0x1c, seq, false);
        let msg = decode(&bytes).expect("decode our own encoding");
        let IpvsAttr::Service(attrs) = &msg.attrs[0] else { panic!("no service") };
        let back = Service::from_attrs(attrs).expect("typed");
        prop_assert_eq!(back, svc);
    }

    #[test]
    fn dest_round_trips(key in arb_key(), dest in arb_dest()) {
        let bytes = encode(Op::AddDest(key, dest.clone()).message(), 0x1c, 1, false);
        let msg = decode(&bytes).expect("decode");
        let IpvsAttr::Dest(attrs) = &msg.attrs[1] else { panic!("no dest") };
        let back = Destination::from_attrs(attrs, key.af()).expect("typed");
        prop_assert_eq!(back, dest);
    }

    /// Any bytes at all: an error or a message, never a panic.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    /// Valid framing, random attribute bodies: an error or a message.
    #[test]
    fn random_attributes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut buf = Vec::new();
        buf.extend_from_slice(&((body.len() + 20) as u32).to_ne_bytes());
        buf.extend_from_slice(&0x1cu16.to_ne_bytes());
        buf.extend_from_slice(&[0; 10]);
        buf.extend_from_slice(&[1, 1, 0, 0]);
        buf.extend_from_slice(&body);
        if let Ok(msg) = decode(&buf) {
            for a in &msg.attrs {
                match a {
                    IpvsAttr::Service(s) => { let _ = Service::from_attrs(s); }
                    IpvsAttr::Dest(d) => { let _ = Destination::from_attrs(d, AF_INET); }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn unknown_attributes_survive_a_round_trip() {
    let key = ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        port: 80,
    };
    let mut svc_attrs = Service::new(key, Scheduler::Rr).attrs();
    svc_attrs.push(ServiceAttr::Other(DefaultNla::new(42, vec![1, 2, 3, 4, 5])));
    let mut dest_attrs =
        Destination::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), 80, Forward::Masq, 1).attrs(&key);
    dest_attrs.push(DestAttr::Other(DefaultNla::new(99, vec![9; 7])));
    let msg = IpvsMessage::new(
        ipvs::wire::IpvsCmd::NewDest,
        vec![
            IpvsAttr::Service(svc_attrs),
            IpvsAttr::Dest(dest_attrs),
            IpvsAttr::Other(DefaultNla::new(77, vec![0xaa; 3])),
        ],
    );
    let bytes = encode(msg.clone(), 0x1c, 3, false);
    let back = decode(&bytes).expect("decode");
    assert_eq!(back, msg);
    assert_eq!(encode(back, 0x1c, 3, false), bytes);
    let IpvsAttr::Service(attrs) = &msg.attrs[0] else {
        panic!()
    };
    let svc = Service::from_attrs(attrs).expect("typed");
    assert_eq!(svc.other.as_ref().map_or(0, |o| o.len()), 1);
}

/// A dest nest whose PORT attribute is 3 bytes long.
#[test]
fn malformed_port_is_a_typed_error_naming_the_attribute() {
    let mut buf = Vec::new();
    let dest_nest: Vec<u8> = [
        &[7u8, 0, 2, 0][..], // len 7, IPVS_DEST_ATTR_PORT
        &[0, 80, 0, 0][..],  // 3 bytes + padding
    ]
    .concat();
    let mut nest = Vec::new();
    nest.extend_from_slice(&((dest_nest.len() + 4) as u16).to_ne_bytes());
    nest.extend_from_slice(&2u16.to_ne_bytes()); // IPVS_CMD_ATTR_DEST
    nest.extend_from_slice(&dest_nest);
    buf.extend_from_slice(&((nest.len() + 20) as u32).to_ne_bytes());
    buf.extend_from_slice(&0x1cu16.to_ne_bytes());
    buf.extend_from_slice(&[0; 10]);
    buf.extend_from_slice(&[5, 1, 0, 0]);
    buf.extend_from_slice(&nest);
    let err = decode(&buf).expect_err("must fail");
    assert!(err.contains("IPVS_DEST_ATTR_PORT"), "{err}");
    assert!(err.contains("IPVS_CMD_ATTR_DEST"), "{err}");
}

#[test]
fn missing_attributes_are_typed_errors() {
    let err = Service::from_attrs(&[ServiceAttr::Af(AF_INET), ServiceAttr::Protocol(6)])
        .expect_err("no address");
    assert_eq!(
        err,
        ModelError::Missing {
            object: "IPVS service",
            attr: "IPVS_SVC_ATTR_ADDR"
        }
    );
    let err = Destination::from_attrs(&[DestAttr::Port(80)], AF_INET).expect_err("no address");
    assert!(err.to_string().contains("IPVS_DEST_ATTR_ADDR"), "{err}");
    let err = Destination::from_attrs(
        &[
            DestAttr::Addr([0; 16]),
            DestAttr::Port(1),
            DestAttr::FwdMethod(7),
        ],
        AF_INET,
    )
    .expect_err("bad forwarding");
    assert!(
        err.to_string().contains("IPVS_DEST_ATTR_FWD_METHOD"),
        "{err}"
    );
}
