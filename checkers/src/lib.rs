//! keepalived-compatible health checkers: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK,
//! PING_CHECK, UDP_CHECK, SMTP_CHECK and DNS_CHECK, plus the logic behind `lvsd genhash`.
//!
//! Layout: `config` holds the plain check descriptions (the director translates its
//! keepalived.conf types into these); `verdict`, `schedule` and `overload` are the pure
//! core (results in, transitions, due times and skipped rounds out, virtual time); `tcp`, `http`, `tls`, `misc`,
//! `ping`, `udp`, `smtp` and `dns` perform one check each; `runner` drives thousands of them on one tokio runtime,
//! submitting the slotted HTTP exchanges together through `slot_ring` (io_uring) where the kernel allows.

pub mod config;
pub mod dns;
pub mod genhash;
pub mod http;
pub mod misc;
pub mod overload;
pub mod ping;
pub mod runner;
pub mod schedule;
pub mod slot_ring;
pub mod smtp;
pub mod spawner;
pub mod tcp;
pub mod timeout;
pub mod tls;
pub mod udp;
pub mod verdict;

pub use config::*;
pub use verdict::{AttemptError, CheckResult, Transition};
