//! The client against the real `vilokanam-node --dev` (built by `cargo build --release -p
//! vilokanam-node`): heads, storage, signing, submission, inclusion outcomes and vouchers that
//! the chain accepts.

use futures::StreamExt;
use sp_core::{sr25519, Pair};
use std::time::Duration;
use vilokanam_chain_client::{
	voucher, Client, Error, RuntimeCall, RuntimeEvent, Signature, StreamStatus, TxStatus, Voucher,
	VoucherEncoding, VoucherSigner,
};
use vilokanam_test_utils::{
	chain::{account, create_stream_call, go_live_call, governance_calls, pair, stream_created},
	Node,
};

#[tokio::test(flavor = "multi_thread")]
async fn the_client_drives_the_dev_chain() {
	let dir = tempfile::tempdir().expect("temp dir");
	let node = Node::start(&dir.path().join("node")).await;
	let (alice, charlie) = (pair("//Alice"), pair("//Charlie"));

	assert!(matches!(Client::connect("ws://127.0.0.1:1").await, Err(Error::Rpc(_))));
	let client = Client::connect(&node.ws_url()).await.expect("connects");
	assert!(client.is_connected());
	assert_eq!(client.block_hash(0).await.expect("rpc"), Some(client.genesis_hash()));

	// Heads: consecutive best heads whose hashes are the chain's.
	let mut heads = client.subscribe_heads(false).await.expect("subscribes");
	let a = heads.next().await.expect("a head").expect("decodes");
	let b = heads.next().await.expect("a head").expect("decodes");
	assert!(b.number > a.number);
	assert_eq!(client.block_hash(b.number).await.expect("rpc"), Some(b.hash));
	assert_eq!(client.header_number(b.hash).await.expect("rpc"), Some(b.number));
	let best = client.best_head().await.expect("rpc");
	assert!(best.number >= b.number);
	let finalized = client.finalized_head().await.expect("rpc");
	assert!(finalized.number <= best.number);
	assert!(client.now_ms(None).await.expect("rpc") > 0);
	assert!(client.free_balance(&account(&alice), None).await.expect("rpc") > 0);

	// Governance and a live stream, through `execute`.
	let [add_category, _] = governance_calls(0);
	assert!(client.execute(add_category, &alice, false).await.expect("included").success);
	let create = create_stream_call("Client test", vilokanam_runtime::MILLI_VLK, None);
	let created = client.execute(create, &alice, false).await.expect("included");
	// Among the extrinsic's own events.
	let stream_id = stream_created(&created.events);
	assert!(
		client.execute(go_live_call(stream_id), &alice, false).await.expect("included").success
	);
	let stream = client.stream(stream_id, None).await.expect("rpc").expect("stored");
	assert_eq!(stream.status, StreamStatus::Live);
	assert_eq!(stream.creator, account(&alice));
	assert!(!client.is_banned(&account(&alice), &account(&charlie), None).await.expect("rpc"));

	// A failing dispatch is reported with its error.
	let missing = RuntimeCall::Streams(pallet_streams::Call::go_live { stream_id: 999 });
	let failed = client.execute(missing, &alice, false).await.expect("included");
	assert!(!failed.success);
	assert!(failed.dispatch_error().is_some());

	// A session and a wrapped voucher settled through submit_and_watch, up to finality.
	let open = RuntimeCall::Ticks(pallet_ticks::Call::open_session {
		stream_id,
		max_seconds: 60,
		max_price_per_second: vilokanam_runtime::MILLI_VLK,
		voucher_key: account(&charlie),
	});
	let opened = client.execute(open, &charlie, false).await.expect("included");
	assert!(opened.success);
	let session_id = client.next_session_id(None).await.expect("rpc") - 1;
	let session = client.session(session_id, None).await.expect("rpc").expect("open");
	assert_eq!(session.viewer, account(&charlie));
	assert_eq!(client.session(session_id + 1, None).await.expect("rpc"), None);
	let many = client.sessions(&[session_id + 1, session_id], None).await.expect("rpc");
	assert_eq!(many, vec![None, Some(session.clone())]);
	tokio::time::sleep(Duration::from_secs(3)).await;
	let genesis = client.genesis_hash();
	let encoding = VoucherEncoding::Wrapped;
	let signature = voucher::sign(&charlie, &genesis, session_id, 2, encoding);
	assert!(voucher::verify(&signature, encoding, &genesis, session_id, 2, &account(&charlie)));
	let vouchers = vec![Voucher {
		session_id,
		cumulative_seconds: 2,
		signer: VoucherSigner::Viewer,
		encoding,
		signature,
	}];
	let settle = RuntimeCall::Ticks(pallet_ticks::Call::settle_batch {
		vouchers: vouchers.try_into().expect("one voucher fits"),
		witness: pallet_ticks::BatchWitness { streams: 1, pages: 1 },
	});
	let ferdie = pair("//Ferdie");
	let nonce = client.next_nonce(&account(&ferdie)).await.expect("rpc");
	let xt = client.sign(settle, &ferdie, nonce).await.expect("signs");
	let statuses: Vec<TxStatus> = tokio::time::timeout(
		Duration::from_secs(120),
		client.submit_and_watch(&xt).await.expect("accepted by the pool").collect(),
	)
	.await
	.expect("finalized in time");
	let Some(TxStatus::Finalized(block)) = statuses.last().cloned() else {
		panic!("the stream ends with Finalized: {statuses:?}")
	};
	assert!(statuses.iter().any(|s| matches!(s, TxStatus::InBlock(_))));
	let included = client.included(block, &xt).await.expect("rpc").expect("in the block");
	assert!(included.success);
	assert!(included.events.iter().any(|e| matches!(
		e,
		RuntimeEvent::Ticks(pallet_ticks::Event::BatchSettled { accepted: 1, rejected: 0, .. })
	)));
	let session = client.session(session_id, Some(block)).await.expect("rpc").expect("open");
	assert_eq!(session.settled_seconds, 2);
	assert!(client.events(block).await.expect("rpc").len() > included.events.len());

	// The same nonce again: the pool refuses it outright.
	let remark = RuntimeCall::System(frame_system::Call::remark { remark: vec![1] });
	let stale = client.sign(remark, &ferdie, nonce).await.expect("signs");
	assert!(matches!(client.submit_and_watch(&stale).await, Err(Error::Rejected(_))));
	assert!(matches!(client.submit(&stale).await, Err(Error::Rejected(_))));

	// An authorized call as a general transaction, with no signer and no fee: the viewer's
	// close intent. A forged one is refused by the pool; the real one starts the window.
	let intent = |signer: &sr25519::Pair| {
		let payload = voucher::close_payload(&genesis, session_id, 3);
		vilokanam_chain_client::CloseIntent {
			cumulative_seconds: 3,
			signer: VoucherSigner::Viewer,
			encoding: VoucherEncoding::Raw,
			signature: Signature::Sr25519(signer.sign(&payload)),
		}
	};
	let forged = Client::authorized(RuntimeCall::Ticks(pallet_ticks::Call::submit_close_intent {
		session_id,
		intent: intent(&ferdie),
	}));
	assert!(matches!(client.submit(&forged).await, Err(Error::Rejected(_))));
	let xt = Client::authorized(RuntimeCall::Ticks(pallet_ticks::Call::submit_close_intent {
		session_id,
		intent: intent(&charlie),
	}));
	let mut statuses = client.submit_and_watch(&xt).await.expect("accepted by the pool");
	let block = loop {
		match tokio::time::timeout(Duration::from_secs(60), statuses.next()).await {
			Ok(Some(TxStatus::InBlock(block))) => break block,
			Ok(Some(TxStatus::Pool)) => {},
			other => panic!("the close intent is not included: {other:?}"),
		}
	};
	let included = client.included(block, &xt).await.expect("rpc").expect("in the block");
	assert!(included.success, "{:?}", included.dispatch_error());
	assert!(included.events.iter().any(|e| matches!(
		e,
		RuntimeEvent::Ticks(pallet_ticks::Event::SessionClosing { session_id: s, settled_seconds: 3, .. })
			if *s == session_id
	)));
	let session = client.session(session_id, Some(block)).await.expect("rpc").expect("stored");
	assert!(!session.is_open());

	// An allowance: Dave approves once; his page's delegate key then opens a session with an
	// authorized general transaction (no signature of Dave's, no account nonce). The same call
	// replayed, or a call after the revocation, is refused by the pool.
	let dave = pair("//Dave");
	let page = pair("//Dave//page");
	let expires_at = client.now_ms(None).await.expect("rpc") + 3_600_000;
	let grant = RuntimeCall::Ticks(pallet_ticks::Call::grant_allowance {
		delegate: account(&page),
		amount: vilokanam_runtime::VLK,
		period: 0,
		expires_at,
	});
	let granted = client.execute(grant, &dave, false).await.expect("included");
	let allowance_id = granted
		.events
		.iter()
		.find_map(|e| match e {
			RuntimeEvent::Ticks(pallet_ticks::Event::AllowanceGranted { allowance_id, .. }) => {
				Some(*allowance_id)
			},
			_ => None,
		})
		.expect("AllowanceGranted");
	let delegate_call = |nonce: u32| {
		let op = pallet_ticks::DelegateOp::OpenSession {
			stream_id,
			max_seconds: 10,
			max_price_per_second: vilokanam_runtime::MILLI_VLK,
			voucher_key: account(&page),
		};
		let payload = pallet_ticks::Pallet::<vilokanam_runtime::Runtime>::delegate_payload(
			&genesis,
			&account(&dave),
			allowance_id,
			nonce,
			&op,
		);
		Client::authorized(RuntimeCall::Ticks(pallet_ticks::Call::delegate {
			viewer: account(&dave),
			allowance_id,
			nonce,
			op,
			encoding: VoucherEncoding::Raw,
			signature: Signature::Sr25519(page.sign(&payload)),
		}))
	};
	let first = delegate_call(0);
	let mut statuses = client.submit_and_watch(&first).await.expect("accepted by the pool");
	let block = loop {
		match tokio::time::timeout(Duration::from_secs(60), statuses.next()).await {
			Ok(Some(TxStatus::InBlock(block))) => break block,
			Ok(Some(TxStatus::Pool)) => {},
			other => panic!("the delegate call is not included: {other:?}"),
		}
	};
	let included = client.included(block, &first).await.expect("rpc").expect("in the block");
	assert!(included.events.iter().any(|e| matches!(
		e,
		RuntimeEvent::Ticks(pallet_ticks::Event::DelegateCallExecuted { result: Ok(()), fee, .. })
			if *fee > 0
	)));
	assert!(included.events.iter().any(|e| matches!(
		e,
		RuntimeEvent::Ticks(pallet_ticks::Event::SessionOpened { viewer, allowance: Some(_), .. })
			if *viewer == account(&dave)
	)));
	assert!(
		matches!(client.submit(&first).await, Err(Error::Rejected(_))),
		"a replayed delegate call is refused"
	);
	let revoke = RuntimeCall::Ticks(pallet_ticks::Call::revoke_allowance {});
	assert!(client.execute(revoke, &dave, false).await.expect("included").success);
	assert!(
		matches!(client.submit(&delegate_call(1)).await, Err(Error::Rejected(_))),
		"a delegate call after the revocation is refused"
	);
}
