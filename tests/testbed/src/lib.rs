//! Test harnesses for lvsd: a real kernel with IPVS in User-Mode Linux
//! ([`uml`], with [`guest`] helpers for test bodies inside it), network
//! namespaces ([`netns`]), process groups that die with the test
//! ([`process`]) and deadline polling ([`wait`]). Everything cleans up on
//! drop, also when a test panics.

// Lets harness modules name this crate `testbed::` both as modules of it
// and when another crate's tests include them with `#[path]`.
extern crate self as testbed;

pub mod guest;
pub mod netns;
pub mod process;
pub mod uml;
pub mod wait;

pub use wait::{wait_until, WaitTimeout};
