//! keepalived-compatible health checkers.
