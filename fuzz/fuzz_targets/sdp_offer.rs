//! libFuzzer entry point of [`vilokanam_fuzz::sdp_offer`] (`scripts/fuzz.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vilokanam_fuzz::sdp_offer::run(data));
