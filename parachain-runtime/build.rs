// The `spec-bump` build writes its Wasm under another name, so that the two builds never
// overwrite each other's blob (they share wasm-builder's project folder).
#[cfg(all(feature = "std", not(feature = "spec-bump")))]
fn main() {
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}

#[cfg(all(feature = "std", feature = "spec-bump"))]
fn main() {
	substrate_wasm_builder::WasmBuilder::init_with_defaults()
		.set_file_name("wasm_binary_spec_bump.rs")
		.build();
}

/// The Wasm builder is off when this crate itself is compiled to Wasm.
#[cfg(not(feature = "std"))]
fn main() {}
