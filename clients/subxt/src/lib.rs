//! A Vilokanam client written as a developer outside the project writes one: no crate of ours,
//! only subxt's code generated from the checked-in metadata (`chain-specs/metadata.scale`, kept
//! equal to the runtime's by `node/tests/chain_specs.rs`) and the voucher's byte layout as
//! `docs/API.md` §5.2 gives it.
//!
//! [`pay_per_second`] runs the whole flow on a dev chain and checks every balance it moves:
//! governance adds a category and sets the platform fee (sudo), a creator creates a stream and
//! goes live, a viewer opens a session whose voucher key is a key its page would hold, the page's
//! key signs a voucher, the stream's relayer settles it with `settle_batch`, the same voucher
//! replayed is refused and pays nobody, `vilokanam_session` reports the session, and the creator
//! closes it with the rest refunded at once.

use anyhow::{anyhow, bail, ensure, Context, Result};
use subxt::{
	ext::codec::Encode,
	rpcs::{rpc_params, RpcClient},
	transactions::Payload,
	utils::{AccountId32, H256},
	OnlineClient, PolkadotConfig,
};
use subxt_signer::sr25519::{dev, Keypair};

#[subxt::subxt(runtime_metadata_path = "../../chain-specs/metadata.scale")]
pub mod vilokanam {}

use vilokanam::runtime_types::{
	bounded_collections::bounded_vec::BoundedVec,
	pallet_payouts::pallet::Call as PayoutsCall,
	pallet_streams::pallet::Call as StreamsCall,
	pallet_ticks::types::{BatchWitness, RejectReason, Voucher, VoucherEncoding, VoucherSigner},
	sp_runtime::MultiSignature,
	vilokanam_runtime::RuntimeCall,
};

type Api = OnlineClient<PolkadotConfig>;

/// The tag a voucher's payload starts with: 17 bytes, no length prefix (docs/API.md §5.2).
pub const VOUCHER_TAG: &[u8; 17] = b"vilokanam/tick/v1";

/// What a voucher's key signs: the tag, the chain's genesis hash, then the session id and the
/// cumulative seconds as little-endian `u64`s (65 bytes).
pub fn voucher_payload(genesis: H256, session_id: u64, cumulative_seconds: u64) -> Vec<u8> {
	(*VOUCHER_TAG, genesis.0, session_id, cumulative_seconds).encode()
}

/// What [`pay_per_second`] observed, for its caller to print.
#[derive(Debug)]
pub struct Report {
	/// The stream it created.
	pub stream_id: u64,
	/// The session it opened.
	pub session_id: u64,
	/// What the creator received for the settled seconds (after the platform's fee).
	pub creator_paid: u128,
	/// What the viewer got back when the creator closed the session.
	pub refunded: u128,
}

/// A connection to a node: subxt's client and the raw RPC client for `vilokanam_*`.
pub struct Client {
	api: Api,
	rpc: RpcClient,
}

impl Client {
	/// Connects to `url` (`ws://` is allowed: a local node).
	pub async fn connect(url: &str) -> Result<Client> {
		let rpc = RpcClient::from_insecure_url(url).await.context("connecting")?;
		let api =
			Api::from_rpc_client(rpc.clone()).await.context("reading the chain's metadata")?;
		Ok(Client { api, rpc })
	}

	/// Signs `call` with `signer`, waits until it is finalized, fails on a dispatch error, and
	/// returns the block's hash and the call's events.
	async fn submit<Call: Payload>(
		&self,
		call: &Call,
		signer: &Keypair,
	) -> Result<(H256, subxt::extrinsics::ExtrinsicEvents<PolkadotConfig>)> {
		let at = self.api.at_current_block().await?;
		let in_block = at
			.transactions()
			.sign_and_submit_then_watch_default(call, signer)
			.await?
			.wait_for_finalized()
			.await?;
		let events = in_block.wait_for_success().await?;
		Ok((in_block.block_hash(), events))
	}

	/// `who`'s free balance at block `at`.
	async fn free(&self, who: &Keypair, at: H256) -> Result<u128> {
		let account: AccountId32 = who.public_key().into();
		let block = self.api.at_block(at).await?;
		let info =
			block.storage().fetch(vilokanam::storage().system().account(), (account,)).await?;
		Ok(info.decode()?.data.free)
	}
}

fn text(s: &str) -> BoundedVec<u8> {
	BoundedVec(s.as_bytes().to_vec())
}

/// Runs the pay-per-second flow against the dev chain at `url` (Alice is sudo and the creator,
/// Bob the viewer, Ferdie the stream's relayer) with `price` per second, and checks that every
/// balance moves exactly.
pub async fn pay_per_second(url: &str, price: u128) -> Result<Report> {
	let client = Client::connect(url).await?;
	let tx = vilokanam::tx();
	let (alice, bob, ferdie) = (dev::alice(), dev::bob(), dev::ferdie());
	// The key the viewer's page generates and holds: it signs vouchers, no wallet prompt.
	let page_key = Keypair::from_secret_key([7; 32]).map_err(|e| anyhow!("a page key: {e:?}"))?;

	// Governance: a category (it may exist already: a second run on the same chain) and a
	// platform fee of 2.5 %, so that the creator's share below is not the whole price.
	let category = 7;
	let add = RuntimeCall::Streams(StreamsCall::add_category { category, name: text("subxt") });
	let fee = RuntimeCall::Payouts(PayoutsCall::set_platform_fee { bps: 250 });
	for call in [add, fee] {
		let (_, events) = client.submit(&tx.sudo().sudo(call), &alice).await?;
		ensure!(events.has::<vilokanam::sudo::events::Sudid>(), "no Sudid event");
	}

	// Alice's live stream, with Ferdie as its relayer.
	let create = tx.streams().create_stream(
		text("subxt"),
		text(""),
		category,
		BoundedVec(Vec::new()),
		price,
		None,
		Some(ferdie.public_key().into()),
	);
	let (_, events) = client.submit(&create, &alice).await?;
	let stream_id = events
		.find_first::<vilokanam::streams::events::StreamCreated>()
		.ok_or_else(|| anyhow!("no StreamCreated event"))??
		.stream_id;
	client.submit(&tx.streams().go_live(stream_id), &alice).await?;

	// Bob opens a 60-second session; his page's key signs the vouchers.
	let open = tx.ticks().open_session(stream_id, 60, price, page_key.public_key().into());
	let (opened_at, events) = client.submit(&open, &bob).await?;
	let session_id = events
		.find_first::<vilokanam::ticks::events::SessionOpened>()
		.ok_or_else(|| anyhow!("no SessionOpened event"))??
		.session_id;

	// The page signs three seconds; Ferdie settles them.
	let seconds = 3;
	let genesis = client.api.genesis_hash();
	let signature = page_key.sign(&voucher_payload(genesis, session_id, seconds));
	let voucher = Voucher {
		session_id,
		cumulative_seconds: seconds,
		signer: VoucherSigner::VoucherKey,
		encoding: VoucherEncoding::Raw,
		signature: MultiSignature::Sr25519(signature.0),
	};
	let alice_before = client.free(&alice, opened_at).await?;
	let settle =
		tx.ticks().settle_batch(BoundedVec(vec![voucher]), BatchWitness { streams: 1, pages: 1 });
	let (settled_at, events) = client.submit(&settle, &ferdie).await?;
	if let Some(rejected) = events.find_first::<vilokanam::ticks::events::VoucherRejected>() {
		bail!("the voucher was rejected: {:?}", rejected?.reason);
	}
	let fee_bps = {
		let block = client.api.at_block(settled_at).await?;
		let fee =
			block.storage().fetch(vilokanam::storage().payouts().platform_fee_bps(), ()).await?;
		u128::from(fee.decode()?)
	};
	let paid = u128::from(seconds) * price;
	let creator_paid = client.free(&alice, settled_at).await? - alice_before;
	ensure!(fee_bps == 250, "the platform fee is {fee_bps} bps, not the 250 just set");
	ensure!(
		creator_paid == paid - paid * fee_bps / 10_000,
		"the creator got {creator_paid}, not {paid} less the platform's {fee_bps} bps"
	);

	// The same voucher again (a replay, by anyone) is refused and pays nobody.
	let (replayed_at, events) = client.submit(&settle, &ferdie).await?;
	let rejected = events
		.find_first::<vilokanam::ticks::events::VoucherRejected>()
		.ok_or_else(|| anyhow!("a replayed voucher was not rejected"))??;
	ensure!(
		matches!(rejected.reason, RejectReason::NotIncreasing),
		"a replay was rejected for {:?}",
		rejected.reason
	);
	ensure!(
		client.free(&alice, replayed_at).await? == client.free(&alice, settled_at).await?,
		"a replayed voucher paid the creator"
	);

	// The node's own RPC sees it: three seconds settled, 57 in escrow.
	let session: serde_json::Value =
		client.rpc.request("vilokanam_session", rpc_params![session_id]).await?;
	ensure!(session["settledSeconds"] == seconds, "vilokanam_session: {session}");
	ensure!(session["escrowRemaining"] == (57 * price).to_string(), "vilokanam_session: {session}");

	// Alice, the creator, closes it: Bob gets the other 57 seconds back at once.
	let bob_before = client.free(&bob, replayed_at).await?;
	let close = tx.ticks().close_session(session_id, None);
	let (closed_at, events) = client.submit(&close, &alice).await?;
	ensure!(events.has::<vilokanam::ticks::events::SessionClosed>(), "no SessionClosed event");
	let refunded = client.free(&bob, closed_at).await? - bob_before;
	ensure!(refunded == 57 * price, "Bob got {refunded} back, not 57 seconds' worth");
	// Closed, and still reported: what it settled and what came back.
	let session: serde_json::Value =
		client.rpc.request("vilokanam_session", rpc_params![session_id]).await?;
	ensure!(session["open"] == false && session["settledSeconds"] == seconds, "{session}");
	ensure!(session["closed"]["refunded"] == refunded.to_string(), "{session}");

	Ok(Report { stream_id, session_id, creator_paid, refunded })
}
