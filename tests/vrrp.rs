//! VRRP test suite: codec goldens, state machine under virtual time, and
//! namespace interop against lvsd and keepalived peers.

// The suite's modules reach the harness as `crate::netns` etc.
use testbed::{keepalived, netns, process, wait};

#[path = "vrrp/packet.rs"]
mod packet;

#[path = "vrrp/fsm.rs"]
mod fsm;

#[path = "vrrp/harness.rs"]
mod harness;

#[path = "vrrp/interop.rs"]
mod interop;

#[path = "vrrp/bench.rs"]
mod bench;

#[path = "vrrp/translate.rs"]
mod translate;

#[path = "vrrp/reload.rs"]
mod reload;

#[path = "vrrp/reload_netns.rs"]
mod reload_netns;

#[path = "vrrp/events.rs"]
mod events;

#[path = "vrrp/unicast.rs"]
mod unicast;

#[path = "vrrp/host_side.rs"]
mod host_side;

/// A fork-bombing track script (issue #16).
#[path = "vrrp/fork_bomb.rs"]
mod fork_bomb;

/// A flood of broken adverts (issue #16).
#[path = "vrrp/flood.rs"]
mod flood;

/// `vrrp_track_process` side by side (in the initial namespace, on a veth of its own).
#[path = "vrrp/track_process.rs"]
mod track_process;

/// VMAC (use_vmac) side by side.
#[path = "vrrp/vmac.rs"]
mod vmac;

#[path = "vrrp/tuning.rs"]
mod tuning;
