//! libFuzzer entry point of [`vilokanam_fuzz::runtime_scale`] (`scripts/fuzz.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vilokanam_fuzz::runtime_scale::run(data));
