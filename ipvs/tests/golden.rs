//! Our encoding against golden byte vectors captured from the real ipvsadm
//! (see `data/vectors.rs` for how), and decoding of captured kernel replies.

#[path = "data/vectors.rs"]
mod vectors;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipvs::model::*;
use ipvs::ops::{encode, Op};
use ipvs::wire::{IpvsAttr, IpvsCmd, IpvsMessage};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST};
use netlink_packet_generic::GenlMessage;
use vectors::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Family id the capture kernel gave IPVS (only in the nlmsghdr).
const FAMILY: u16 = 0x1c;

/// Encodes `op` and compares everything after the nlmsghdr with `golden`.
#[track_caller]
fn assert_encodes(op: Op, golden: &str) {
    let bytes = encode(op.message(), FAMILY, 7, false);
    assert_eq!(
        u16::from_ne_bytes([bytes[4], bytes[5]]),
        FAMILY,
        "nlmsg_type"
    );
    assert_eq!(
        u16::from_ne_bytes([bytes[6], bytes[7]]),
        NLM_F_REQUEST | NLM_F_ACK,
        "nlmsg_flags"
    );
    assert_eq!(
        u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize,
        bytes.len()
    );
    assert_eq!(to_hex(&bytes[16..]), golden, "{op}");
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}
fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().expect("v6"))
}
fn tcp(addr: IpAddr, port: u16) -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr,
        port,
    }
}

#[test]
fn service_commands_match_ipvsadm() {
    let vip = tcp(v4(10, 0, 0, 1), 80);
    // ipvsadm -A -t 10.0.0.1:80 -s wlc
    assert_encodes(
        Op::AddService(Service::new(vip, Scheduler::Wlc)),
        REQ_SVC_ADD_TCP_WLC,
    );
    // ipvsadm -A -u 10.0.0.2:53 -s rr -p 300 -M 255.255.255.0
    let mut udp = Service::new(
        ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: v4(10, 0, 0, 2),
            port: 53,
        },
        Scheduler::Rr,
    );
    udp.persistence = Some(300);
    udp.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
    assert_encodes(Op::AddService(udp), REQ_SVC_ADD_UDP_PERSIST);
    // ipvsadm -A -f 1 -s sh -b sh-fallback,sh-port
    let mut fwm = Service::new(
        ServiceKey::Fwmark {
            mark: 1,
            ipv6: false,
        },
        Scheduler::Sh,
    );
    fwm.flags = ServiceFlags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT);
    assert_encodes(Op::AddService(fwm), REQ_SVC_ADD_FWM_SH);
    // ipvsadm -A -t [2001:db8::1]:443 -s mh -b mh-port
    let mut mh = Service::new(tcp(v6("2001:db8::1"), 443), Scheduler::Mh);
    mh.flags = ServiceFlags(ServiceFlags::MH_PORT);
    assert_encodes(Op::AddService(mh), REQ_SVC_ADD_V6_MH);
    // ipvsadm -E -t 10.0.0.1:80 -s rr
    assert_encodes(
        Op::EditService(Service::new(vip, Scheduler::Rr)),
        REQ_SVC_EDIT,
    );
    // ipvsadm -D -t 10.0.0.1:80
    assert_encodes(Op::DelService(vip), REQ_SVC_DEL);
}

#[test]
fn destination_commands_match_ipvsadm() {
    let vip = tcp(v4(10, 0, 0, 1), 80);
    // ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 5 -x 100 -y 10
    let mut nat = Destination::new(v4(10, 0, 1, 1), 8080, Forward::Masq, 5);
    nat.upper_threshold = 100;
    nat.lower_threshold = 10;
    assert_encodes(Op::AddDest(vip, nat), REQ_DEST_ADD_NAT);
    // ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.2 -g -w 0
    let dr = Destination::new(v4(10, 0, 1, 2), 80, Forward::Route, 0);
    assert_encodes(Op::AddDest(vip, dr), REQ_DEST_ADD_DR);
    // ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.3 -i --tun-type gue --tun-port 6080 --tun-nocsum
    let mut gue = Destination::new(v4(10, 0, 1, 3), 80, Forward::Tunnel, 1);
    gue.tunnel_type = TunnelType::Gue;
    gue.tunnel_port = 6080;
    assert_encodes(Op::AddDest(vip, gue), REQ_DEST_ADD_TUN_GUE);
    // ipvsadm -a -t 10.0.0.1:80 -r 10.0.1.4 -i --tun-type gre --tun-csum
    let mut gre = Destination::new(v4(10, 0, 1, 4), 80, Forward::Tunnel, 1);
    gre.tunnel_type = TunnelType::Gre;
    gre.tunnel_flags = TUN_FLAG_CSUM;
    assert_encodes(Op::AddDest(vip, gre), REQ_DEST_ADD_TUN_GRE);
    // ipvsadm -a -t [2001:db8::1]:443 -r [2001:db8::10]:443 -m -w 65535
    let d6 = Destination::new(v6("2001:db8::10"), 443, Forward::Masq, 65535);
    assert_encodes(
        Op::AddDest(tcp(v6("2001:db8::1"), 443), d6),
        REQ_DEST_ADD_V6,
    );
    // ipvsadm -e -t 10.0.0.1:80 -r 10.0.1.1:8080 -m -w 7
    let edit = Destination::new(v4(10, 0, 1, 1), 8080, Forward::Masq, 7);
    assert_encodes(Op::EditDest(vip, edit), REQ_DEST_EDIT);
    // ipvsadm -d -t 10.0.0.1:80 -r 10.0.1.2
    assert_encodes(Op::DelDest(vip, v4(10, 0, 1, 2), 80), REQ_DEST_DEL);
}

#[test]
fn table_config_and_daemon_commands_match_ipvsadm() {
    // ipvsadm -Z
    assert_encodes(Op::Zero(None), REQ_ZERO);
    // ipvsadm -C
    assert_encodes(Op::Flush, REQ_FLUSH);
    // ipvsadm --set 900 120 300
    assert_encodes(
        Op::SetTimeouts(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }),
        REQ_TIMEOUT_SET,
    );
    // ipvsadm --start-daemon master --mcast-interface lo --syncid 5
    assert_encodes(
        Op::StartDaemon(SyncDaemon::new(SyncState::Master, "lo", 5)),
        REQ_DAEMON_START,
    );
    // ipvsadm --stop-daemon master
    assert_encodes(Op::StopDaemon(SyncState::Master), REQ_DAEMON_STOP);
}

/// Wraps a captured genl part in an nlmsghdr and parses it like a reply.
fn parse_reply(genl_hex: &str) -> IpvsMessage {
    let genl = hex(genl_hex);
    let mut buf = Vec::new();
    buf.extend_from_slice(&((genl.len() + 16) as u32).to_ne_bytes());
    buf.extend_from_slice(&FAMILY.to_ne_bytes());
    buf.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    buf.extend_from_slice(&[0; 8]);
    buf.extend_from_slice(&genl);
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(&buf).expect("parse");
    let NetlinkPayload::InnerMessage(genl) = msg.payload else {
        panic!("not an inner message")
    };
    // Re-emitting a parsed reply gives the same bytes (nest flags aside:
    // the kernel does not set NLA_F_NESTED, we do).
    genl.payload
}

#[test]
fn kernel_service_dump_decodes() {
    let services: Vec<Service> = REPLY_SERVICES
        .iter()
        .map(|h| {
            let msg = parse_reply(h);
            assert_eq!(msg.cmd, IpvsCmd::NewService);
            let IpvsAttr::Service(attrs) = &msg.attrs[0] else {
                panic!("no service nest")
            };
            Service::from_attrs(attrs).expect("service")
        })
        .collect();
    assert_eq!(services.len(), 4);
    let udp = &services[0];
    assert_eq!(
        udp.key,
        ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: v4(10, 0, 0, 2),
            port: 53
        }
    );
    assert_eq!(udp.persistence, Some(300));
    assert_eq!(udp.netmask_v4(), Ipv4Addr::new(255, 255, 255, 0));
    assert!(udp.flags.has(ServiceFlags::HASHED));
    let mh = &services[1];
    assert_eq!(mh.key, tcp(v6("2001:db8::1"), 443));
    assert_eq!(mh.scheduler, Scheduler::Mh);
    assert!(mh.flags.has(ServiceFlags::MH_PORT));
    assert_eq!(mh.netmask, 128);
    assert_eq!(services[2].key, tcp(v4(10, 0, 0, 1), 80));
    assert_eq!(services[2].scheduler, Scheduler::Rr);
    assert_eq!(
        services[3].key,
        ServiceKey::Fwmark {
            mark: 1,
            ipv6: false
        }
    );
    assert_eq!(
        services[3].flags.settable(),
        ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT
    );
}

#[test]
fn kernel_dest_dump_decodes() {
    let dests: Vec<Destination> = REPLY_DESTS
        .iter()
        .map(|h| {
            let msg = parse_reply(h);
            let IpvsAttr::Dest(attrs) = &msg.attrs[0] else {
                panic!("no dest nest")
            };
            // The kernel sends ADDR_FAMILY itself; the service AF is a fallback.
            Destination::from_attrs(attrs, AF_INET).expect("dest")
        })
        .collect();
    assert_eq!(dests.len(), 5);
    assert_eq!(
        (dests[0].addr, dests[0].forward),
        (v4(10, 0, 1, 4), Forward::Tunnel)
    );
    assert_eq!(
        (dests[0].tunnel_type, dests[0].tunnel_flags),
        (TunnelType::Gre, TUN_FLAG_CSUM)
    );
    assert_eq!(
        (dests[1].tunnel_type, dests[1].tunnel_port),
        (TunnelType::Gue, 6080)
    );
    assert_eq!((dests[2].forward, dests[2].weight), (Forward::Route, 0));
    assert_eq!(
        (dests[3].addr, dests[3].port, dests[3].weight),
        (v4(10, 0, 1, 1), 8080, 7)
    );
    assert_eq!(
        (dests[4].addr, dests[4].weight),
        (v6("2001:db8::10"), 65535)
    );
}

#[test]
fn kernel_info_timeouts_daemon_decode() {
    let info = parse_reply(REPLY_INFO);
    assert_eq!(info.cmd, IpvsCmd::SetInfo);
    assert_eq!(
        info.attrs,
        vec![
            IpvsAttr::Info(ipvs::wire::InfoAttr::Version(0x010201)),
            IpvsAttr::Info(ipvs::wire::InfoAttr::ConnTabSize(4096))
        ]
    );
    let t = parse_reply(REPLY_TIMEOUTS);
    assert_eq!(
        t.attrs,
        vec![
            IpvsAttr::TimeoutTcp(900),
            IpvsAttr::TimeoutTcpFin(120),
            IpvsAttr::TimeoutUdp(300)
        ]
    );
    let d = parse_reply(REPLY_DAEMON);
    let IpvsAttr::Daemon(attrs) = &d.attrs[0] else {
        panic!("no daemon nest")
    };
    let daemon = SyncDaemon::from_attrs(attrs).expect("daemon");
    assert_eq!(daemon.state, SyncState::Master);
    assert_eq!((daemon.mcast_ifn.as_str(), daemon.sync_id), ("lo", 5));
    assert_eq!((daemon.maxlen, daemon.port, daemon.ttl), (1472, 8848, 1));
    assert_eq!(daemon.group, Some(v4(224, 0, 0, 81)));
}
