//! Operations on the IPVS table and their requests, encoded as ipvsadm
//! 1.31 encodes them (so golden vectors captured from ipvsadm compare byte
//! for byte). Pure.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::GenlMessage;

use crate::model::{Destination, Forward, Service, ServiceKey, SyncDaemon, SyncState, Timeouts};
use crate::model::{Scheduler, ServiceFlags};
use crate::wire::{DaemonAttr, IpvsAttr, IpvsCmd, IpvsMessage, ServiceAttr};

/// One change to the kernel's IPVS state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Destination),
    EditDest(ServiceKey, Destination),
    DelDest(ServiceKey, IpAddr, u16),
    Flush,
    /// Zero the counters of one service, or of all when `None`.
    Zero(Option<ServiceKey>),
    SetTimeouts(Timeouts),
    StartDaemon(SyncDaemon),
    StopDaemon(SyncState),
}

impl Op {
    /// The operation's kind, for counting (`add_service`, `del_dest`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::AddService(_) => "add_service",
            Op::EditService(_) => "edit_service",
            Op::DelService(_) => "del_service",
            Op::AddDest(..) => "add_dest",
            Op::EditDest(..) => "edit_dest",
            Op::DelDest(..) => "del_dest",
            Op::Flush => "flush",
            Op::Zero(_) => "zero",
            Op::SetTimeouts(_) => "set_timeouts",
            Op::StartDaemon(_) => "start_daemon",
            Op::StopDaemon(_) => "stop_daemon",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::AddService(s) => write!(f, "add service {}", s.key),
            Op::EditService(s) => write!(f, "edit service {}", s.key),
            Op::DelService(k) => write!(f, "delete service {k}"),
            Op::AddDest(k, d) => write!(f, "add real server {} to {k}", dest_text(d.addr, d.port)),
            Op::EditDest(k, d) => {
                write!(f, "edit real server {} of {k}", dest_text(d.addr, d.port))
            }
            Op::DelDest(k, a, p) => write!(f, "delete real server {} of {k}", dest_text(*a, *p)),
            Op::Flush => f.write_str("flush the table"),
            Op::Zero(Some(k)) => write!(f, "zero counters of {k}"),
            Op::Zero(None) => f.write_str("zero all counters"),
            Op::SetTimeouts(t) => write!(f, "set timeouts {} {} {}", t.tcp, t.tcp_fin, t.udp),
            Op::StartDaemon(d) => write!(f, "start {:?} sync daemon", d.state),
            Op::StopDaemon(s) => write!(f, "stop {s:?} sync daemon"),
        }
    }
}

pub(crate) fn dest_text(addr: IpAddr, port: u16) -> String {
    crate::model::SocketText(addr, port).to_string()
}

/// The service nest ipvsadm sends when only the key matters (DEL_SERVICE,
/// destination commands, ZERO): its command-line defaults fill the rest.
pub fn service_ref_attrs(key: &ServiceKey) -> Vec<ServiceAttr> {
    let mut s = Service::new(*key, Scheduler::Other(String::new()));
    s.flags = ServiceFlags(0);
    s.attrs()
}

impl Op {
    /// The request payload for this operation.
    pub fn message(&self) -> IpvsMessage {
        let (cmd, attrs) = match self {
            Op::AddService(s) => (IpvsCmd::NewService, vec![IpvsAttr::Service(s.attrs())]),
            Op::EditService(s) => (IpvsCmd::SetService, vec![IpvsAttr::Service(s.attrs())]),
            Op::DelService(k) => (
                IpvsCmd::DelService,
                vec![IpvsAttr::Service(service_ref_attrs(k))],
            ),
            Op::AddDest(k, d) => (
                IpvsCmd::NewDest,
                vec![
                    IpvsAttr::Service(service_ref_attrs(k)),
                    IpvsAttr::Dest(d.attrs(k)),
                ],
            ),
            Op::EditDest(k, d) => (
                IpvsCmd::SetDest,
                vec![
                    IpvsAttr::Service(service_ref_attrs(k)),
                    IpvsAttr::Dest(d.attrs(k)),
                ],
            ),
            Op::DelDest(k, addr, port) => {
                // ipvsadm's defaults for the fields the kernel ignores here.
                let d = Destination::new(*addr, *port, Forward::Route, 1);
                (
                    IpvsCmd::DelDest,
                    vec![
                        IpvsAttr::Service(service_ref_attrs(k)),
                        IpvsAttr::Dest(d.attrs(k)),
                    ],
                )
            }
            Op::Flush => (IpvsCmd::Flush, vec![]),
            Op::Zero(None) => (IpvsCmd::Zero, vec![]),
            Op::Zero(Some(k)) => (IpvsCmd::Zero, vec![IpvsAttr::Service(service_ref_attrs(k))]),
            Op::SetTimeouts(t) => (
                IpvsCmd::SetConfig,
                vec![
                    IpvsAttr::TimeoutTcp(t.tcp),
                    IpvsAttr::TimeoutTcpFin(t.tcp_fin),
                    IpvsAttr::TimeoutUdp(t.udp),
                ],
            ),
            Op::StartDaemon(d) => (IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(d.attrs())]),
            Op::StopDaemon(state) => (
                IpvsCmd::DelDaemon,
                vec![IpvsAttr::Daemon(vec![
                    DaemonAttr::State(state.code()),
                    DaemonAttr::McastIfn(String::new()),
                    DaemonAttr::SyncId(0),
                ])],
            ),
        };
        IpvsMessage::new(cmd, attrs)
    }

    /// The service this operation concerns, if any.
    pub fn service(&self) -> Option<ServiceKey> {
        match self {
            Op::AddService(s) | Op::EditService(s) => Some(s.key),
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, ..) => {
                Some(*k)
            }
            Op::Zero(k) => *k,
            _ => None,
        }
    }

    /// The real server this operation concerns, if any.
    pub fn dest(&self) -> Option<(IpAddr, u16)> {
        match self {
            Op::AddDest(_, d) | Op::EditDest(_, d) => Some(d.key()),
            Op::DelDest(_, a, p) => Some((*a, *p)),
            _ => None,
        }
    }
}

/// Dump requests (GET with NLM_F_DUMP) and plain GETs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Services,
    Dests(ServiceKey),
    Info,
    Timeouts,
    Daemons,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Services => f.write_str("IPVS_CMD_GET_SERVICE (dump)"),
            Query::Dests(k) => write!(f, "IPVS_CMD_GET_DEST (dump) of {k}"),
            Query::Info => f.write_str("IPVS_CMD_GET_INFO"),
            Query::Timeouts => f.write_str("IPVS_CMD_GET_CONFIG"),
            Query::Daemons => f.write_str("IPVS_CMD_GET_DAEMON (dump)"),
        }
    }
}

impl Query {
    pub fn message(&self) -> IpvsMessage {
        match self {
            Query::Services => IpvsMessage::new(IpvsCmd::GetService, vec![]),
            Query::Dests(k) => {
                IpvsMessage::new(IpvsCmd::GetDest, vec![IpvsAttr::Service(k.attrs())])
            }
            Query::Info => IpvsMessage::new(IpvsCmd::GetInfo, vec![]),
            Query::Timeouts => IpvsMessage::new(IpvsCmd::GetConfig, vec![]),
            Query::Daemons => IpvsMessage::new(IpvsCmd::GetDaemon, vec![]),
        }
    }
    pub fn is_dump(&self) -> bool {
        matches!(self, Query::Services | Query::Dests(_) | Query::Daemons)
    }
}

/// Frames a payload as a netlink message: `NLM_F_REQUEST | NLM_F_ACK`
/// (plus `NLM_F_DUMP` for dumps), as ipvsadm does.
pub fn encode(msg: IpvsMessage, family_id: u16, seq: u32, dump: bool) -> Vec<u8> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
    encode_with_flags(msg, family_id, seq, flags)
}

/// Frames a payload with exactly these netlink header flags.
pub fn encode_with_flags(msg: IpvsMessage, family_id: u16, seq: u32, flags: u16) -> Vec<u8> {
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    frame(NetlinkPayload::InnerMessage(genl), seq, flags)
}

/// A request without `NLM_F_ACK`: the kernel answers it only when it fails.
pub fn encode_unacked(msg: IpvsMessage, family_id: u16, seq: u32) -> Vec<u8> {
    encode_with_flags(msg, family_id, seq, NLM_F_REQUEST)
}

/// An `NLMSG_NOOP` with `NLM_F_ACK`: the kernel acks it after handling
/// every earlier message of the socket, so its ack marks the end of a
/// batch of unacked requests.
pub fn encode_barrier(seq: u32) -> Vec<u8> {
    frame(NetlinkPayload::Noop, seq, NLM_F_REQUEST | NLM_F_ACK)
}

fn frame(payload: NetlinkPayload<GenlMessage<IpvsMessage>>, seq: u32, flags: u16) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut nl = NetlinkMessage::new(header, payload);
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barrier_is_an_acked_noop_header() {
        // nlmsghdr: len 16, type NLMSG_NOOP (1), flags REQUEST|ACK (5), seq 7, pid 0.
        assert_eq!(
            encode_barrier(7),
            [16, 0, 0, 0, 1, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn unacked_request_differs_from_ipvsadms_only_in_flags() {
        let op = Op::Flush;
        let acked = encode(op.message(), 0x1c, 3, false);
        let unacked = encode_unacked(op.message(), 0x1c, 3);
        assert_eq!(acked.len(), unacked.len());
        assert_eq!(
            u16::from_ne_bytes([acked[6], acked[7]]),
            NLM_F_REQUEST | NLM_F_ACK
        );
        assert_eq!(u16::from_ne_bytes([unacked[6], unacked[7]]), NLM_F_REQUEST);
        assert_eq!(acked[8..], unacked[8..]);
    }
}
