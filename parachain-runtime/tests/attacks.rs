//! The parachain's added surface, attacked: XCM from the relay chain and siblings, `pallet_xcm`
//! from signed accounts, the runtime upgrade pair and the collator set. Each attack must fail and
//! leave balances, issuance, authorizations and outgoing queues as they were.

use codec::Encode;
use frame_support::{assert_ok, dispatch::GetDispatchInfo, weights::Weight};
use sp_keyring::Sr25519Keyring;
use sp_runtime::{
	traits::{Dispatchable, Hash},
	transaction_validity::TransactionSource,
	BuildStorage, DispatchError,
};
use staging_xcm::{latest::prelude::*, VersionedLocation, VersionedXcm};
use staging_xcm_executor::{traits::ConvertLocation, XcmExecutor};
use vilokanam_parachain_runtime::{
	self as para,
	configs::xcm_config::{LocationToAccountId, XcmConfig},
	Balances, Runtime, RuntimeCall, RuntimeOrigin, VLK,
};

mod common;

/// The `development` chain at block 1; Alice is sudo and the only collator.
fn dev_chain() -> sp_io::TestExternalities {
	let storage = common::genesis_of("development").build_storage().expect("the preset builds");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| frame_system::Pallet::<Runtime>::set_block_number(1));
	ext
}

fn account(who: Sr25519Keyring) -> para::AccountId {
	who.to_account_id()
}

fn free(who: &para::AccountId) -> para::Balance {
	pallet_balances::Pallet::<Runtime>::free_balance(who)
}

fn issuance() -> para::Balance {
	pallet_balances::Pallet::<Runtime>::total_issuance()
}

fn relay() -> Location {
	Location::parent()
}

fn sibling() -> Location {
	Location::new(1, [Parachain(1000)])
}

fn bob_here() -> Location {
	AccountId32 { network: None, id: account(Sr25519Keyring::Bob).into() }.into()
}

/// Runs `xcm` as the message queue runs an incoming message: from `origin`, with room in the
/// block but no weight credit, so the barrier decides.
fn execute_incoming(origin: Location, xcm: Xcm<RuntimeCall>) -> Outcome {
	let mut id = [7u8; 32];
	XcmExecutor::<XcmConfig>::prepare_and_execute(
		origin,
		xcm,
		&mut id,
		Weight::from_parts(1_000_000_000_000, 8 * 1024 * 1024),
		Weight::zero(),
	)
}

fn failed_with(outcome: &Outcome) -> Option<(u8, XcmError)> {
	match outcome {
		Outcome::Complete { .. } => None,
		Outcome::Incomplete { error, .. } | Outcome::Error(error) => {
			Some((error.index, error.error))
		},
	}
}

fn dispatch(call: RuntimeCall, origin: RuntimeOrigin) -> Result<(), DispatchError> {
	call.dispatch(origin).map(|_| ()).map_err(|e| e.error)
}

/// `origin` claims to have put `asset` in our holding (`claim` builds the claiming
/// instruction) and asks for it to be deposited to Bob; the executor must stop at the claim with
/// `expected`, crediting nobody.
fn assert_claim_refused(
	origin: Location,
	asset: Location,
	claim: fn(Assets) -> Instruction<RuntimeCall>,
	expected: XcmError,
) {
	let (bob, before) = (account(Sr25519Keyring::Bob), issuance());
	let bob_before = free(&bob);
	let amount: Asset = (asset.clone(), 1_000 * VLK).into();
	let outcome = execute_incoming(
		origin.clone(),
		Xcm(vec![
			claim(amount.clone().into()),
			ClearOrigin,
			BuyExecution { fees: amount, weight_limit: Unlimited },
			DepositAsset { assets: AllCounted(1).into(), beneficiary: bob_here() },
		]),
	);
	assert_eq!(failed_with(&outcome), Some((0, expected)), "{origin:?} claiming {asset:?}");
	assert_eq!(free(&bob), bob_before);
	assert_eq!(issuance(), before);
}

#[test]
fn nobody_can_deposit_vlk_or_a_foreign_asset_as_a_reserve() {
	dev_chain().execute_with(|| {
		for origin in [relay(), sibling()] {
			// VLK itself, the relay chain's token, and a sibling's token.
			for asset in [Location::here(), Location::parent(), sibling()] {
				assert_claim_refused(
					origin.clone(),
					asset,
					ReserveAssetDeposited,
					XcmError::UntrustedReserveLocation,
				);
			}
		}
	});
}

#[test]
fn nobody_can_teleport_an_asset_in() {
	dev_chain().execute_with(|| {
		for origin in [relay(), sibling()] {
			// VLK, or the sender's own token.
			for asset in [Location::here(), origin.clone()] {
				assert_claim_refused(
					origin.clone(),
					asset,
					ReceiveTeleportedAsset,
					XcmError::UntrustedTeleportLocation,
				);
			}
		}
	});
}

#[test]
fn a_sibling_cannot_execute_without_paying() {
	dev_chain().execute_with(|| {
		let remark = RuntimeCall::System(frame_system::Call::remark_with_event { remark: vec![1] });
		let outcome = execute_incoming(
			sibling(),
			Xcm(vec![
				UnpaidExecution { weight_limit: Unlimited, check_origin: None },
				Transact {
					origin_kind: OriginKind::SovereignAccount,
					fallback_max_weight: None,
					call: remark.encode().into(),
				},
			]),
		);
		assert_eq!(failed_with(&outcome), Some((0, XcmError::Barrier)));
		assert!(frame_system::Pallet::<Runtime>::events().is_empty());
	});
}

#[test]
fn no_xcm_origin_becomes_root() {
	dev_chain().execute_with(|| {
		let bob = account(Sr25519Keyring::Bob);
		let bob_before = free(&bob);
		let mint = RuntimeCall::Balances(pallet_balances::Call::force_set_balance {
			who: bob.clone().into(),
			new_free: 1_000_000_000 * VLK,
		});
		// The sibling pays for its program from its sovereign account here.
		let sovereign =
			LocationToAccountId::convert_location(&sibling()).expect("siblings have accounts");
		assert_ok!(Balances::force_set_balance(
			RuntimeOrigin::root(),
			sovereign.clone().into(),
			100 * VLK
		));
		let fees: Asset = (Location::here(), 10 * VLK).into();
		let transact = |origin_kind| Transact {
			origin_kind,
			fallback_max_weight: Some(mint.get_dispatch_info().call_weight),
			call: mint.encode().into(),
		};
		for origin_kind in [
			OriginKind::Superuser,
			OriginKind::Native,
			OriginKind::SovereignAccount,
			OriginKind::Xcm,
		] {
			let paid = Xcm(vec![
				WithdrawAsset(fees.clone().into()),
				BuyExecution { fees: fees.clone(), weight_limit: Unlimited },
				transact(origin_kind),
			]);
			let outcome = execute_incoming(sibling(), paid);
			if origin_kind == OriginKind::Superuser {
				assert_eq!(failed_with(&outcome), Some((2, XcmError::BadOrigin)));
			}
			// Relay governance executes unpaid, yet is not root here either.
			let unpaid = Xcm(vec![
				UnpaidExecution { weight_limit: Unlimited, check_origin: None },
				transact(origin_kind),
			]);
			let outcome = execute_incoming(relay(), unpaid);
			if origin_kind == OriginKind::Superuser {
				assert_eq!(failed_with(&outcome), Some((1, XcmError::BadOrigin)));
			}
			assert_eq!(free(&bob), bob_before, "{origin_kind:?}");
		}
		// The sovereign paid for the weight it bought, and no more than it withdrew per program.
		assert!(free(&sovereign) >= 100 * VLK - 4 * 10 * VLK);
	});
}

#[test]
fn signed_accounts_cannot_send_execute_or_transfer_through_pallet_xcm() {
	dev_chain().execute_with(|| {
		let bob = account(Sr25519Keyring::Bob);
		let (bob_before, before) = (free(&bob), issuance());
		let message = Xcm::<()>(vec![ClearOrigin]);
		let calls = [
			RuntimeCall::PolkadotXcm(pallet_xcm::Call::send {
				dest: Box::new(VersionedLocation::from(relay())),
				message: Box::new(VersionedXcm::from(message)),
			}),
			RuntimeCall::PolkadotXcm(pallet_xcm::Call::execute {
				message: Box::new(VersionedXcm::from(Xcm::<RuntimeCall>(vec![ClearOrigin]))),
				max_weight: Weight::from_parts(10_000_000_000, 100_000),
			}),
			RuntimeCall::PolkadotXcm(pallet_xcm::Call::transfer_assets {
				dest: Box::new(VersionedLocation::from(sibling())),
				beneficiary: Box::new(VersionedLocation::from(bob_here())),
				assets: Box::new(vec![Asset::from((Location::here(), 10 * VLK))].into()),
				fee_asset_item: 0,
				weight_limit: Unlimited,
			}),
			RuntimeCall::PolkadotXcm(pallet_xcm::Call::limited_teleport_assets {
				dest: Box::new(VersionedLocation::from(relay())),
				beneficiary: Box::new(VersionedLocation::from(bob_here())),
				assets: Box::new(vec![Asset::from((Location::here(), 10 * VLK))].into()),
				fee_asset_item: 0,
				weight_limit: Unlimited,
			}),
		];
		for call in calls {
			// Each needs `ExecuteXcmOrigin` or `SendXcmOrigin`, both root's alone.
			let refused = dispatch(call.clone(), RuntimeOrigin::signed(bob.clone()));
			assert_eq!(refused, Err(DispatchError::BadOrigin), "{call:?}");
		}
		assert_eq!(free(&bob), bob_before);
		assert_eq!(issuance(), before);
		assert!(cumulus_pallet_parachain_system::PendingUpwardMessages::<Runtime>::get().is_empty());
	});
}

#[test]
fn only_root_authorizes_an_upgrade_and_only_the_authorized_code_applies() {
	dev_chain().execute_with(|| {
		let bob = RuntimeOrigin::signed(account(Sr25519Keyring::Bob));
		let (good, evil) = (b"the authorized runtime".to_vec(), b"another runtime".to_vec());
		let good_hash = <Runtime as frame_system::Config>::Hashing::hash(&good);
		let authorize = |code_hash| {
			[
				RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash }),
				RuntimeCall::System(frame_system::Call::authorize_upgrade_without_checks {
					code_hash,
				}),
			]
		};
		for call in authorize(good_hash) {
			assert_eq!(dispatch(call, bob.clone()), Err(DispatchError::BadOrigin));
		}
		assert!(frame_system::Pallet::<Runtime>::authorized_upgrade().is_none());
		let apply = |code: &Vec<u8>| {
			RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code: code.clone() })
		};
		assert_eq!(
			dispatch(apply(&evil), RuntimeOrigin::none()),
			Err(frame_system::Error::<Runtime>::NothingAuthorized.into())
		);

		let [authorize_good, _] = authorize(good_hash);
		assert_ok!(dispatch(authorize_good, RuntimeOrigin::root()));
		for origin in [RuntimeOrigin::none(), bob.clone()] {
			assert_eq!(
				dispatch(apply(&evil), origin),
				Err(frame_system::Error::<Runtime>::Unauthorized.into())
			);
		}
		// The pool (the runtime's `validate_transaction`) refuses the wrong code before it reaches a block, and keeps the right one.
		let validate = |code: &Vec<u8>| {
			para::Executive::validate_transaction(
				TransactionSource::External,
				para::UncheckedExtrinsic::new_bare(apply(code)),
				Default::default(),
			)
		};
		assert!(validate(&evil).is_err());
		assert!(validate(&good).is_ok());
		assert_eq!(
			frame_system::Pallet::<Runtime>::authorized_upgrade().map(|a| *a.code_hash()),
			Some(good_hash)
		);
	});
}

#[test]
fn only_root_changes_the_invulnerable_collators() {
	dev_chain().execute_with(|| {
		let (bob, eve) = (account(Sr25519Keyring::Bob), account(Sr25519Keyring::Eve));
		let before = pallet_collator_selection::Invulnerables::<Runtime>::get();
		let calls = [
			RuntimeCall::CollatorSelection(pallet_collator_selection::Call::set_invulnerables {
				new: vec![eve.clone()],
			}),
			RuntimeCall::CollatorSelection(pallet_collator_selection::Call::add_invulnerable {
				who: eve.clone(),
			}),
			RuntimeCall::CollatorSelection(pallet_collator_selection::Call::remove_invulnerable {
				who: account(Sr25519Keyring::Alice),
			}),
			RuntimeCall::CollatorSelection(
				pallet_collator_selection::Call::set_desired_candidates { max: 100 },
			),
		];
		for call in calls {
			assert_eq!(
				dispatch(call, RuntimeOrigin::signed(bob.clone())),
				Err(DispatchError::BadOrigin)
			);
		}
		assert_eq!(pallet_collator_selection::Invulnerables::<Runtime>::get(), before);
		// A candidate must have session keys: an account without them cannot queue to collate.
		assert_eq!(
			dispatch(
				RuntimeCall::CollatorSelection(
					pallet_collator_selection::Call::register_as_candidate {}
				),
				RuntimeOrigin::signed(eve),
			),
			Err(pallet_collator_selection::Error::<Runtime>::ValidatorNotRegistered.into())
		);
		assert!(pallet_collator_selection::CandidateList::<Runtime>::get().is_empty());
	});
}
