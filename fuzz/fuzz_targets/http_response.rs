//! cargo-fuzz target `http_response`: the body is `lvsd::fuzzing::http_response` (so that
//! tests/fuzz_corpus.rs replays the kept corpus on stable Rust).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lvsd::fuzzing::http_response(data));
