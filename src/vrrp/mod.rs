//! VRRP v2/v3: pure packet codec and state machine, thin socket I/O.

pub mod config;
pub mod drop_report;
pub mod firewall;
pub mod fsm;
pub mod garp;
pub mod notify;
pub mod packet;
pub mod process_track;
pub mod reload;
pub mod route_watch;
pub mod runner;
pub mod socket;
pub mod sync_group;
pub mod takeover;
pub mod track;
pub mod translate;
pub mod vip;
pub mod vmac;
