//! cargo-fuzz target `config`: the body is `lvsd::fuzzing::config` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::config(data));
