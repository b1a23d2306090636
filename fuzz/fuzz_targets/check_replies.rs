//! cargo-fuzz target `check_replies`: the body is `lvsd::fuzzing::check_replies` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::check_replies(data));
