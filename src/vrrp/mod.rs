//! VRRP v2/v3: pure packet codec and state machine, thin socket I/O.

pub mod packet;
