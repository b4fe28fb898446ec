//! libFuzzer entry point of [`vilokanam_fuzz::ws_session`] (`scripts/fuzz.sh`).
#![no_main]

libfuzzer_sys::fuzz_target!(init: vilokanam_fuzz::keep_caught_panics(), |data: &[u8]| {
	vilokanam_fuzz::ws_session::run(data)
});
