//! try-runtime checks of today's runtime upgrade: see `tests/previous_chain.rs`, run by
//! `scripts/try-runtime.sh`. The crate has no code of its own outside its test.
