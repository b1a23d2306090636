//! Test harnesses for lvsd.
