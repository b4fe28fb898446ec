//! `vilokanam-subxt-client --url ws://127.0.0.1:9944`: runs the pay-per-second flow of
//! [`vilokanam_subxt_client::pay_per_second`] against a dev chain and prints what moved.

use clap::Parser;

/// Runs the pay-per-second flow against a Vilokanam dev chain with subxt.
#[derive(Parser)]
struct Args {
	/// The node's JSON-RPC WebSocket.
	#[arg(long, default_value = "ws://127.0.0.1:9944")]
	url: String,
	/// The stream's price per second (plancks).
	#[arg(long, default_value_t = 1_000_000_000)]
	price: u128,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let report = vilokanam_subxt_client::pay_per_second(&args.url, args.price).await?;
	println!(
		"stream {}, session {}: the creator was paid {} for 3 seconds, the viewer refunded {}",
		report.stream_id, report.session_id, report.creator_paid, report.refunded
	);
	Ok(())
}
