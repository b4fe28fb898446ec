//! # Vilokanam parachain runtime
//!
//! Vilokanam as a parachain: the same pay-per-second pallets as the solochain
//! (`vilokanam-runtime`), secured by a relay chain instead of validators of its own. Collators
//! (`vilokanam-collator`) author blocks with Aura; the relay chain validates and finalizes them.
//!
//! What differs from the solochain, and why:
//! - no GRANDPA: finality is the relay chain's; cumulus' parachain-system pallet carries the
//!   relay chain's state into each block and `validate_block` (registered below) lets relay
//!   validators check the block;
//! - collators instead of validators: collator-selection picks them (invulnerables set by root,
//!   plus candidates who bond), the session pallet hands their keys to Aura;
//! - runtime upgrades go through the relay chain (`OnSetCode = ParachainSetCode`):
//!   `system.authorize_upgrade` then `system.apply_authorized_upgrade`, enacted once the relay
//!   chain has validated the new code;
//! - the XCM basics (message queue, XCMP queue, pallet-xcm), so that the chain can talk to the
//!   relay chain and sibling parachains; VLK is the only asset it holds;
//! - transactions reclaim unused proof size as well as weight (cumulus' `StorageWeightReclaim`
//!   wraps the extension pipeline), because a parachain block's proof of validity is bounded.
//!
//! What is the same, in one place (`vilokanam-runtime-common`): the token, the primitive types,
//! balances, fees, sudo, our pallets' parameters, the `VilokanamApi` views, and the pallet
//! indices of streams (20), payouts (21) and ticks (22). A signed transaction to our pallets is
//! the same bytes on either chain, apart from the chain's genesis hash and versions in the
//! signed payload: the transaction extensions encode alike (tested in `tests/shared.rs`).
//!
//! Layout: [`configs`] (one `Config` per pallet, [`configs::xcm_config`] for XCM), [`apis`],
//! [`genesis_config_presets`].

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime` needs a high recursion limit.
#![recursion_limit = "256"]

#[cfg(all(feature = "std", not(feature = "spec-bump")))]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));
#[cfg(all(feature = "std", feature = "spec-bump"))]
include!(concat!(env!("OUT_DIR"), "/wasm_binary_spec_bump.rs"));

pub mod apis;
pub mod configs;
pub mod genesis_config_presets;

extern crate alloc;

use alloc::vec::Vec;
use sp_runtime::{generic, impl_opaque_keys};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;
pub use vilokanam_runtime_common::{
	opaque, AccountId, Address, Balance, BlockNumber, Hash, Header, Nonce, Signature, DAYS,
	EXISTENTIAL_DEPOSIT, HOURS, MICRO_VLK, MILLI_SECS_PER_BLOCK, MILLI_VLK, MINUTES, SLOT_DURATION,
	SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, VLK,
};

/// The para id the genesis presets give the chain (Rococo-local's first free id).
pub const PARACHAIN_ID: u32 = 2000;

impl_opaque_keys! {
	/// The keys a collator registers with `session.set_keys`: Aura for authoring. (Finality is
	/// the relay chain's.)
	pub struct SessionKeys {
		/// Block authoring key.
		pub aura: Aura,
	}
}

/// Runtime version. `spec-bump` builds the same runtime one spec version higher: the second
/// Wasm `scripts/test-parachain.sh` upgrades to (`authorize_upgrade` refuses a version that
/// does not increase).
#[cfg(not(feature = "spec-bump"))]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("vilokanam-parachain"),
	impl_name: alloc::borrow::Cow::Borrowed("vilokanam-collator"),
	authoring_version: 1,
	spec_version: 1,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Runtime version, one spec version above the normal build (see the other `VERSION`).
#[cfg(feature = "spec-bump")]
#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("vilokanam-parachain"),
	impl_name: alloc::borrow::Cow::Borrowed("vilokanam-collator"),
	authoring_version: 1,
	spec_version: 2,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// The relay chain's slot: one parachain block per relay slot (velocity 1).
pub const RELAY_CHAIN_SLOT_DURATION_MILLIS: u32 = 6000;
/// Parachain blocks authored per relay chain slot.
pub const BLOCK_PROCESSING_VELOCITY: u32 = 1;
/// Blocks that may be built on top of the last included one before the relay chain includes
/// more (async backing: a block is authored while its parent is still being backed).
pub const UNINCLUDED_SEGMENT_CAPACITY: u32 = 3;

/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A block with its justifications.
pub type SignedBlock = generic::SignedBlock<Block>;
/// BlockId type as expected by this runtime.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions, in the order they run, wrapped in cumulus' storage weight
/// reclaim (which also reclaims unused weight, as the solochain's `WeightReclaim` does).
///
/// They encode exactly as the solochain's (whose last extension, `WeightReclaim`, encodes to
/// nothing): wallets, the sidecar and the SDK sign our pallets' calls the same way on both.
pub type TxExtension = cumulus_pallet_weight_reclaim::StorageWeightReclaim<
	Runtime,
	(
		frame_system::AuthorizeCall<Runtime>,
		frame_system::CheckNonZeroSender<Runtime>,
		frame_system::CheckSpecVersion<Runtime>,
		frame_system::CheckTxVersion<Runtime>,
		frame_system::CheckGenesis<Runtime>,
		frame_system::CheckEra<Runtime>,
		frame_system::CheckNonce<Runtime>,
		frame_system::CheckWeight<Runtime>,
		pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
		frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
	),
>;

/// The transaction extensions of an immortal, tip-free transaction with `nonce`: what wallets in
/// tests sign and what off-chain workers attach to authorized calls.
pub fn tx_extension(nonce: Nonce) -> TxExtension {
	cumulus_pallet_weight_reclaim::StorageWeightReclaim::new((
		frame_system::AuthorizeCall::<Runtime>::new(),
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(generic::Era::Immortal),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(0),
		frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
	))
}

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;

/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Executive: dispatches to the pallets. A new chain has nothing to migrate.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type ParachainSystem = cumulus_pallet_parachain_system;

	#[runtime::pallet_index(2)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(3)]
	pub type ParachainInfo = staging_parachain_info;

	#[runtime::pallet_index(4)]
	pub type WeightReclaim = cumulus_pallet_weight_reclaim;

	#[runtime::pallet_index(10)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(11)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(15)]
	pub type Sudo = pallet_sudo;

	// Vilokanam's own pallets, at the solochain's indices
	// (`vilokanam_runtime_common::pallet_index`).
	#[runtime::pallet_index(20)]
	pub type Streams = pallet_streams;

	#[runtime::pallet_index(21)]
	pub type Payouts = pallet_payouts;

	#[runtime::pallet_index(22)]
	pub type Ticks = pallet_ticks;

	// Collation. The order of these four matters: authorship records the author before
	// collator-selection rewards it, and session hands the new set to Aura.
	#[runtime::pallet_index(30)]
	pub type Authorship = pallet_authorship;

	#[runtime::pallet_index(31)]
	pub type CollatorSelection = pallet_collator_selection;

	#[runtime::pallet_index(32)]
	pub type Session = pallet_session;

	#[runtime::pallet_index(33)]
	pub type Aura = pallet_aura;

	#[runtime::pallet_index(34)]
	pub type AuraExt = cumulus_pallet_aura_ext;

	// XCM.
	#[runtime::pallet_index(40)]
	pub type XcmpQueue = cumulus_pallet_xcmp_queue;

	#[runtime::pallet_index(41)]
	pub type PolkadotXcm = pallet_xcm;

	#[runtime::pallet_index(42)]
	pub type CumulusXcm = cumulus_pallet_xcm;

	#[runtime::pallet_index(43)]
	pub type MessageQueue = pallet_message_queue;
}

cumulus_pallet_parachain_system::register_validate_block! {
	Runtime = Runtime,
	BlockExecutor = cumulus_pallet_aura_ext::BlockExecutor::<Runtime, Executive>,
}
