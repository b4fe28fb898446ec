//! # What Vilokanam's runtimes share
//!
//! Vilokanam runs as a solochain (`vilokanam-runtime`: Aura + GRANDPA, its own validators) or as
//! a parachain (`vilokanam-parachain-runtime`: cumulus, collators, a relay chain's security).
//! What a viewer, a creator or a dApp meets must not depend on which: the same token, the same
//! prices and limits, the same calls at the same pallet indices, the same `VilokanamApi`. This
//! crate is where that lives, once:
//!
//! - the primitive types ([`AccountId`], [`Balance`], [`BlockNumber`], …) and [`opaque`] types;
//! - the token and time constants ([`VLK`], [`EXISTENTIAL_DEPOSIT`], [`MINUTES`], …);
//! - [`impl_vilokanam_configs!`]: the `Config` of balances, transaction payment, sudo and of our
//!   pallets (streams, payouts, ticks), and the off-chain transaction types the ticks worker
//!   uses to close abandoned sessions;
//! - [`presets`]: the genesis presets' names and their JSON patches;
//! - [`impl_vilokanam_runtime_apis!`]: the runtime APIs both serve alike (block building, the
//!   pool, off-chain workers, Aura, session keys, nonces, fees, genesis presets, and
//!   `VilokanamApi` over the views of [`impl_vilokanam_views!`]), plus each chain's own.
//!
//! These are macros because a pallet's `Config`, like a runtime's APIs, can only be implemented
//! in the crate that defines the runtime; each runtime invokes them once.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[doc(hidden)]
pub mod apis;
pub mod presets;
#[doc(hidden)]
pub mod views;

use sp_runtime::{
	generic,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};

/// A transaction signature: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;
/// An account: the public key of the signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account.
pub type Balance = u128;
/// Index of a transaction in the chain.
pub type Nonce = u32;
/// A hash of some data used by the chain.
pub type Hash = sp_core::H256;
/// An index to a block.
pub type BlockNumber = u32;
/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type of both runtimes.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;

/// Types the nodes need without knowing a runtime's extrinsic format, so that they keep syncing
/// across runtime upgrades that change it.
pub mod opaque {
	use super::*;
	use sp_runtime::traits::Hash as HashT;

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;
}

/// The target block time of both chains (the parachain's with async backing: one block per
/// relay chain slot).
pub const MILLI_SECS_PER_BLOCK: u64 = 6000;
/// Aura's slot duration. It cannot change once a chain has started: block production would stop.
pub const SLOT_DURATION: u64 = MILLI_SECS_PER_BLOCK;
/// Blocks in a minute.
pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
/// Blocks in an hour.
pub const HOURS: BlockNumber = MINUTES * 60;
/// Blocks in a day.
pub const DAYS: BlockNumber = HOURS * 24;

/// Name of the token.
pub const TOKEN_SYMBOL: &str = "VLK";
/// Decimal places of the token.
pub const TOKEN_DECIMALS: u8 = 12;
/// The SS58 address format (42: the generic Substrate prefix, understood by every wallet).
pub const SS58_PREFIX: u16 = 42;

/// One VLK in plancks.
pub const VLK: Balance = 1_000_000_000_000;
/// A thousandth of a VLK.
pub const MILLI_VLK: Balance = VLK / 1_000;
/// A millionth of a VLK.
pub const MICRO_VLK: Balance = VLK / 1_000_000;

/// The existential deposit: accounts below it are reaped. Small enough for a viewer to hold
/// the price of a few minutes of watching, large enough to make dust accounts costly.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_VLK;

/// The pallet indices clients rely on. Both runtimes place our pallets here, so a call to them
/// encodes the same on either chain (the sidecar's relayer, the SDK and the pages sign the same
/// bytes), and so do balances transfers and sudo.
pub mod pallet_index {
	/// `pallet_streams`.
	pub const STREAMS: u8 = 20;
	/// `pallet_payouts`.
	pub const PAYOUTS: u8 = 21;
	/// `pallet_ticks`.
	pub const TICKS: u8 = 22;
}

/// Implements, for the runtime type `$runtime`, the `Config` of the pallets both runtimes
/// configure alike: `pallet_balances`, `pallet_transaction_payment`, `pallet_sudo`,
/// `pallet_streams`, `pallet_payouts` and `pallet_ticks`, plus the
/// `frame_system::offchain::Create*` transaction types the ticks off-chain worker submits with.
///
/// The invoking module must have in scope the runtime's `Balances`, `System`, `Timestamp`,
/// `RuntimeCall`, `RuntimeEvent`, `RuntimeHoldReason`, `RuntimeFreezeReason`,
/// `UncheckedExtrinsic` and `TxExtension`, and the crate must define
/// `tx_extension(nonce) -> TxExtension` at its root.
// `crate::tx_extension` is meant to name the invoking runtime's function, not ours.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! impl_vilokanam_configs {
	($runtime:ident) => {
		impl pallet_balances::Config for $runtime {
			type MaxLocks = frame_support::traits::ConstU32<50>;
			type MaxReserves = ();
			type ReserveIdentifier = [u8; 8];
			type Balance = $crate::Balance;
			type RuntimeEvent = RuntimeEvent;
			type DustRemoval = ();
			type ExistentialDeposit =
				frame_support::traits::ConstU128<{ $crate::EXISTENTIAL_DEPOSIT }>;
			type AccountStore = System;
			type WeightInfo = pallet_balances::weights::SubstrateWeight<$runtime>;
			type FreezeIdentifier = RuntimeFreezeReason;
			type MaxFreezes = frame_support::traits::VariantCountOf<RuntimeFreezeReason>;
			type RuntimeHoldReason = RuntimeHoldReason;
			type RuntimeFreezeReason = RuntimeFreezeReason;
			type DoneSlashHandler = ();
		}

		frame_support::parameter_types! {
			pub FeeMultiplier: pallet_transaction_payment::Multiplier =
				<pallet_transaction_payment::Multiplier as sp_runtime::traits::One>::one();
		}

		impl pallet_transaction_payment::Config for $runtime {
			type RuntimeEvent = RuntimeEvent;
			type OnChargeTransaction = pallet_transaction_payment::FungibleAdapter<Balances, ()>;
			type OperationalFeeMultiplier = frame_support::traits::ConstU8<5>;
			type WeightToFee = frame_support::weights::IdentityFee<$crate::Balance>;
			type LengthToFee = frame_support::weights::IdentityFee<$crate::Balance>;
			type FeeMultiplierUpdate =
				pallet_transaction_payment::ConstFeeMultiplier<FeeMultiplier>;
			type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<$runtime>;
		}

		impl pallet_sudo::Config for $runtime {
			type RuntimeEvent = RuntimeEvent;
			type RuntimeCall = RuntimeCall;
			type WeightInfo = pallet_sudo::weights::SubstrateWeight<$runtime>;
		}

		frame_support::parameter_types! {
			/// Held from a creator for each registered stream, released when it is removed.
			pub const StreamDeposit: $crate::Balance = $crate::VLK;
			/// The platform account (fees) is derived from this id.
			pub const PayoutsPalletId: frame_support::PalletId = frame_support::PalletId(*b"vlk/fees");
			/// The escrow account of open viewer sessions is derived from this id.
			pub const TicksPalletId: frame_support::PalletId = frame_support::PalletId(*b"vlk/escr");
		}

		impl pallet_streams::Config for $runtime {
			type Currency = Balances;
			type RuntimeHoldReason = RuntimeHoldReason;
			type Time = Timestamp;
			type StreamDeposit = StreamDeposit;
			type CategoryOrigin = frame_system::EnsureRoot<$crate::AccountId>;
			type MaxTitleLen = frame_support::traits::ConstU32<128>;
			type MaxMetadataLen = frame_support::traits::ConstU32<256>;
			type MaxTagLen = frame_support::traits::ConstU32<32>;
			type MaxTags = frame_support::traits::ConstU32<8>;
			type MaxEndpointLen = frame_support::traits::ConstU32<256>;
			type MaxCategoryNameLen = frame_support::traits::ConstU32<64>;
			type MaxCollaborators = frame_support::traits::ConstU32<8>;
			type MaxFollows = frame_support::traits::ConstU32<1_000>;
			type WeightInfo = pallet_streams::weights::SubstrateWeight<$runtime>;
		}

		impl pallet_payouts::Config for $runtime {
			type Currency = Balances;
			type PalletId = PayoutsPalletId;
			type MaxTipMessageLen = frame_support::traits::ConstU32<256>;
			type FeeOrigin = frame_system::EnsureRoot<$crate::AccountId>;
			type WeightInfo = pallet_payouts::weights::SubstrateWeight<$runtime>;
		}

		/// Delegate calls pay what a signed transaction of the same weight and length pays (base
		/// fee included), through the transaction payment pallet's own fee formula.
		pub struct DelegateFeeAsTransaction;
		impl pallet_ticks::DelegateFee<$crate::Balance> for DelegateFeeAsTransaction {
			fn fee(weight: frame_support::weights::Weight, length: u32) -> $crate::Balance {
				let info = frame_support::dispatch::DispatchInfo {
					call_weight: weight,
					extension_weight: frame_support::weights::Weight::zero(),
					class: frame_support::dispatch::DispatchClass::Normal,
					pays_fee: frame_support::dispatch::Pays::Yes,
				};
				pallet_transaction_payment::Pallet::<$runtime>::compute_fee(length, &info, 0)
			}
		}

		impl pallet_ticks::Config for $runtime {
			type VoucherSignature = $crate::Signature;
			type PalletId = TicksPalletId;
			/// Bounded so that a full batch's worst-case weight fits a block's normal dispatch
			/// share.
			type MaxVouchersPerBatch = frame_support::traits::ConstU32<4_096>;
			type MaxCloseBatch = frame_support::traits::ConstU32<256>;
			/// A session with no settlement for twelve minutes on a live stream is abandoned: the
			/// off-chain worker closes it and refunds the viewer. The sidecar settles every few
			/// blocks; the margin is for an outage of the sidecar's link to the chain: up to ten
			/// minutes (as `SettleWindow`) lose no acknowledged second, with two more to catch up.
			type IdleTimeout = frame_support::traits::ConstU32<{ 12 * $crate::MINUTES }>;
			/// One block of clock skew between a viewer's player and the chain's timestamp.
			type ElapsedGrace =
				frame_support::traits::ConstU64<{ $crate::MILLI_SECS_PER_BLOCK / 1_000 }>;
			/// A day of watching per session at most; `top_up` cannot go beyond it.
			type MaxSecondsPerSession = frame_support::traits::ConstU64<86_400>;
			/// Ten minutes for the relayer to settle what it acknowledged after a viewer asks to
			/// close or a stream ends: the outage the sidecar is built to survive. The creator's
			/// relayer usually closes at once, well before.
			type SettleWindow = frame_support::traits::ConstU64<{ 10 * 60 * 1_000 }>;
			type DelegateFee = DelegateFeeAsTransaction;
			/// A day: a viewer's page or wallet can show what a session settled and refunded the
			/// day it closed. Records cost no fee, so their number is bounded by the rate of
			/// closes.
			type ClosedRetention = frame_support::traits::ConstU32<{ $crate::DAYS }>;
			type WeightInfo = pallet_ticks::weights::SubstrateWeight<$runtime>;
		}

		impl<C> frame_system::offchain::CreateTransactionBase<C> for $runtime
		where
			RuntimeCall: From<C>,
		{
			type Extrinsic = UncheckedExtrinsic;
			type RuntimeCall = RuntimeCall;
		}

		impl<C> frame_system::offchain::CreateTransaction<C> for $runtime
		where
			RuntimeCall: From<C>,
		{
			type Extension = TxExtension;

			fn create_transaction(call: RuntimeCall, extension: TxExtension) -> UncheckedExtrinsic {
				UncheckedExtrinsic::new_transaction(call, extension)
			}
		}

		/// Off-chain workers submit `#[pallet::authorize]`d calls (closing abandoned sessions) as
		/// general transactions: `AuthorizeCall` validates them; nonce and fee checks do not apply
		/// to the authorized origin.
		impl<C> frame_system::offchain::CreateAuthorizedTransaction<C> for $runtime
		where
			RuntimeCall: From<C>,
		{
			fn create_extension() -> TxExtension {
				crate::tx_extension(0)
			}
		}
	};
}
