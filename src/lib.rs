//! lvsd: a keepalived-compatible LVS director.
//!
//! Dependencies point one way: `cli → daemon → {announce, director} → {config, vrrp, ipvs, checkers}`.

pub mod announce;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod director;
pub mod events;
pub mod fuzzing;
pub mod histogram;
pub mod list;
pub mod local_addrs;
pub mod script_security;
pub mod track_file;
pub mod vrrp;
