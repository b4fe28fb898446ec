//! End-to-end smoke test of the real node: blocks are produced and finalized, a signed balance
//! transfer applies exactly, and a restart on the same base path keeps the chain and its state.

mod common;

use common::Node;
use sp_keyring::Sr25519Keyring;
use std::time::Duration;
use vilokanam_runtime::{BalancesCall, RuntimeCall, RuntimeEvent, VLK};

#[tokio::test(flavor = "multi_thread")]
async fn dev_chain_produces_finalizes_transfers_and_survives_restart() {
	let dir = tempfile::tempdir().expect("temp dir");
	let base = dir.path().join("node");
	let mut node = Node::start(&base).await;
	let rpc = node.client().await;

	// Blocks are authored (6 s slots) and GRANDPA finalizes them.
	rpc.wait_best(3, Duration::from_secs(60)).await;
	rpc.wait_finalized(1, Duration::from_secs(60)).await;

	let alice = Sr25519Keyring::Alice;
	let dave = Sr25519Keyring::Dave;
	let amount = 12_345 * VLK + 678;
	let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
		dest: dave.to_account_id().into(),
		value: amount,
	});
	let xt = rpc.sign(call, &alice.pair()).await;
	let in_block = rpc.submit_and_finalize(xt).await;
	let before = rpc.parent_hash(in_block).await;

	let alice_before = rpc.free_balance(&alice.to_account_id(), Some(before)).await;
	let alice_after = rpc.free_balance(&alice.to_account_id(), Some(in_block)).await;
	let dave_before = rpc.free_balance(&dave.to_account_id(), Some(before)).await;
	let dave_after = rpc.free_balance(&dave.to_account_id(), Some(in_block)).await;
	assert_eq!(dave_after - dave_before, amount, "the recipient gets exactly the amount");

	let fee = rpc
		.events(in_block)
		.await
		.into_iter()
		.find_map(|e| match e {
			RuntimeEvent::TransactionPayment(
				pallet_transaction_payment::Event::TransactionFeePaid { who, actual_fee, .. },
			) if who == alice.to_account_id() => Some(actual_fee),
			_ => None,
		})
		.expect("the block records the fee Alice paid");
	assert!(fee > 0, "a signed transfer costs a fee");
	assert_eq!(alice_before - alice_after, amount + fee, "the sender pays amount plus fee");

	// Stop, restart on the same base path: the chain continues from the stored height.
	let height = rpc.wait_finalized(rpc.best_number().await, Duration::from_secs(60)).await;
	drop(rpc);
	node.stop();
	let node = Node::start(&base).await;
	let rpc = node.client().await;
	let resumed = rpc.best_number().await;
	assert!(resumed >= height, "restart resumed at {resumed}, below the stored height {height}");
	assert_eq!(
		rpc.free_balance(&dave.to_account_id(), None).await,
		dave_after,
		"the transfer survives the restart"
	);
	rpc.wait_best(resumed + 2, Duration::from_secs(60)).await;
	rpc.wait_finalized(height + 1, Duration::from_secs(60)).await;
}
