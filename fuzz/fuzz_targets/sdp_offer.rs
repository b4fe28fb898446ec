//! libFuzzer entry point of [`vilokanam_fuzz::sdp_offer`] (`scripts/fuzz.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(init: vilokanam_fuzz::keep_caught_panics(), |data: &[u8]| {
	vilokanam_fuzz::sdp_offer::run(data)
});
