//! Fuzz target: `purser::fuzzing::challenge` on arbitrary bytes (see docs/reliability.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| purser::fuzzing::challenge(data));
