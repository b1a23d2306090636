//! Test harnesses for lvsd: a real kernel with IPVS in User-Mode Linux
//! ([`uml`], with [`guest`] helpers for test bodies inside it), network
//! namespaces ([`netns`]), process groups that die with the test
//! ([`process`]) and deadline polling ([`wait`]). Everything cleans up on
//! drop, also when a test panics.

// Lets harness modules name this crate `testbed::`.
extern crate self as testbed;

pub mod guest;
pub mod keepalived;
pub mod netns;
pub mod nginx;
pub mod process;
pub mod prometheus;
pub mod uml;
pub mod wait;

pub use wait::{wait_until, WaitTimeout};
