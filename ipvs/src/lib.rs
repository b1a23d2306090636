//! Linux IPVS over generic netlink: pure message encoding ([`wire`]), typed
//! values ([`model`]), operations and their requests ([`ops`]), reply
//! framing ([`frame`]), an async pipelined client ([`client`]) and a pure
//! reconciler ([`reconcile`]). ipvsadm-style text lives in lvsd's `list`.

pub mod client;
pub mod error;
pub mod frame;
pub mod model;
pub mod ops;
pub mod reconcile;
pub mod wire;

pub use client::{AckMode, IpvsClient};
pub use error::{BatchError, IpvsError};
pub use model::{Destination, Forward, Protocol, Scheduler, Service, ServiceKey, Table};
pub use ops::Op;
pub use reconcile::{plan, OwnershipFilter, PlanSummary};
