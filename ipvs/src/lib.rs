//! Linux IPVS over generic netlink: pure message encoding ([`wire`]), typed
//! values ([`model`]), an async pipelined client ([`client`]), a pure
//! reconciler ([`reconcile`]) and ipvsadm-style text ([`format`]).

pub mod model;
pub mod ops;
pub mod wire;
