//! Fuzz target: `purser::fuzzing::invoice` on arbitrary bytes (see docs/reliability.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| purser::fuzzing::invoice(data));
