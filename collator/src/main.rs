//! `vilokanam-collator`: the node of Vilokanam's parachain mode. It collates blocks of
//! `vilokanam-parachain-runtime` with Aura and asynchronous backing (cumulus's lookahead
//! collator), follows a relay chain through a relay node it runs in-process, runs the off-chain
//! workers (the ticks pallet's worker closes abandoned viewer sessions) and serves the same
//! JSON-RPC as the solochain node, `vilokanam_*` included.
//!
//! Why our own node and not `polkadot-omni-node`: omni-node 0.24 has no hook for custom RPC (its
//! RPC builder and node traits are crate-private) and is typed against a fake runtime API, so
//! `vilokanam_*`, with its `vilokanam_subscribeStream` subscription, could not be served. This
//! crate is omni-node's flow for one Aura runtime, without the generics.
//!
//! Starting it: the collator's own arguments first, then `--` and the relay chain node's:
//!
//! ```text
//! vilokanam-collator --collator --alice --chain local --base-path /tmp/collator-1 -- --chain relay-raw.json
//! ```
//!
//! where `relay-raw.json` is the spec the relay chain's validators run, with this parachain in
//! its genesis. (Without `--chain` after `--`, the relay node loads the spec's `relay_chain`,
//! `rococo-local`: polkadot-cli's built-in one, where the parachain is not registered.) A
//! collator needs a network key: `--node-key`, as zombienet passes, or one in its base path.
//!
//! Zombienet starts it this way, and calls `export-chain-spec`, `export-genesis-state` and
//! `export-genesis-wasm` to register the parachain in the relay chain's genesis.
//!
//! Only `scripts/test-parachain.sh` and `scripts/local-parachain.sh` build it; `scripts/test.sh`
//! does not, since the relay side brings polkadot-service and RocksDB.

#![warn(missing_docs)]
// `sc_cli::Error` and `sc_service::Error` are the node framework's own error types, returned by
// every Substrate node's commands and services; boxing them would only convert them back.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
