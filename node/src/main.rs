//! `vilokanam-node`: the Vilokanam chain's node. Aura authors blocks, GRANDPA finalizes them,
//! off-chain workers run with the node's keystore, state is kept in ParityDB.

#![warn(missing_docs)]

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
