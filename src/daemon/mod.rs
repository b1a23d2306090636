//! The daemon runtime: signals, reload, observable state.
