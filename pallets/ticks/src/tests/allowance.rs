//! Allowances: one approval, then delegate calls within the budget, paid for, never replayed.

use super::*;
use frame_support::{assert_noop, pallet_prelude::InvalidTransaction};
use sp_runtime::DispatchError;

/// The page's delegate key.
fn delegate_key() -> sr25519::Pair {
	pair(42)
}

const DAY_MS: u64 = 86_400_000;

fn grant(amount: Balance, period: u64, valid_for: u64) -> AllowanceId {
	let id = NextAllowanceId::<Test>::get();
	let now = pallet_timestamp::Now::<Test>::get();
	assert_ok!(Ticks::grant_allowance(
		RuntimeOrigin::signed(charlie()),
		account_of(&delegate_key()),
		amount,
		period,
		now + valid_for,
	));
	id
}

fn open_op(stream: StreamId, max_seconds: u64, max_price: Balance) -> DelegateOp<Test> {
	DelegateOp::OpenSession {
		stream_id: stream,
		max_seconds,
		max_price_per_second: max_price,
		voucher_key: account_of(&voucher_key_of(&charlie())),
	}
}

/// The `delegate` call for `op`, signed by `key`.
fn delegate_call(
	key: &sr25519::Pair,
	allowance_id: AllowanceId,
	nonce: u32,
	op: DelegateOp<Test>,
) -> crate::Call<Test> {
	let payload =
		Ticks::delegate_payload(&Ticks::genesis_hash(), &charlie(), allowance_id, nonce, &op);
	crate::Call::delegate {
		viewer: charlie(),
		allowance_id,
		nonce,
		op,
		encoding: VoucherEncoding::Raw,
		signature: MultiSignature::from(key.sign(&payload)),
	}
}

/// Validate, then dispatch, as a block would.
fn submit(call: crate::Call<Test>) -> Result<(), TransactionValidityError> {
	authorize(call.clone())?;
	let crate::Call::delegate { viewer, allowance_id, nonce, op, encoding, signature } = call
	else {
		unreachable!()
	};
	assert_ok!(Ticks::delegate(authorized(), viewer, allowance_id, nonce, op, encoding, signature));
	Ok(())
}

fn executed() -> Vec<(u32, Balance, sp_runtime::DispatchResult)> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Ticks(Event::DelegateCallExecuted { nonce, fee, result, .. }) => {
				Some((nonce, fee, result))
			},
			_ => None,
		})
		.collect()
}

#[test]
fn one_grant_then_the_delegate_opens_and_tops_up_with_fees_counted() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let id = grant(1_000, DAY_MS, 30 * DAY_MS);
		let a = Allowances::<Test>::get(charlie()).unwrap();
		assert_eq!((a.id, a.amount, a.used, a.nonce), (id, 1_000, 0, 0));
		System::assert_last_event(
			Event::AllowanceGranted {
				viewer: charlie(),
				allowance_id: id,
				delegate: account_of(&delegate_key()),
				amount: 1_000,
				period: DAY_MS,
				expires_at: 1_000_000 + 30 * DAY_MS,
				replaced: None,
			}
			.into(),
		);

		let sid = NextSessionId::<Test>::get();
		assert_ok!(submit(delegate_call(&delegate_key(), id, 0, open_op(stream, 100, 2))));
		let s = Ticks::session(sid).unwrap();
		assert_eq!((s.viewer.clone(), s.allowance, s.escrow_remaining), (charlie(), Some(id), 200));
		assert_eq!(s.voucher_key, account_of(&voucher_key_of(&charlie())));
		// Deposit and fee came from the viewer's balance; both count against the allowance.
		assert_eq!(free(&charlie()), INITIAL - 200 - DELEGATE_FEE);
		assert_eq!(Allowances::<Test>::get(charlie()).unwrap().used, 200 + DELEGATE_FEE);
		assert_ok!(submit(delegate_call(
			&delegate_key(),
			id,
			1,
			DelegateOp::TopUp { session_id: sid, extra_seconds: 50 }
		)));
		assert_eq!(Ticks::session(sid).unwrap().max_seconds, 150);
		assert_eq!(Allowances::<Test>::get(charlie()).unwrap().used, 300 + 2 * DELEGATE_FEE);
		assert_eq!(executed(), vec![(0, DELEGATE_FEE, Ok(())), (1, DELEGATE_FEE, Ok(()))]);

		// Watching 30 s, then leaving with a close intent (no wallet): once refunded, the
		// refund is credited back to the allowance.
		advance_secs(30);
		assert_ok!(Ticks::close_session(
			RuntimeOrigin::signed(relayer()),
			sid,
			Some(intent(&voucher_key_of(&charlie()), sid, 30))
		));
		assert_eq!(Allowances::<Test>::get(charlie()).unwrap().used, 60 + 2 * DELEGATE_FEE);
		assert_eq!(free(&charlie()), INITIAL - 60 - 2 * DELEGATE_FEE);
	});
}

#[test]
fn a_delegate_cannot_go_beyond_the_allowance_or_the_price_cap() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(2, vec![]);
		let id = grant(300, 0, DAY_MS);
		let key = delegate_key();
		// 200 + fee fits; another 100 + fee does not.
		assert_ok!(submit(delegate_call(&key, id, 0, open_op(stream, 100, 2))));
		assert_eq!(
			submit(delegate_call(&key, id, 1, open_op(stream, 50, 2))),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Payment))
		);
		// Above the price the viewer agreed to: refused before anything is paid.
		assert_eq!(
			submit(delegate_call(&key, id, 1, open_op(stream, 10, 1))),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Call))
		);
		// A price rise between validation and dispatch: the fee is paid, the open refused.
		let op = open_op(stream, 10, 2);
		let call = delegate_call(&key, id, 1, op.clone());
		assert!(authorize(call.clone()).is_ok());
		assert_ok!(Streams::update_stream(
			RuntimeOrigin::signed(alice()),
			stream,
			pallet_streams::StreamUpdate::<Test> {
				price_per_second: Some(3),
				..Default::default()
			}
		));
		let crate::Call::delegate { signature, .. } = call else { unreachable!() };
		let before = free(&charlie());
		let sessions = NextSessionId::<Test>::get();
		assert_ok!(Ticks::delegate(
			authorized(),
			charlie(),
			id,
			1,
			op,
			VoucherEncoding::Raw,
			signature
		));
		assert_eq!(NextSessionId::<Test>::get(), sessions);
		assert_eq!(free(&charlie()), before - DELEGATE_FEE);
		assert_eq!(
			executed().last(),
			Some(&(1, DELEGATE_FEE, Err(Error::<Test>::PriceAboveMax.into())))
		);
		// Dispatched without validation: a wrong nonce changes nothing; an operation beyond the
		// allowance is refused, its fee paid.
		let any = || MultiSignature::from(key.sign(b"anything"));
		assert_noop!(
			Ticks::delegate(
				authorized(),
				charlie(),
				id,
				5,
				open_op(stream, 1, 3),
				VoucherEncoding::Raw,
				any()
			),
			Error::<Test>::BadNonce
		);
		let before = free(&charlie());
		assert_ok!(Ticks::delegate(
			authorized(),
			charlie(),
			id,
			2,
			open_op(stream, 1_000, 3),
			VoucherEncoding::Raw,
			any()
		));
		assert_eq!(
			executed().last(),
			Some(&(2, DELEGATE_FEE, Err(Error::<Test>::AllowanceExceeded.into())))
		);
		assert_eq!(free(&charlie()), before - DELEGATE_FEE);
		let a = Allowances::<Test>::get(charlie()).unwrap();
		assert_eq!((a.used, a.nonce), (200 + 3 * DELEGATE_FEE, 3));
	});
}

#[test]
fn delegate_calls_cannot_be_replayed_forged_or_used_after_revocation() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(1, vec![]);
		let id = grant(1_000, 0, DAY_MS);
		let key = delegate_key();
		let first = delegate_call(&key, id, 0, open_op(stream, 10, 1));
		assert_ok!(submit(first.clone()));
		// Replayed: its nonce is used.
		assert_eq!(authorize(first), invalid(InvalidTransaction::Stale));
		// A future nonce waits; a stranger's key or another op under the signature: bad proof.
		assert_eq!(
			authorize(delegate_call(&key, id, 5, open_op(stream, 10, 1))),
			invalid(InvalidTransaction::Future)
		);
		assert_eq!(
			authorize(delegate_call(&pair(6), id, 1, open_op(stream, 10, 1))),
			invalid(InvalidTransaction::BadProof)
		);
		let crate::Call::delegate { signature, .. } =
			delegate_call(&key, id, 1, open_op(stream, 10, 1))
		else {
			unreachable!()
		};
		assert_eq!(
			authorize(crate::Call::delegate {
				viewer: charlie(),
				allowance_id: id,
				nonce: 1,
				op: open_op(stream, 20, 1),
				encoding: VoucherEncoding::Raw,
				signature,
			}),
			invalid(InvalidTransaction::BadProof)
		);
		// Only through the authorization.
		assert_noop!(
			Ticks::delegate(
				RuntimeOrigin::signed(charlie()),
				charlie(),
				id,
				1,
				open_op(stream, 10, 1),
				VoucherEncoding::Raw,
				MultiSignature::from(key.sign(b"x"))
			),
			DispatchError::BadOrigin
		);

		// Revoked: nothing more.
		let next = delegate_call(&key, id, 1, open_op(stream, 10, 1));
		assert_ok!(Ticks::revoke_allowance(RuntimeOrigin::signed(charlie())));
		System::assert_last_event(
			Event::AllowanceRevoked { viewer: charlie(), allowance_id: id }.into(),
		);
		assert_eq!(authorize(next.clone()), invalid(InvalidTransaction::Stale));
		assert_noop!(
			Ticks::revoke_allowance(RuntimeOrigin::signed(charlie())),
			Error::<Test>::AllowanceNotFound
		);
		// Granted again to the same key: the old signatures stay worthless (a new id).
		let id2 = grant(1_000, 0, DAY_MS);
		assert_ne!(id, id2);
		assert_eq!(authorize(next), invalid(InvalidTransaction::Stale));
		assert_ok!(submit(delegate_call(&key, id2, 0, open_op(stream, 10, 1))));
		// The unspent part was never taken: only what the delegate committed left the account.
		assert_eq!(free(&charlie()), INITIAL - 2 * (10 + DELEGATE_FEE));
	});
}

#[test]
fn an_allowance_expires_and_renews_by_period() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(1, vec![]);
		let id = grant(100, DAY_MS, 3 * DAY_MS);
		let key = delegate_key();
		assert_ok!(submit(delegate_call(&key, id, 0, open_op(stream, 90, 1))));
		assert_eq!(
			authorize(delegate_call(&key, id, 1, open_op(stream, 10, 1))),
			invalid(InvalidTransaction::Payment)
		);
		// The next day the budget starts again.
		Timestamp::set_timestamp(1_000_000 + DAY_MS);
		assert_ok!(submit(delegate_call(&key, id, 1, open_op(stream, 90, 1))));
		let a = Allowances::<Test>::get(charlie()).unwrap();
		assert_eq!((a.period_start, a.used), (1_000_000 + DAY_MS, 90 + DELEGATE_FEE));
		// The first day's session refunds after the period rolled: not credited to the new one.
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), 0, None));
		assert_eq!(Allowances::<Test>::get(charlie()).unwrap().used, 90 + DELEGATE_FEE);
		// Expired: refused.
		Timestamp::set_timestamp(1_000_000 + 3 * DAY_MS);
		assert_eq!(
			authorize(delegate_call(&key, id, 2, open_op(stream, 1, 1))),
			invalid(InvalidTransaction::Stale)
		);
		assert_noop!(
			Ticks::grant_allowance(RuntimeOrigin::signed(charlie()), charlie(), 0, 0, u64::MAX),
			Error::<Test>::InvalidAllowance
		);
		assert_noop!(
			Ticks::grant_allowance(RuntimeOrigin::signed(charlie()), charlie(), 10, 0, 1),
			Error::<Test>::InvalidAllowance
		);
	});
}

#[test]
fn the_viewer_must_afford_the_delegate_call() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(1, vec![]);
		let id = grant(INITIAL * 2, 0, DAY_MS);
		// The allowance is larger than the balance: the balance bounds it.
		assert_eq!(
			authorize(delegate_call(&delegate_key(), id, 0, open_op(stream, INITIAL, 1))),
			invalid(InvalidTransaction::Payment)
		);
		// A top-up of somebody else's session is refused.
		let dave_session = open(&dave(), stream, 10);
		assert_eq!(
			authorize(delegate_call(
				&delegate_key(),
				id,
				0,
				DelegateOp::TopUp { session_id: dave_session, extra_seconds: 1 }
			)),
			invalid(InvalidTransaction::Call)
		);
	});
}

/// A viewer who tops up an allowance session from its own wallet: the session's refund no
/// longer goes back to the allowance (it would credit more than the delegate committed).
#[test]
fn a_wallet_top_up_detaches_the_session_from_the_allowance() {
	ExtBuilder::build_and_execute(|| {
		let stream = live_stream(1, vec![]);
		let id = grant(100, 0, DAY_MS);
		let sid = NextSessionId::<Test>::get();
		assert_ok!(submit(delegate_call(&delegate_key(), id, 0, open_op(stream, 50, 1))));
		assert_ok!(Ticks::top_up(RuntimeOrigin::signed(charlie()), sid, 500));
		assert_eq!(Ticks::session(sid).unwrap().allowance, None);
		assert_ok!(Ticks::close_session(RuntimeOrigin::signed(alice()), sid, None));
		assert_eq!(Allowances::<Test>::get(charlie()).unwrap().used, 50 + DELEGATE_FEE);
	});
}
