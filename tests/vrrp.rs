//! VRRP test suite: codec goldens, state machine under virtual time, and
//! namespace interop against lvsd and keepalived peers.

#[path = "vrrp/fsm.rs"]
mod fsm;
#[path = "vrrp/packet.rs"]
mod packet;
