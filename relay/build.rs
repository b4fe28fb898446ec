use substrate_build_script_utils::{generate_cargo_keys, rerun_if_git_head_changed};

fn main() {
	// SUBSTRATE_CLI_COMMIT_HASH for the workers' version string.
	generate_cargo_keys();
	rerun_if_git_head_changed();
}
