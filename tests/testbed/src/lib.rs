//! Test harnesses for lvsd: a real kernel with IPVS in User-Mode Linux
//! ([`uml`]), network namespaces ([`netns`]), process groups that die with
//! the test ([`process`]) and deadline polling ([`wait`]). Everything cleans
//! up on drop, also when a test panics.

pub mod netns;
pub mod process;
pub mod uml;
pub mod wait;

pub use wait::{wait_until, WaitTimeout};
