//! VRRP test suite: codec goldens, state machine under virtual time, and
//! namespace interop against lvsd and keepalived peers.

#[path = "vrrp/packet.rs"]
mod packet;
