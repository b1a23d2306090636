//! cargo-fuzz target `vrrp_packet`: the body is `lvsd::fuzzing::vrrp_packet` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::vrrp_packet(data));
