//! VRRP test suite: codec goldens, state machine under virtual time, and
//! namespace interop against lvsd and keepalived peers.

// For the keepalived harness, which reaches its siblings through `super::`.
use testbed::{netns, process, wait};

// Not every harness method is used by every test binary.
#[allow(dead_code)]
#[path = "testbed/src/keepalived.rs"]
mod keepalived;

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
