//! Slotted HTTP exchanges submitted together through io_uring.
//!
//! A slotted check (see `http::exchange_in_slots`) makes one system call per step:
//! connect, send, read, close. Each is a trap into the kernel, which in a virtual guest
//! (and under UML's ptrace, very much so) costs more than the network work it asks for.
//! Here a check hands its request and read buffer to the runner's ring: the kernel opens
//! the socket (or the check does, when it must set options on it: `bindto`, `bind_port`,
//! `fwmark`, `bind_if`), then runs one linked chain (connect, then send, then one read).
//! The checks of a start slot queue their chains and the runner submits them together, in
//! the same wake-up (see `SlotRing::queued`), in one `io_uring_enter` (two when sockets
//! were opened: their chains follow in the same turn); the runner's slot tickers reap what
//! completed at the next slot. Closes go through the ring too, so a check makes no socket
//! system call of its own.
//!
//! The ring is created with `COOP_TASKRUN`: completions are posted when the runner next
//! enters the ring, not by interrupting whatever the thread sleeps in, which matches the
//! slots (a check is looked at in the slot after its exchange was submitted, as without
//! the ring). Where io_uring is missing or refused (old kernels, containers with
//! `kernel.io_uring_disabled`, seccomp), `SlotRing::new` fails and checks make their
//! system calls one by one, as before.
//!
//! Memory the kernel writes or reads (address, request, read buffer) belongs to the ring
//! until every operation of the chain has completed, also when the check gave up (timed
//! out or aborted): its chain is cancelled and the entry freed on the last completion.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use io_uring::{opcode, squeue, types, IoUring};
use socket2::{SockAddr, Socket};

/// Submission queue entries; a chain takes three. More than this many queued between two
/// slots are submitted in several rounds of the same turn.
const RING_ENTRIES: u32 = 1024;

/// The operations of a chain, in `user_data`'s low bits; the rest is the exchange's index.
const OP_CONNECT: u64 = 0;
const OP_SEND: u64 = 1;
const OP_RECV: u64 = 2;
const OP_SOCKET: u64 = 3;
/// Closes and cancels: nothing waits for them.
const OP_UNTRACKED: u64 = 7;
const OP_BITS: u32 = 3;

/// The results of one chain, for the check that submitted it.
#[derive(Debug)]
pub struct Exchanged {
    /// The socket, for a check that must go on (a reply longer than one read) or close it.
    pub socket: Socket,
    /// The connect's error, if it failed (refused, unreachable).
    pub connect: io::Result<()>,
    /// Bytes of the request sent (0 when the connect failed); an error if the send failed.
    pub sent: io::Result<usize>,
    /// What the one read got (its bytes are `buffer[..n]`), or its error.
    pub received: io::Result<usize>,
    pub buffer: Vec<u8>,
}

/// One chain in flight. Boxed: the kernel holds pointers into it.
struct Entry {
    socket: Option<Socket>,
    address: SockAddr,
    request: Box<[u8]>,
    buffer: Vec<u8>,
    results: [Option<i32>; 3],
    /// The socket is being opened on the ring; its chain is queued when it is.
    opening: bool,
    /// Opening the socket failed with this errno.
    open_error: Option<i32>,
    /// The check no longer waits (timed out, aborted): free on the last completion.
    abandoned: bool,
    waker: Option<Waker>,
}

impl Entry {
    fn complete(&self) -> bool {
        !self.opening && self.results.iter().all(Option::is_some)
    }

    /// The linked connect, send and read of this entry's socket `fd`.
    fn chain(&mut self, index: usize, fd: i32) -> Vec<squeue::Entry> {
        let fd = types::Fd(fd);
        let link = squeue::Flags::IO_LINK;
        let request_len = u32::try_from(self.request.len()).unwrap_or(u32::MAX);
        let buffer_len = u32::try_from(self.buffer.len()).unwrap_or(u32::MAX);
        vec![
            opcode::Connect::new(fd, self.address.as_ptr().cast(), self.address.len())
                .build()
                .flags(link)
                .user_data(user_data(index, OP_CONNECT)),
            opcode::Send::new(fd, self.request.as_ptr(), request_len)
                .flags(nix::libc::MSG_NOSIGNAL)
                .build()
                .flags(link)
                .user_data(user_data(index, OP_SEND)),
            opcode::Recv::new(fd, self.buffer.as_mut_ptr(), buffer_len)
                .build()
                .user_data(user_data(index, OP_RECV)),
        ]
    }

    /// Its chain will not run: every step reads as cancelled.
    fn cancel_chain(&mut self) {
        self.results = [Some(-nix::libc::ECANCELED); 3];
    }
}

struct Inner {
    ring: IoUring,
    /// Entries waiting for room in the submission queue, in order; a chain goes in whole
    /// (a link left open at the end of a submission would end there).
    queued: std::collections::VecDeque<Vec<squeue::Entry>>,
    entries: Vec<Option<Box<Entry>>>,
    free: Vec<usize>,
    /// Sockets to close at the next turn (a close on the ring each).
    closing: Vec<OwnedFd>,
    /// The ring failed: no new chains; those in flight are left to the kernel.
    broken: Option<String>,
    /// The kernel opens sockets on the ring (IORING_OP_SOCKET, Linux 5.19).
    opens_sockets: bool,
    /// Being dropped: a socket opened now gets no chain.
    dropping: bool,
}

/// The runner's ring (see the module's comment). Shared by its checks and its slot ticker.
pub struct SlotRing {
    inner: Mutex<Inner>,
    /// Signalled when a chain is queued on an empty queue (see `queued`).
    queued: tokio::sync::Notify,
}

fn user_data(index: usize, op: u64) -> u64 {
    ((index as u64) << OP_BITS) | op
}

fn os_result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

impl SlotRing {
    /// A ring, if this kernel has io_uring with every operation a chain needs and lets
    /// this process use it.
    pub fn new() -> io::Result<SlotRing> {
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(RING_ENTRIES)?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        let opens_sockets = probe.is_supported(opcode::Socket::CODE);
        for code in [
            opcode::Connect::CODE,
            opcode::Send::CODE,
            opcode::Recv::CODE,
            opcode::Close::CODE,
            opcode::AsyncCancel2::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("io_uring lacks operation {code}"),
                ));
            }
        }
        Ok(SlotRing {
            inner: Mutex::new(Inner {
                ring,
                queued: Default::default(),
                entries: Vec::new(),
                free: Vec::new(),
                closing: Vec::new(),
                broken: None,
                opens_sockets,
                dropping: false,
            }),
            queued: tokio::sync::Notify::new(),
        })
    }

    /// Queues `socket`'s chain: connect to `address`, send `request`, read once into a
    /// buffer of `read_size` bytes. Submitted at the ring's next turn. The socket back
    /// if the ring failed.
    pub fn exchange(
        self: &Arc<Self>,
        socket: Socket,
        address: SockAddr,
        request: &[u8],
        read_size: usize,
    ) -> Result<Pending, Socket> {
        let Ok(mut inner) = self.inner.lock() else {
            return Err(socket);
        };
        if inner.broken.is_some() {
            return Err(socket);
        }
        let fd = socket.as_raw_fd();
        let entry = Entry::new(Some(socket), address, request, read_size);
        let index = inner.insert(entry);
        let first = inner.queued.is_empty();
        if let Some(Some(entry)) = inner.entries.get_mut(index) {
            let chain = entry.chain(index, fd);
            inner.queued.push_back(chain);
        }
        drop(inner);
        if first {
            self.queued.notify_one();
        }
        Ok(Pending {
            ring: self.clone(),
            index: Some(index),
        })
    }

    /// `exchange` with the socket opened on the ring too (a plain TCP socket, nothing set
    /// on it): at the ring's next turn the kernel opens it and the chain follows in the
    /// same turn. `None` if this kernel cannot, or the ring failed.
    pub fn exchange_opening(
        self: &Arc<Self>,
        address: SockAddr,
        request: &[u8],
        read_size: usize,
    ) -> Option<Pending> {
        let mut inner = self.inner.lock().ok()?;
        if inner.broken.is_some() || !inner.opens_sockets {
            return None;
        }
        let domain = address.domain();
        let mut entry = Entry::new(None, address, request, read_size);
        entry.opening = true;
        let index = inner.insert(entry);
        let kind = nix::libc::SOCK_STREAM | nix::libc::SOCK_NONBLOCK | nix::libc::SOCK_CLOEXEC;
        let first = inner.queued.is_empty();
        inner.queued.push_back(vec![opcode::Socket::new(
            domain.into(),
            kind,
            nix::libc::IPPROTO_TCP,
        )
        .build()
        .user_data(user_data(index, OP_SOCKET))]);
        drop(inner);
        if first {
            self.queued.notify_one();
        }
        Some(Pending {
            ring: self.clone(),
            index: Some(index),
        })
    }

    /// Returns once a chain was queued (on an empty queue) since the last call: the runner
    /// then turns the ring in the same wake-up as the checks that queued (they were woken
    /// together, by their start slot's timers, and run before a task they notify), so a
    /// slot's chains are submitted when it starts and their replies looked at one slot on.
    pub async fn queued(&self) {
        self.queued.notified().await;
    }

    /// Closes `socket` through the ring (at the next turn), sparing the check a system call.
    pub fn close(&self, socket: Socket) {
        match self.inner.lock() {
            Ok(mut inner) if inner.broken.is_none() => inner.closing.push(socket.into()),
            _ => drop(socket),
        }
    }

    /// A turn: submits what was queued and reaps what completed, in one enter
    /// (more only when the queue holds more than the ring does), then wakes the checks
    /// whose chains completed.
    pub fn turn(&self) {
        let mut wake = Vec::new();
        if let Ok(mut inner) = self.inner.lock() {
            inner.turn(&mut wake);
        }
        for waker in wake {
            waker.wake();
        }
    }

    /// Whether the ring failed (checks then take their plain system calls).
    pub fn is_broken(&self) -> bool {
        self.inner.lock().map_or(true, |i| i.broken.is_some())
    }

    /// Chains in flight or done but not yet taken (for tests and the drop).
    #[cfg(test)]
    fn entries_held(&self) -> usize {
        self.inner
            .lock()
            .map(|i| i.entries.iter().filter(|e| e.is_some()).count())
            .unwrap_or(0)
    }
}

impl Entry {
    fn new(socket: Option<Socket>, address: SockAddr, request: &[u8], read_size: usize) -> Self {
        Entry {
            socket,
            address,
            request: request.into(),
            buffer: vec![0; read_size.max(1)],
            results: [None; 3],
            opening: false,
            open_error: None,
            abandoned: false,
            waker: None,
        }
    }
}

impl Inner {
    /// Stores `entry` (boxed: its address is what the kernel is given) in a free place.
    fn insert(&mut self, entry: Entry) -> usize {
        let entry = Some(Box::new(entry));
        match self.free.pop() {
            Some(index) => {
                self.entries[index] = entry;
                index
            }
            None => {
                self.entries.push(entry);
                self.entries.len() - 1
            }
        }
    }

    fn turn(&mut self, wake: &mut Vec<Waker>) {
        if self.broken.is_some() {
            return;
        }
        // A bound, should the kernel keep refusing for the moment (EAGAIN, EBUSY).
        for _ in 0..8 {
            {
                let mut sq = self.ring.submission();
                while let Some(fd) = self.closing.last() {
                    let close = opcode::Close::new(types::Fd(fd.as_raw_fd()))
                        .build()
                        .user_data(OP_UNTRACKED);
                    // SAFETY: a close holds no pointer.
                    if unsafe { sq.push(&close) }.is_err() {
                        break;
                    }
                    // The descriptor now belongs to the close.
                    if let Some(fd) = self.closing.pop() {
                        let _ = fd.into_raw_fd();
                    }
                }
                while let Some(group) = self.queued.front() {
                    // SAFETY: every pointer in a queued entry points into a boxed `Entry`,
                    // which lives until its last completion is reaped.
                    if unsafe { sq.push_multiple(group) }.is_err() {
                        break;
                    }
                    self.queued.pop_front();
                }
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::EINTR | nix::libc::EAGAIN | nix::libc::EBUSY)
                    ) => {}
                Err(e) => {
                    tracing::warn!("io_uring for slotted checks failed ({e}); checks use plain system calls from now on");
                    self.broken = Some(e.to_string());
                    self.fail_waiting(wake);
                    return;
                }
            }
            self.reap(wake);
            if self.queued.is_empty() && self.closing.is_empty() {
                return;
            }
        }
    }

    fn reap(&mut self, wake: &mut Vec<Waker>) {
        let completed: Vec<(u64, i32)> = self
            .ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (data, res) in completed {
            let op = data & ((1 << OP_BITS) - 1);
            if op == OP_UNTRACKED {
                continue;
            }
            let index = (data >> OP_BITS) as usize;
            let Some(Some(entry)) = self.entries.get_mut(index) else {
                continue;
            };
            if op == OP_SOCKET {
                entry.opening = false;
                if res < 0 {
                    entry.open_error = Some(-res);
                    entry.cancel_chain();
                } else {
                    // SAFETY: the kernel just opened `res` for this entry alone.
                    entry.socket = Some(unsafe { Socket::from_raw_fd(res) });
                    if entry.abandoned || self.broken.is_some() || self.dropping {
                        entry.cancel_chain();
                    } else {
                        let chain = entry.chain(index, res);
                        self.queued.push_back(chain);
                        continue;
                    }
                }
            } else if let Some(result) = entry.results.get_mut(op as usize) {
                *result = Some(res);
            }
            let Some(Some(entry)) = self.entries.get_mut(index) else {
                continue;
            };
            if !entry.complete() {
                continue;
            }
            if entry.abandoned {
                self.release(index);
            } else if let Some(waker) = entry.waker.take() {
                wake.push(waker);
            }
        }
    }

    /// A broken ring: checks waiting on it are woken to find it so. Their entries stay
    /// (the kernel may still hold their memory) until the ring is dropped.
    fn fail_waiting(&mut self, wake: &mut Vec<Waker>) {
        self.queued.clear();
        for entry in self.entries.iter_mut().flatten() {
            if let Some(waker) = entry.waker.take() {
                wake.push(waker);
            }
        }
    }

    fn release(&mut self, index: usize) {
        if let Some(slot) = self.entries.get_mut(index) {
            if let Some(entry) = slot.take() {
                if let Some(socket) = entry.socket {
                    self.closing.push(socket.into());
                }
                self.free.push(index);
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.dropping = true;
        // Cancel what is in flight and wait for it, so no buffer is freed under the kernel.
        let in_flight = self
            .entries
            .iter()
            .flatten()
            .filter(|e| !e.complete())
            .count();
        if in_flight > 0 && self.broken.is_none() {
            let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(OP_UNTRACKED);
            // SAFETY: a cancel holds no pointer.
            let pushed = unsafe { self.ring.submission().push(&cancel) }.is_ok();
            // At most a second: a bounded wait at exit or reload, never a hang.
            let tick = types::Timespec::new().nsec(10_000_000);
            let args = types::SubmitArgs::new().timespec(&tick);
            for _ in 0..100 {
                if !pushed {
                    break;
                }
                match self.ring.submitter().submit_with_args(1, &args) {
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(nix::libc::ETIME) => {}
                    Err(_) => break,
                }
                let mut none = Vec::new();
                self.reap(&mut none);
                if self.entries.iter().flatten().all(|e| e.complete()) {
                    break;
                }
            }
        }
        // Whatever the kernel may still write to is leaked rather than freed.
        for entry in self.entries.iter_mut() {
            if entry.as_ref().is_some_and(|e| !e.complete()) {
                if let Some(e) = entry.take() {
                    std::mem::forget(e);
                }
            }
        }
        // Sockets in `closing` close as they drop.
    }
}

/// A check's chain, until it completes. Dropping it early cancels the chain.
pub struct Pending {
    ring: Arc<SlotRing>,
    index: Option<usize>,
}

/// Why a chain gave no results.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The ring broke while the chain was in flight (the check is inconclusive).
    #[error("io_uring failed: {0}")]
    Broken(String),
    /// The kernel could not open the socket (`exchange_opening`).
    #[error("{0}")]
    Open(io::Error),
}

use ChainError::Broken as RingBroken;

impl Future for Pending {
    type Output = Result<Exchanged, ChainError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(index) = self.index else {
            return Poll::Ready(Err(RingBroken("polled after completion".into())));
        };
        let Ok(mut inner) = self.ring.inner.lock() else {
            return Poll::Ready(Err(RingBroken("lock poisoned".into())));
        };
        let Some(Some(entry)) = inner.entries.get_mut(index) else {
            return Poll::Ready(Err(RingBroken("chain lost".into())));
        };
        if !entry.complete() {
            if let Some(why) = &inner.broken {
                return Poll::Ready(Err(RingBroken(why.clone())));
            }
            if let Some(Some(entry)) = inner.entries.get_mut(index) {
                entry.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let Some(entry) = inner.entries.get_mut(index).and_then(Option::take) else {
            return Poll::Ready(Err(RingBroken("chain lost".into())));
        };
        inner.free.push(index);
        drop(inner);
        self.index = None;
        let Entry {
            socket,
            buffer,
            results,
            open_error,
            ..
        } = *entry;
        if let Some(errno) = open_error {
            return Poll::Ready(Err(ChainError::Open(io::Error::from_raw_os_error(errno))));
        }
        let Some(socket) = socket else {
            return Poll::Ready(Err(RingBroken("socket lost".into())));
        };
        let [connect, sent, received] = results.map(|r| os_result(r.unwrap_or(0)));
        Poll::Ready(Ok(Exchanged {
            socket,
            connect: connect.map(drop),
            sent,
            received,
            buffer,
        }))
    }
}

/// How far a chain got: for the reason a check gives when it times out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connecting,
    Sending,
    Reading,
}

impl Pending {
    /// The step the chain waits on (as of the ticker's last turn).
    pub fn stage(&self) -> Stage {
        let results = self
            .index
            .and_then(|i| {
                let inner = self.ring.inner.lock().ok()?;
                inner.entries.get(i)?.as_ref().map(|e| e.results)
            })
            .unwrap_or([None; 3]);
        match results {
            [None, ..] => Stage::Connecting,
            [Some(_), None, _] => Stage::Sending,
            _ => Stage::Reading,
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(index) = self.index else { return };
        let Ok(mut inner) = self.ring.inner.lock() else {
            return;
        };
        let Some(Some(entry)) = inner.entries.get_mut(index) else {
            return;
        };
        if entry.complete() {
            inner.release(index);
            return;
        }
        entry.abandoned = true;
        entry.waker = None;
        if let Some(fd) = entry.socket.as_ref().map(AsRawFd::as_raw_fd) {
            inner.queued.push_back(vec![opcode::AsyncCancel2::new(
                types::CancelBuilder::fd(types::Fd(fd)).all(),
            )
            .build()
            .user_data(OP_UNTRACKED)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::time::{Duration, Instant};

    fn ring() -> Arc<SlotRing> {
        Arc::new(SlotRing::new().expect("io_uring on the test machine"))
    }

    fn socket() -> Socket {
        Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM.nonblocking(),
            None,
        )
        .expect("socket")
    }

    /// Turns the ring (as the ticker does each slot) until `pending` completes.
    fn drive(ring: &SlotRing, pending: &mut Pending) -> Result<Exchanged, ChainError> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            ring.turn();
            if let Poll::Ready(done) = Pin::new(&mut *pending).poll(&mut cx) {
                return done;
            }
            assert!(Instant::now() < until, "the chain never completed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_chain_connects_sends_and_reads_once() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut request = [0u8; 5];
            conn.read_exact(&mut request).expect("read");
            // Late, so the read waits in the kernel across turns.
            std::thread::sleep(Duration::from_millis(50));
            conn.write_all(b"pong!").expect("write");
            request
        });
        let ring = ring();
        let mut pending = ring
            .exchange(socket(), addr.into(), b"ping!", 64)
            .expect("ring");
        let done = drive(&ring, &mut pending).expect("chain");
        assert!(done.connect.is_ok(), "{:?}", done.connect);
        assert_eq!(done.sent.expect("sent"), 5);
        let n = done.received.expect("received");
        assert_eq!(&done.buffer[..n], b"pong!");
        assert_eq!(&server.join().expect("server"), b"ping!");
        ring.close(done.socket);
        ring.turn();
        assert_eq!(ring.entries_held(), 0);
    }

    #[test]
    fn queueing_on_an_empty_queue_signals_the_runner_once() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        let ring = ring();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let signalled = |ring: &SlotRing, cx: &mut Context<'_>| {
            let queued = std::pin::pin!(ring.queued());
            queued.poll(cx).is_ready()
        };
        assert!(!signalled(&ring, &mut cx), "nothing queued yet");
        let first = ring.exchange(socket(), addr.into(), b"a", 8).expect("ring");
        let second = ring.exchange(socket(), addr.into(), b"b", 8).expect("ring");
        // One signal for the two: the second joined a queue already waiting for a turn.
        assert!(signalled(&ring, &mut cx));
        assert!(!signalled(&ring, &mut cx));
        ring.turn();
        let third = ring
            .exchange_opening(addr.into(), b"c", 8)
            .expect("IORING_OP_SOCKET on the test machine");
        assert!(signalled(&ring, &mut cx), "queued again after a turn");
        drop((first, second, third));
        ring.turn();
    }

    #[test]
    fn a_socket_opened_on_the_ring_runs_the_same_chain() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut request = [0u8; 5];
            conn.read_exact(&mut request).expect("read");
            conn.write_all(b"pong!").expect("write");
            request
        });
        let ring = ring();
        let mut pending = ring
            .exchange_opening(addr.into(), b"ping!", 64)
            .expect("IORING_OP_SOCKET on the test machine");
        let done = drive(&ring, &mut pending).expect("chain");
        assert!(done.connect.is_ok(), "{:?}", done.connect);
        let n = done.received.expect("received");
        assert_eq!(&done.buffer[..n], b"pong!");
        assert_eq!(&server.join().expect("server"), b"ping!");
        // Non-blocking, as a socket the runtime may take over must be.
        assert!(done.socket.nonblocking().expect("flags"));
        ring.close(done.socket);
        ring.turn();
        assert_eq!(ring.entries_held(), 0);
    }

    #[test]
    fn a_chain_given_up_before_its_socket_opened_closes_it_and_goes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let ring = ring();
        let pending = ring
            .exchange_opening(addr.into(), b"ping!", 64)
            .expect("IORING_OP_SOCKET on the test machine");
        drop(pending);
        for _ in 0..3 {
            ring.turn();
        }
        assert_eq!(ring.entries_held(), 0);
        // Opened, but never connected.
        assert!(listener.accept().is_err());
    }

    #[test]
    fn a_refused_connect_cancels_the_rest_of_the_chain() {
        let closed = socket();
        closed
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind");
        let addr = closed.local_addr().expect("addr");
        let ring = ring();
        let mut pending = ring.exchange(socket(), addr, b"ping!", 64).expect("ring");
        let done = drive(&ring, &mut pending).expect("chain");
        let refused = done.connect.expect_err("refused");
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(
            done.sent.expect_err("cancelled").raw_os_error(),
            Some(nix::libc::ECANCELED)
        );
        assert!(done.received.is_err());
    }

    /// A chain submitted and connected, its read waiting for a reply that never comes, and
    /// the server's end of its connection.
    fn waiting_for_a_reply() -> (Arc<SlotRing>, Pending, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let addr = listener.local_addr().expect("addr");
        let ring = ring();
        let pending = ring
            .exchange(socket(), addr.into(), b"ping!", 64)
            .expect("ring");
        for _ in 0..5 {
            ring.turn();
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pending.stage(), Stage::Reading);
        let (conn, _) = listener.accept().expect("accept");
        (ring, pending, conn)
    }

    #[test]
    fn a_chain_given_up_is_cancelled_its_socket_closed_and_its_entry_freed() {
        let (ring, pending, mut conn) = waiting_for_a_reply();
        drop(pending);
        let until = Instant::now() + Duration::from_secs(5);
        while ring.entries_held() > 0 {
            assert!(Instant::now() < until, "the given-up chain was never freed");
            ring.turn();
            std::thread::sleep(Duration::from_millis(10));
        }
        // Its close went through the ring at the turn after: the server sees the end.
        ring.turn();
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).expect("closed by the checker");
        assert_eq!(rest, b"ping!");
    }

    #[test]
    fn dropping_the_ring_with_a_chain_in_flight_cancels_it_and_closes_its_socket() {
        let (ring, pending, mut conn) = waiting_for_a_reply();
        // The check's task is aborted, then the runner goes (a reload): the read is still
        // in flight and its cancel not yet submitted when the ring drops.
        drop(pending);
        assert_eq!(ring.entries_held(), 1);
        let began = Instant::now();
        drop(ring);
        assert!(began.elapsed() < Duration::from_secs(2));
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest)
            .expect("closed by the ring's drop");
        assert_eq!(rest, b"ping!");
    }
}
