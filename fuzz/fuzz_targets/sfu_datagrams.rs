//! libFuzzer entry point of [`vilokanam_fuzz::sfu_datagrams`] (`scripts/fuzz.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vilokanam_fuzz::sfu_datagrams::run(data));
