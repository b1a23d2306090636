//! The async IPVS client: a thin I/O layer over [`crate::ops`] and
//! [`crate::frame`]. It owns a generic netlink socket; batches of
//! operations are pipelined (many requests per `sendmsg`, acks collected
//! afterwards and matched by sequence number), so a table of 10,000 real
//! servers costs a few hundred system calls rather than tens of thousands.

use std::collections::HashMap;
use std::task::{Context, Poll};

use bytes::BytesMut;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{AsyncSocket, AsyncSocketExt, Socket, SocketAddr, TokioSocket};

use crate::error::{BatchError, IpvsError};
use crate::frame::{parse_datagram, Reply};
use crate::model::{Destination, Info, Service, ServiceKey, SyncDaemon, Table, Timeouts};
use crate::ops::{dest_text, encode, encode_barrier, encode_unacked, Op, Query};
use crate::reconcile::{plan, OwnershipFilter, PlanSummary};
use crate::wire::{IpvsAttr, IpvsMessage, FAMILY_NAME};

/// Requests in flight at most by default: each pending ack takes
/// receive-buffer space in the kernel, and an overflowing buffer drops acks
/// (ENOBUFS).
pub const DEFAULT_WINDOW: usize = 256;

/// How a batch learns the outcome of each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckMode {
    /// Every request carries `NLM_F_ACK` (as ipvsadm sends them): one ack
    /// per request to read back.
    PerRequest,
    /// Requests go without `NLM_F_ACK`, so the kernel answers only those it
    /// refuses; each `sendmsg` ends with an `NLMSG_NOOP` barrier whose ack
    /// says every request before it was handled. Same failure reporting,
    /// a fraction of the receive calls.
    #[default]
    ErrorsOnly,
}
/// Largest single `sendmsg` we build.
const MAX_SEND_BYTES: usize = 64 * 1024;
const RECV_BUF: usize = 256 * 1024;
const SOCKET_RCVBUF: usize = 4 * 1024 * 1024;
const GENL_ID_CTRL: u16 = 0x10;

const ESRCH: i32 = 3;
const ENOENT: i32 = 2;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const EPERM: i32 = 1;

fn io(what: &str) -> impl FnOnce(std::io::Error) -> IpvsError + '_ {
    move |source| IpvsError::Io {
        what: what.to_owned(),
        source,
    }
}

/// A netlink socket used without an async runtime: every call blocks
/// until the kernel has answered, so the client's futures are always ready
/// and any executor (`futures::executor::block_on`) runs them. For
/// one-shot commands (`lvsd list`), which then start no runtime at all.
pub struct BlockingSocket(Socket);

impl AsyncSocket for BlockingSocket {
    fn socket_ref(&self) -> &Socket {
        &self.0
    }

    fn socket_mut(&mut self) -> &mut Socket {
        &mut self.0
    }

    fn new(protocol: isize) -> std::io::Result<Self> {
        Socket::new(protocol).map(BlockingSocket)
    }

    fn poll_send(&self, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.send(buf, 0))
    }

    fn poll_send_to(
        &self,
        _: &mut Context<'_>,
        buf: &[u8],
        addr: &SocketAddr,
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.send_to(buf, addr, 0))
    }

    fn poll_recv<B: bytes::BufMut>(
        &self,
        _: &mut Context<'_>,
        buf: &mut B,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.recv(buf, 0).map(|_| ()))
    }

    fn poll_recv_from<B: bytes::BufMut>(
        &self,
        _: &mut Context<'_>,
        buf: &mut B,
    ) -> Poll<std::io::Result<SocketAddr>> {
        Poll::Ready(self.0.recv_from(buf, 0).map(|(_, addr)| addr))
    }

    fn poll_recv_from_full(
        &self,
        _: &mut Context<'_>,
    ) -> Poll<std::io::Result<(Vec<u8>, SocketAddr)>> {
        Poll::Ready(self.0.recv_from_full())
    }
}

/// A connection to the kernel's IPVS, over a tokio socket (the daemon) or a
/// [`BlockingSocket`] (one-shot commands).
pub struct IpvsClient<S = TokioSocket> {
    socket: S,
    family_id: u16,
    next_seq: u32,
    recv_buf: BytesMut,
    window: usize,
    ack_mode: AckMode,
}

impl IpvsClient {
    /// Opens a generic netlink socket and resolves the IPVS family.
    pub async fn connect() -> Result<Self, IpvsError> {
        Self::open().await
    }
}

impl IpvsClient<BlockingSocket> {
    /// As [`IpvsClient::connect`], blocking: run its futures with any
    /// executor; no runtime needed.
    pub async fn connect_blocking() -> Result<Self, IpvsError> {
        Self::open().await
    }
}

impl<S: AsyncSocket> IpvsClient<S> {
    async fn open() -> Result<Self, IpvsError> {
        let mut socket = S::new(NETLINK_GENERIC).map_err(io("opening a netlink socket"))?;
        socket
            .socket_mut()
            .bind_auto()
            .map_err(io("binding the netlink socket"))?;
        socket
            .socket_ref()
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connecting the netlink socket"))?;
        // Small error acks (no copy of the request), large receive buffer;
        // both are optimisations, so failures are not fatal.
        let _ = socket.socket_ref().set_cap_ack(true);
        let _ = socket.socket_ref().set_rx_buf_sz(SOCKET_RCVBUF);
        let mut client = IpvsClient {
            socket,
            family_id: 0,
            next_seq: 1,
            recv_buf: BytesMut::with_capacity(RECV_BUF),
            window: DEFAULT_WINDOW,
            ack_mode: AckMode::default(),
        };
        client.family_id = client.resolve_family().await?;
        Ok(client)
    }

    /// The family id the kernel assigned to IPVS.
    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    /// Sets how many requests may wait for their acks at once (1 = the
    /// request/ack lockstep of ipvsadm; for measurements).
    pub fn set_window(&mut self, window: usize) {
        self.window = window.max(1);
    }

    /// Sets how batches learn each request's outcome.
    pub fn set_ack_mode(&mut self, mode: AckMode) {
        self.ack_mode = mode;
    }

    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        s
    }

    async fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let seq = self.seq();
        let mut genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(FAMILY_NAME.to_owned())],
        });
        genl.set_resolved_family_id(GENL_ID_CTRL);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.send_all(&buf, "resolving the IPVS family").await?;
        let mut family = None;
        loop {
            for reply in self.recv("resolving the IPVS family").await? {
                if reply.seq() != seq {
                    continue;
                }
                match reply {
                    Reply::Other { bytes, .. } => {
                        let msg = NetlinkMessage::<GenlMessage<GenlCtrl>>::deserialize(&bytes)
                            .map_err(|e| IpvsError::Decode {
                                what: "CTRL_CMD_GETFAMILY".into(),
                                detail: e.to_string(),
                            })?;
                        if let NetlinkPayload::InnerMessage(g) = msg.payload {
                            family = g.payload.nlas.iter().find_map(|a| match a {
                                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                                _ => None,
                            });
                        }
                    }
                    Reply::Error { errno: ENOENT, .. } => return Err(IpvsError::FamilyNotFound),
                    Reply::Error { errno, .. } => {
                        return Err(kernel_error("resolving the IPVS family", errno))
                    }
                    Reply::Ack { .. } => return family.ok_or(IpvsError::FamilyNotFound),
                    _ => {}
                }
            }
        }
    }

    async fn send_all(&self, buf: &[u8], what: &str) -> Result<(), IpvsError> {
        let n = self.socket.send(buf).await.map_err(io(what))?;
        if n != buf.len() {
            return Err(IpvsError::Io {
                what: what.to_owned(),
                source: std::io::Error::other(format!("short netlink send: {n} of {}", buf.len())),
            });
        }
        Ok(())
    }

    async fn recv(&mut self, what: &str) -> Result<Vec<Reply>, IpvsError> {
        self.recv_buf.clear();
        self.recv_buf.reserve(RECV_BUF);
        self.socket
            .recv(&mut self.recv_buf)
            .await
            .map_err(io(what))?;
        parse_datagram(&self.recv_buf, self.family_id).map_err(|detail| IpvsError::Decode {
            what: what.to_owned(),
            detail,
        })
    }

    /// Applies `ops` in order, pipelined: up to the window's worth of
    /// requests per `sendmsg`, outcomes matched by sequence number (see
    /// [`AckMode`]). Every operation is attempted; the error lists each one
    /// the kernel refused, with its index, in order.
    pub async fn apply(&mut self, ops: &[Op]) -> Result<(), BatchError> {
        let mut failures = Vec::new();
        let mut pending: HashMap<u32, usize> = HashMap::new();
        // Barrier seq -> the unacked requests it vouches for.
        let mut barriers: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut next = 0;
        let mut out = Vec::with_capacity(MAX_SEND_BYTES);
        while next < ops.len() || !pending.is_empty() {
            // Fill the window with as many requests as fit in one sendmsg.
            out.clear();
            let mut batch = Vec::new();
            while next < ops.len() && pending.len() + batch.len() < self.window {
                let seq = self.seq();
                let bytes = match self.ack_mode {
                    AckMode::PerRequest => encode(ops[next].message(), self.family_id, seq, false),
                    AckMode::ErrorsOnly => encode_unacked(ops[next].message(), self.family_id, seq),
                };
                if !out.is_empty() && out.len() + bytes.len() > MAX_SEND_BYTES {
                    // Roll the sequence number back: this op goes next time.
                    self.next_seq = seq;
                    break;
                }
                out.extend_from_slice(&bytes);
                batch.push((seq, next));
                next += 1;
            }
            let mut barrier = None;
            if !out.is_empty() && self.ack_mode == AckMode::ErrorsOnly {
                let seq = self.seq();
                out.extend_from_slice(&encode_barrier(seq));
                barrier = Some(seq);
            }
            if !out.is_empty() {
                if let Err(e) = self.send_all(&out, "sending IPVS requests").await {
                    // Nothing of this chunk reached the kernel.
                    let text = e.to_string();
                    for (_, idx) in batch {
                        failures.push((
                            idx,
                            IpvsError::Io {
                                what: format!("{}: {text}", ops[idx]),
                                source: std::io::Error::other(text.clone()),
                            },
                        ));
                    }
                    continue;
                }
                if let Some(b) = barrier {
                    barriers.insert(b, batch.iter().map(|(seq, _)| *seq).collect());
                }
                pending.extend(batch);
            }
            if pending.is_empty() {
                continue;
            }
            let replies = match self.recv("reading IPVS acks").await {
                Ok(r) => r,
                Err(e) => {
                    // The socket is unusable: every pending op is unknown.
                    let text = e.to_string();
                    let mut lost: Vec<usize> = pending.drain().map(|(_, i)| i).collect();
                    lost.sort_unstable();
                    for idx in lost.into_iter().chain(next..ops.len()) {
                        failures.push((
                            idx,
                            IpvsError::Io {
                                what: format!("{}: {text}", ops[idx]),
                                source: std::io::Error::other(text.clone()),
                            },
                        ));
                    }
                    break;
                }
            };
            for reply in replies {
                match reply {
                    Reply::Ack { seq } => {
                        pending.remove(&seq);
                        // Requests before a barrier that sent no error succeeded.
                        for done in barriers.remove(&seq).unwrap_or_default() {
                            pending.remove(&done);
                        }
                    }
                    Reply::Error { seq, errno } => {
                        if let Some(idx) = pending.remove(&seq) {
                            failures.push((idx, op_error(&ops[idx], errno)));
                        }
                    }
                    _ => {}
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            failures.sort_by_key(|(i, _)| *i);
            Err(BatchError {
                total: ops.len(),
                failures,
            })
        }
    }

    /// Applies one operation.
    pub async fn apply_one(&mut self, op: &Op) -> Result<(), IpvsError> {
        match self.apply(std::slice::from_ref(op)).await {
            Ok(()) => Ok(()),
            Err(mut e) => match e.failures.pop() {
                Some((_, err)) => Err(err),
                None => Ok(()),
            },
        }
    }

    /// Runs a GET (dump or not) and returns the IPVS payloads.
    async fn query(&mut self, q: &Query) -> Result<Vec<IpvsMessage>, IpvsError> {
        let what = q.to_string();
        let seq = self.seq();
        let bytes = encode(q.message(), self.family_id, seq, q.is_dump());
        self.send_all(&bytes, &what).await?;
        let mut out = Vec::new();
        loop {
            for reply in self.recv(&what).await? {
                if reply.seq() != seq {
                    continue;
                }
                match reply {
                    // A plain GET is answered by one message then an ack; a
                    // dump by NLM_F_MULTI parts then NLMSG_DONE.
                    Reply::Ipvs { msg, .. } => out.push(msg),
                    Reply::Done { .. } => return Ok(out),
                    Reply::Ack { .. } if !q.is_dump() => return Ok(out),
                    Reply::Error { errno, .. } => return Err(query_error(q, errno)),
                    _ => {}
                }
            }
        }
    }

    /// All virtual services, with stats.
    pub async fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let msgs = self.query(&Query::Services).await?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            for a in m.attrs {
                if let IpvsAttr::Service(attrs) = a {
                    out.push(
                        Service::from_attrs(&attrs).map_err(|source| IpvsError::Model {
                            what: "IPVS_CMD_GET_SERVICE".into(),
                            source,
                        })?,
                    );
                }
            }
        }
        Ok(out)
    }

    /// The real servers of one service, with counters. The kernel answers
    /// for a service that does not exist with an empty dump, so this is
    /// `Ok(vec![])` then.
    pub async fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Destination>, IpvsError> {
        let msgs = self.query(&Query::Dests(*key)).await?;
        let mut out = Vec::with_capacity(msgs.len());
        for m in msgs {
            for a in m.attrs {
                if let IpvsAttr::Dest(attrs) = a {
                    out.push(Destination::from_attrs(&attrs, key.af()).map_err(|source| {
                        IpvsError::Model {
                            what: format!("IPVS_CMD_GET_DEST of {key}"),
                            source,
                        }
                    })?);
                }
            }
        }
        Ok(out)
    }

    /// The whole table: every service and its real servers.
    pub async fn table(&mut self) -> Result<Table, IpvsError> {
        let services = self.services().await?;
        let mut table = Table {
            services: Vec::with_capacity(services.len()),
        };
        for s in services {
            let dests = self.dests(&s.key).await?;
            table.services.push((s, dests));
        }
        Ok(table)
    }

    /// One reconcile pass: dumps the table, plans the minimal changes
    /// toward `desired` (see [`crate::reconcile::plan`]) and applies them.
    /// Returns what was done; a failed dump is reported as a batch failure
    /// at index 0 with nothing applied.
    pub async fn reconcile(
        &mut self,
        desired: &Table,
        owned: &OwnershipFilter,
    ) -> Result<PlanSummary, BatchError> {
        let current = self.table().await.map_err(|e| BatchError {
            total: 0,
            failures: vec![(0, e)],
        })?;
        let ops = plan(desired, &current, owned);
        self.apply(&ops).await?;
        Ok(PlanSummary::of(&ops))
    }

    /// IPVS version and connection table size.
    pub async fn info(&mut self) -> Result<Info, IpvsError> {
        let msgs = self.query(&Query::Info).await?;
        let mut info = Info {
            version: 0,
            conn_table_size: 0,
        };
        for a in msgs.into_iter().flat_map(|m| m.attrs) {
            match a {
                IpvsAttr::Info(crate::wire::InfoAttr::Version(v)) => info.version = v,
                IpvsAttr::Info(crate::wire::InfoAttr::ConnTabSize(v)) => info.conn_table_size = v,
                _ => {}
            }
        }
        Ok(info)
    }

    /// TCP, TCP FIN and UDP timeouts.
    pub async fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let msgs = self.query(&Query::Timeouts).await?;
        let mut t = Timeouts::default();
        for a in msgs.into_iter().flat_map(|m| m.attrs) {
            match a {
                IpvsAttr::TimeoutTcp(v) => t.tcp = v,
                IpvsAttr::TimeoutTcpFin(v) => t.tcp_fin = v,
                IpvsAttr::TimeoutUdp(v) => t.udp = v,
                _ => {}
            }
        }
        Ok(t)
    }

    /// Running sync daemons.
    pub async fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        let msgs = self.query(&Query::Daemons).await?;
        let mut out = Vec::new();
        for a in msgs.into_iter().flat_map(|m| m.attrs) {
            if let IpvsAttr::Daemon(attrs) = a {
                out.push(
                    SyncDaemon::from_attrs(&attrs).map_err(|source| IpvsError::Model {
                        what: "IPVS_CMD_GET_DAEMON".into(),
                        source,
                    })?,
                );
            }
        }
        Ok(out)
    }
}

fn kernel_error(op: &str, errno: i32) -> IpvsError {
    IpvsError::Kernel {
        op: op.to_owned(),
        errno,
        message: std::io::Error::from_raw_os_error(errno).to_string(),
    }
}

fn query_error(q: &Query, errno: i32) -> IpvsError {
    match (q, errno) {
        (Query::Dests(k), ESRCH) => IpvsError::ServiceNotFound {
            service: k.to_string(),
        },
        _ => kernel_error(&q.to_string(), errno),
    }
}

/// What a service add or edit refused with ENOENT lacks: the kernel looks
/// the scheduler (and persistence engine) up by name and, failing that,
/// asks modprobe for `ip_vs_<name>` (`ip_vs_pe_<name>`).
fn missing_module_text(s: &crate::model::Service) -> String {
    let sched = s.scheduler.name();
    match &s.pe_name {
        Some(pe) => format!(
            "the kernel has no scheduler {sched} or no persistence engine {pe} (modules ip_vs_{sched}, ip_vs_pe_{pe} not loaded and not loadable)"
        ),
        None => format!(
            "the kernel has no scheduler {sched} (module ip_vs_{sched} not loaded and not loadable)"
        ),
    }
}

/// Maps a kernel errno to the typed error for `op` (ip_vs_ctl.c's codes:
/// ESRCH = no such service, ENOENT = no such dest or scheduler, EEXIST).
pub fn op_error(op: &Op, errno: i32) -> IpvsError {
    let service = op.service().map(|k| k.to_string()).unwrap_or_default();
    let dest = op.dest().map(|(a, p)| dest_text(a, p)).unwrap_or_default();
    match (op, errno) {
        (Op::AddService(_), EEXIST) => IpvsError::ServiceExists { service },
        (Op::AddService(s) | Op::EditService(s), ENOENT) => IpvsError::SchedulerNotFound {
            op: op.to_string(),
            missing: missing_module_text(s),
        },
        (_, ESRCH) if op.service().is_some() => IpvsError::ServiceNotFound { service },
        (Op::AddDest(..), EEXIST) => IpvsError::DestinationExists { service, dest },
        (Op::EditDest(..) | Op::DelDest(..), ENOENT) => {
            IpvsError::DestinationNotFound { service, dest }
        }
        (_, EINVAL) => IpvsError::InvalidArgument { op: op.to_string() },
        (_, EPERM) => IpvsError::PermissionDenied { op: op.to_string() },
        _ => kernel_error(&op.to_string(), errno),
    }
}
