//! cargo-fuzz target `rtnetlink_message`: the body is `lvsd::fuzzing::rtnetlink_message` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::rtnetlink_message(data));
