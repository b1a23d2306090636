//! cargo-fuzz target `control_request`: the body is `lvsd::fuzzing::control_request` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::control_request(data));
