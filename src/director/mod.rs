//! The director: translates the config model into checker descriptions and
//! the desired IPVS table, given the checkers' verdicts. Pure: no sockets,
//! no clocks; the daemon feeds events and applies the results.
#![forbid(unsafe_code)]

pub mod admin;
pub mod checks;
pub mod plan;
pub mod spec;
pub mod state;
pub mod timeouts;

pub use spec::{translate, translate_owned, DirectorSpec, RealServerKey, SpecError};
pub use state::{Action, Director, DRAIN_BOUND};
