//! # Payouts pallet
//!
//! Every amount a Vilokanam viewer pays — settled seconds (through `pallet-ticks`) and tips —
//! flows through this pallet, which takes the platform fee and divides the rest between a
//! stream's collaborators and its creator.
//!
//! ## Map
//!
//! - [`Config`] — the currency, the [`PalletId`](Config::PalletId) of the platform account, the
//!   tip message bound and the origin that sets the fee.
//! - [`Call`] — [`tip`](Pallet::tip), [`set_platform_fee`](Pallet::set_platform_fee).
//! - Storage: [`PlatformFeeBps`], [`LifetimeEarnings`], [`StreamEarnings`].
//! - [`Event`] and [`Error`]; genesis: [`GenesisConfig`].
//! - Public API for `pallet-ticks`: [`Credits`] (the batch accumulator), [`Pallet::commit`],
//!   [`Pallet::platform_account`], [`Pallet::pay_or_redirect`], and the pure functions
//!   [`split`] and [`platform_fee`].
//!
//! ## Terminology
//!
//! - **Fee**: `amount × PlatformFeeBps / 10_000`, rounded down, paid to the platform account
//!   (`PalletId::into_account_truncating`).
//! - **Split**: the collaborators of a stream (from `pallet-streams`) each receive their
//!   [`Permill`](sp_runtime::Permill) share of `amount − fee`, rounded down; the creator receives
//!   the remainder. Hence the parts always add up to the amount exactly, and every rounding
//!   remainder goes to the creator.
//! - **Credits**: per-recipient totals accumulated in memory over a batch; committing them
//!   makes one transfer per distinct recipient.
//!
//! ## Existential deposit policy
//!
//! A transfer that would leave a recipient below the existential deposit (a new account
//! receiving dust) would fail and, with it, the whole batch. Instead, [`Pallet::commit`] checks
//! `can_deposit` first and redirects such a credit to the platform account
//! ([`Event::CreditRedirected`]). The platform account is endowed with the existential deposit
//! at genesis, so it can always receive. Should it nevertheless be unable to (e.g. the pallet
//! was added without running its genesis), the amount stays with the payer and is reported with
//! [`Event::CreditRedirected`] whose `to` is the payer. No amount is ever lost.
//!
//! ## Assumptions
//!
//! - The currency is the one `pallet-streams` uses (same balance type).
//! - A split's shares sum to at most 100 % (enforced by `pallet-streams`).

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
pub mod migrations;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{self, Inspect, Mutate},
			tokens::{DepositConsequence, Preservation, Provenance},
		},
		PalletId,
	};
	use frame_system::pallet_prelude::*;
	use pallet_streams::StreamId;
	use sp_runtime::traits::{AccountIdConversion, Saturating, Zero};

	/// The payouts pallet.
	#[pallet::pallet]
	#[pallet::storage_version(migrations::STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the payouts pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config + pallet_streams::Config {
		/// The currency payments are made in; its balance type is the one of `pallet-streams`.
		type Currency: fungible::Inspect<Self::AccountId, Balance = pallet_streams::BalanceOf<Self>>
			+ fungible::Mutate<Self::AccountId>;

		/// The id from which the platform account (receiving fees) is derived.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Maximum length of a tip message, in bytes.
		#[pallet::constant]
		type MaxTipMessageLen: Get<u32>;

		/// The origin that can change the platform fee (`EnsureRoot` in the runtime).
		type FeeOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Weight information for the calls of this pallet.
		type WeightInfo: WeightInfo;
	}

	/// The platform fee in basis points (`0..=10_000`).
	#[pallet::storage]
	pub type PlatformFeeBps<T> = StorageValue<_, u16, ValueQuery>;

	/// Everything each account ever received through this pallet (fees included for the
	/// platform account).
	#[pallet::storage]
	pub type LifetimeEarnings<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, BalanceOf<T>, ValueQuery>;

	/// Everything ever paid for each stream (before fee and split).
	#[pallet::storage]
	pub type StreamEarnings<T: Config> =
		StorageMap<_, Twox64Concat, StreamId, BalanceOf<T>, ValueQuery>;

	/// Genesis configuration.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The initial platform fee in basis points; at most 10_000.
		pub platform_fee_bps: u16,
		#[serde(skip)]
		#[allow(missing_docs)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(self.platform_fee_bps <= MAX_FEE_BPS, "platform fee above 10_000 bps");
			PlatformFeeBps::<T>::put(self.platform_fee_bps);
			// Endow the platform account so that it can always receive redirected dust.
			let platform = Pallet::<T>::platform_account();
			let ed = <T as Config>::Currency::minimum_balance();
			let free = <T as Config>::Currency::balance(&platform);
			if free < ed {
				if let Err(e) =
					<T as Config>::Currency::mint_into(&platform, ed.saturating_sub(free))
				{
					log::error!(target: "runtime::payouts", "cannot endow platform account: {e:?}");
				}
			}
		}
	}

	/// Events of the payouts pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The platform fee was changed.
		PlatformFeeSet {
			/// The new fee, in basis points.
			bps: u16,
		},
		/// A viewer tipped a stream.
		Tipped {
			/// The stream.
			stream_id: StreamId,
			/// The tipper.
			from: T::AccountId,
			/// The amount, before fee and split.
			amount: BalanceOf<T>,
			/// The optional message (UTF-8).
			message: Option<BoundedVec<u8, T::MaxTipMessageLen>>,
		},
		/// A recipient was paid its aggregated credit of one batch (or one tip).
		Credited {
			/// The recipient.
			who: T::AccountId,
			/// The amount transferred.
			amount: BalanceOf<T>,
		},
		/// A credit could not be paid to its intended recipient because it would leave the
		/// recipient below the existential deposit; it went to `to` instead (the platform
		/// account, or — if even that is impossible — it stayed with the payer).
		CreditRedirected {
			/// The intended recipient.
			intended: T::AccountId,
			/// Where the amount went.
			to: T::AccountId,
			/// The amount.
			amount: BalanceOf<T>,
		},
	}

	/// Errors of the payouts pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The fee is above 10_000 basis points (100 %).
		FeeTooHigh,
		/// The stream does not exist.
		StreamNotFound,
		/// A tip of zero is pointless.
		ZeroAmount,
		/// The tip message is empty or not valid UTF-8.
		InvalidMessage,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Tip a stream from the caller's own balance. The tip is split like any payment: fee to
		/// the platform, shares to the collaborators, the rest to the creator. The caller's
		/// account is kept alive.
		///
		/// Emits [`Event::Tipped`], and [`Event::Credited`] / [`Event::CreditRedirected`] per
		/// recipient.
		///
		/// Errors: [`Error::ZeroAmount`], [`Error::StreamNotFound`], [`Error::InvalidMessage`];
		/// a currency error if the caller cannot pay.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::tip())]
		pub fn tip(
			origin: OriginFor<T>,
			stream_id: StreamId,
			amount: BalanceOf<T>,
			message: Option<BoundedVec<u8, T::MaxTipMessageLen>>,
		) -> DispatchResult {
			let from = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			ensure!(
				message.as_ref().is_none_or(|m| !m.is_empty() && core::str::from_utf8(m).is_ok()),
				Error::<T>::InvalidMessage
			);
			let stream =
				pallet_streams::Pallet::<T>::stream(stream_id).ok_or(Error::<T>::StreamNotFound)?;
			let mut credits = Credits::<T>::new();
			credits.add(stream_id, &stream.creator, &stream.collaborators, amount)?;
			Self::commit(&from, credits, Preservation::Preserve)?;
			Self::deposit_event(Event::Tipped { stream_id, from, amount, message });
			Ok(())
		}

		/// Set the platform fee ([`Config::FeeOrigin`] only).
		///
		/// Emits [`Event::PlatformFeeSet`].
		///
		/// Errors: [`Error::FeeTooHigh`]; `BadOrigin`.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::set_platform_fee())]
		pub fn set_platform_fee(origin: OriginFor<T>, bps: u16) -> DispatchResult {
			T::FeeOrigin::ensure_origin(origin)?;
			ensure!(bps <= MAX_FEE_BPS, Error::<T>::FeeTooHigh);
			PlatformFeeBps::<T>::put(bps);
			Self::deposit_event(Event::PlatformFeeSet { bps });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The platform account, which receives the fees.
		pub fn platform_account() -> T::AccountId {
			<T as Config>::PalletId::get().into_account_truncating()
		}

		/// Pay the accumulated `credits` out of `from`: one transfer per distinct recipient, one
		/// [`StreamEarnings`] and one [`LifetimeEarnings`] update per distinct stream/recipient.
		///
		/// Credits that `from` owes itself are recorded without a transfer. Credits that cannot
		/// be deposited because of the existential deposit are redirected (see the crate doc).
		/// `preservation` applies to `from` (`Preserve` keeps it alive).
		///
		/// Fails (and the caller's transaction should be reverted) only if `from` cannot pay.
		pub fn commit(
			from: &T::AccountId,
			credits: Credits<T>,
			preservation: Preservation,
		) -> DispatchResult {
			let platform = Self::platform_account();
			let mut to_platform = credits.credit_of(&platform);
			for (who, amount) in credits.recipients.into_iter() {
				if who == platform {
					continue;
				}
				match Self::pay_or_redirect(from, &who, amount, preservation)? {
					true => Self::note_earned(who, amount),
					false => {
						to_platform = to_platform.saturating_add(amount);
						Self::deposit_event(Event::CreditRedirected {
							intended: who,
							to: platform.clone(),
							amount,
						});
					},
				}
			}
			if !to_platform.is_zero() {
				match Self::pay_or_redirect(from, &platform, to_platform, preservation)? {
					true => Self::note_earned(platform, to_platform),
					false => Self::deposit_event(Event::CreditRedirected {
						intended: platform,
						to: from.clone(),
						amount: to_platform,
					}),
				}
			}
			for (stream_id, amount) in credits.streams.into_iter() {
				StreamEarnings::<T>::mutate(stream_id, |e| *e = e.saturating_add(amount));
			}
			Ok(())
		}

		/// Transfer `amount` from `from` to `to`, unless `to` cannot receive it because it would
		/// stay below the existential deposit: then nothing moves and `Ok(false)` is returned.
		/// A transfer to oneself is a no-op returning `Ok(true)`.
		///
		/// Errors if `from` cannot pay.
		pub fn pay_or_redirect(
			from: &T::AccountId,
			to: &T::AccountId,
			amount: BalanceOf<T>,
			preservation: Preservation,
		) -> Result<bool, DispatchError> {
			if amount.is_zero() || from == to {
				return Ok(true);
			}
			match <T as Config>::Currency::can_deposit(to, amount, Provenance::Extant) {
				DepositConsequence::Success => {
					<T as Config>::Currency::transfer(from, to, amount, preservation)?;
					Ok(true)
				},
				_ => Ok(false),
			}
		}

		fn note_earned(who: T::AccountId, amount: BalanceOf<T>) {
			LifetimeEarnings::<T>::mutate(&who, |e| *e = e.saturating_add(amount));
			Self::deposit_event(Event::Credited { who, amount });
		}

		/// Check the invariants: the fee is at most 10_000 basis points.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			ensure!(PlatformFeeBps::<T>::get() <= MAX_FEE_BPS, "platform fee above 100%");
			Ok(())
		}
	}
}
