//! Typed events, out one way: VRRP transitions, real-server and
//! virtual-server transitions, reloads and the daemon's start and stop are
//! published here; notify FIFOs and mail alerts (and any later consumer)
//! subscribe. Publishing never blocks and never fails the publisher: the bus
//! is a `tokio::sync::broadcast` channel, so a subscriber that falls behind
//! loses the oldest events (and logs how many) instead of delaying the VRRP
//! runner or the director loop.

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

pub mod fifo;
pub mod mail;
pub mod sinks;

/// How many events a subscriber may fall behind before it loses some.
pub const CAPACITY: usize = 1024;

/// A VRRP state as notify scripts, FIFOs and mails name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum VrrpState {
    Master,
    Backup,
    Fault,
    /// The instance (or group) stops: lvsd stops.
    Stop,
    /// A reload removed the instance and it has `notify_deleted` (without it
    /// keepalived, and lvsd, report FAULT).
    Deleted,
}

impl VrrpState {
    /// keepalived's word: `MASTER`, `BACKUP`, `FAULT`, `STOP`, `DELETED`.
    pub fn word(self) -> &'static str {
        match self {
            VrrpState::Master => "MASTER",
            VrrpState::Backup => "BACKUP",
            VrrpState::Fault => "FAULT",
            VrrpState::Stop => "STOP",
            VrrpState::Deleted => "DELETED",
        }
    }

    pub fn from_fsm(s: crate::vrrp::fsm::State) -> VrrpState {
        use crate::vrrp::fsm::State;
        match s {
            State::Master => VrrpState::Master,
            State::Backup => VrrpState::Backup,
            State::Fault => VrrpState::Fault,
            State::Initialize => VrrpState::Stop,
        }
    }
}

/// Something that happened to a VRRP instance without changing its state;
/// keepalived writes it to the notify FIFOs as if it were a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum InstanceNote {
    /// The master heard an advert of lower priority.
    MasterRxLowerPri,
    /// The effective priority changed (`notify_priority_changes`), while
    /// MASTER or not.
    PriorityChanged { master: bool },
}

impl InstanceNote {
    /// keepalived's FIFO word.
    pub fn word(self) -> &'static str {
        match self {
            InstanceNote::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            InstanceNote::PriorityChanged { master: true } => "MASTER_PRIORITY",
            InstanceNote::PriorityChanged { master: false } => "BACKUP_PRIORITY",
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `vrrp_instance` entered `state`, with its effective priority.
    Instance {
        name: Arc<str>,
        state: VrrpState,
        priority: u8,
    },
    /// A `vrrp_instance` noted something (see [`InstanceNote`]); `priority`
    /// is its effective priority.
    InstanceNote {
        name: Arc<str>,
        note: InstanceNote,
        priority: u8,
    },
    /// A `vrrp_sync_group` entered `state` (keepalived reports priority 0).
    Group { name: Arc<str>, state: VrrpState },
    /// A real server went up or down (or stays down for a new reason).
    RealServer {
        /// lvsd's virtual server name (the director's key).
        virtual_server: Arc<str>,
        /// keepalived's text for the virtual server (`[10.0.0.1]:tcp:80`,
        /// `FWM 7`, `[group]:0`) and for the real server (`[10.0.0.2]:tcp:80`).
        vs_text: String,
        rs_text: String,
        up: bool,
        /// The server was up before (false: it stays down, for `reason`).
        changed: bool,
        weight: u32,
        reason: String,
    },
    /// A virtual server gained or lost its quorum.
    Quorum {
        virtual_server: Arc<str>,
        vs_text: String,
        up: bool,
        /// At start: keepalived reports the quorum then ("Starting with
        /// quorum up", or down when a sorry server takes over).
        init: bool,
        quorum: u32,
        hysteresis: u32,
        weight_sum: u64,
    },
    /// A reload was applied (`error: None`) or refused.
    Reload { error: Option<String> },
    /// lvsd started (after the first table) or is stopping.
    Daemon { running: bool },
}

fn bus() -> &'static broadcast::Sender<Arc<Event>> {
    static BUS: OnceLock<broadcast::Sender<Arc<Event>>> = OnceLock::new();
    BUS.get_or_init(|| broadcast::channel(CAPACITY).0)
}

/// Publishes `event`. Never blocks, never fails: with no subscriber the
/// event is simply dropped.
pub fn publish(event: Event) {
    tracing::debug!("event: {event:?}");
    let _ = bus().send(Arc::new(event));
}

/// A new subscription: every event published from now on.
pub fn subscribe() -> Subscriber {
    Subscriber {
        rx: bus().subscribe(),
        name: "subscriber",
    }
}

/// One subscription to the bus.
pub struct Subscriber {
    rx: broadcast::Receiver<Arc<Event>>,
    name: &'static str,
}

impl Subscriber {
    /// Names the subscriber in the "lost N events" log line.
    pub fn named(mut self, name: &'static str) -> Subscriber {
        self.name = name;
        self
    }

    /// The next event; `None` only if the bus is gone. Lost events (this
    /// subscriber was too slow) are logged and skipped.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{}: fell behind, {n} events lost", self.name)
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// An event already published, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::warn!("{}: fell behind, {n} events lost", self.name)
                }
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_loses_events_and_never_blocks_the_publisher() {
        let mut slow = subscribe().named("test");
        // Far more than the capacity: publish returns at once every time.
        for i in 0..(CAPACITY as u32 * 3) {
            publish(Event::Reload {
                error: Some(format!("e{i}")),
            });
        }
        // The subscriber sees the newest CAPACITY events (others may publish too).
        let mut seen = 0;
        while slow.try_recv().is_some() {
            seen += 1;
        }
        assert!((CAPACITY..CAPACITY * 2).contains(&seen), "{seen}");
    }
}
