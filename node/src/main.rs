//! `vilokanam-node`: the Vilokanam chain's node. Aura authors blocks, GRANDPA finalizes them,
//! off-chain workers run with the node's keystore, state is kept in ParityDB.

#![warn(missing_docs)]
// `sc_cli::Error` and `sc_service::Error` are the node framework's own error types, returned by
// every Substrate node's commands and services; boxing them would only convert them back.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
