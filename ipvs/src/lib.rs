//! Linux IPVS over generic netlink: pure message encoding ([`wire`]), typed
//! values ([`model`]), operations and their requests ([`ops`]), reply
//! framing ([`frame`]), an async pipelined client ([`client`]), a pure
//! reconciler ([`reconcile`]) and ipvsadm-style text ([`format`]).

pub mod client;
pub mod error;
pub mod frame;
pub mod model;
pub mod ops;
pub mod reconcile;
pub mod wire;

pub use client::IpvsClient;
pub use error::{BatchError, IpvsError};
pub use model::{Destination, Forward, Protocol, Scheduler, Service, ServiceKey, Table};
pub use ops::Op;
pub use reconcile::{plan, OwnershipFilter, PlanSummary};
