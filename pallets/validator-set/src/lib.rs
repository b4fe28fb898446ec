//! # Validator set pallet
//!
//! Who validates a Vilokanam solochain, changeable without a new chain: a privileged origin
//! (root through sudo today; a council or referendum origin under governance) adds and removes
//! validators, and `pallet-session` rotates the change in. Validators register their Aura and
//! GRANDPA keys themselves with `session.set_keys` (after `author_rotateKeysWithOwner` on their
//! node), so nobody else can name keys for them.
//!
//! ## Map
//!
//! - [`Config`]: the manager origin, the set's bounds, the shortest session allowed.
//! - The calls ([`Call`]): [`add_validator`](Pallet::add_validator),
//!   [`remove_validator`](Pallet::remove_validator),
//!   [`set_session_length`](Pallet::set_session_length).
//! - Storage: [`PlannedValidators`] (the set the next rotation hands to `pallet-session`),
//!   [`SessionLength`].
//! - [`Event`] and [`Error`]; genesis: [`GenesisConfig`] (the session length; the first
//!   validators are `pallet-session`'s genesis keys).
//! - For the runtime: the pallet is `pallet-session`'s `SessionManager`, and
//!   [`SessionPeriod`] is the `Get` that `pallet_session::PeriodicSessions` reads.
//!
//! ## When a change takes effect
//!
//! `pallet-session` asks for the set of session `n + 2` when session `n + 1` begins, and queues
//! it for a session. A change made during session `n` therefore validates from session `n + 2`:
//! between one and two session lengths later. GRANDPA enacts the new authority set when the
//! block that announced it is finalized.
//!
//! ## What cannot happen
//!
//! - A validator without registered session keys is never added: it could not author or vote,
//!   and it would count against finality.
//! - The set never falls below [`Config::MinValidators`] through this pallet. A validator that
//!   purges its keys after being planned is left out at rotation; if that leaves too few, the
//!   plan is dropped ([`Event::PlanDropped`]) and the current set continues.
//! - The session length is never below [`Config::MinSessionLength`]: `pallet-session` spends the
//!   whole weight of a rotation block, so very short sessions would starve transactions.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub use pallet::*;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod manager;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::Zero;

	/// The validator set pallet.
	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the validator set pallet.
	#[pallet::config]
	pub trait Config:
		frame_system::Config
		+ pallet_session::Config<ValidatorId = <Self as frame_system::Config>::AccountId>
	{
		/// The origin that adds and removes validators and sets the session length
		/// (`EnsureRoot` in the runtime).
		type ManagerOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The fewest validators the set may hold (at least one).
		#[pallet::constant]
		type MinValidators: Get<u32>;

		/// The most validators the set may hold: at most Aura's and GRANDPA's `MaxAuthorities`.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// Blocks per session until the manager sets a length (or genesis does).
		#[pallet::constant]
		type DefaultSessionLength: Get<BlockNumberFor<Self>>;

		/// The shortest session, in blocks.
		#[pallet::constant]
		type MinSessionLength: Get<BlockNumberFor<Self>>;

		/// Weight information for the calls of this pallet.
		type WeightInfo: WeightInfo;
	}

	/// The validators the next session rotation hands to `pallet-session`, when a change is
	/// waiting; `None` keeps the set as it is.
	#[pallet::storage]
	pub type PlannedValidators<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxValidators>, OptionQuery>;

	/// Blocks per session when set ([`Config::DefaultSessionLength`] otherwise). Read through
	/// [`SessionPeriod`], which never yields less than [`Config::MinSessionLength`].
	#[pallet::storage]
	pub type SessionLength<T: Config> = StorageValue<_, BlockNumberFor<T>, OptionQuery>;

	/// Genesis configuration.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Blocks per session; at least [`Config::MinSessionLength`] (zero keeps
		/// [`Config::DefaultSessionLength`]).
		pub session_length: BlockNumberFor<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(
				self.session_length.is_zero() || self.session_length >= T::MinSessionLength::get(),
				"session length below MinSessionLength"
			);
			if !self.session_length.is_zero() {
				SessionLength::<T>::put(self.session_length);
			}
		}
	}

	/// Events of the validator set pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A validator joins the planned set; it validates two session rotations later.
		ValidatorAdded {
			/// The validator's account.
			who: T::AccountId,
		},
		/// A validator leaves the planned set; it stops two session rotations later.
		ValidatorRemoved {
			/// The validator's account.
			who: T::AccountId,
		},
		/// The planned set was handed to `pallet-session`: it validates from `session`.
		SetPlanned {
			/// The first session the set validates.
			session: u32,
			/// The set.
			validators: Vec<T::AccountId>,
		},
		/// The planned set was dropped at rotation: too few of its validators still had
		/// session keys. The current set continues.
		PlanDropped {
			/// The session the plan was for.
			session: u32,
		},
		/// The session length changed; it applies from the next block.
		SessionLengthSet {
			/// Blocks per session.
			blocks: BlockNumberFor<T>,
		},
	}

	/// Errors of the validator set pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The account is already in the planned set.
		AlreadyValidator,
		/// The account is not in the planned set.
		NotValidator,
		/// The account has not registered session keys (`session.set_keys`).
		NoSessionKeys,
		/// The set would hold more than `MaxValidators`.
		TooManyValidators,
		/// The set would hold fewer than `MinValidators`.
		TooFewValidators,
		/// The session length is below `MinSessionLength`.
		SessionTooShort,
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
		/// Adds `who` to the set from two session rotations on.
		///
		/// Origin: [`Config::ManagerOrigin`]. `who` must have registered session keys.
		///
		/// Events: [`Event::ValidatorAdded`].
		/// Errors: [`Error::AlreadyValidator`], [`Error::NoSessionKeys`],
		/// [`Error::TooManyValidators`].
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::add_validator())]
		pub fn add_validator(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::ManagerOrigin::ensure_origin(origin)?;
			Self::do_add_validator(who)
		}

		/// Removes `who` from the set from two session rotations on.
		///
		/// Origin: [`Config::ManagerOrigin`].
		///
		/// Events: [`Event::ValidatorRemoved`].
		/// Errors: [`Error::NotValidator`], [`Error::TooFewValidators`].
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::remove_validator())]
		pub fn remove_validator(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::ManagerOrigin::ensure_origin(origin)?;
			Self::do_remove_validator(who)
		}

		/// Sets the session length, from the next block.
		///
		/// Origin: [`Config::ManagerOrigin`].
		///
		/// Events: [`Event::SessionLengthSet`].
		/// Errors: [`Error::SessionTooShort`].
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::set_session_length())]
		pub fn set_session_length(
			origin: OriginFor<T>,
			blocks: BlockNumberFor<T>,
		) -> DispatchResult {
			T::ManagerOrigin::ensure_origin(origin)?;
			ensure!(blocks >= T::MinSessionLength::get(), Error::<T>::SessionTooShort);
			SessionLength::<T>::put(blocks);
			Self::deposit_event(Event::SessionLengthSet { blocks });
			Ok(())
		}
	}
}

/// Blocks per session, for `pallet_session::PeriodicSessions`: the stored length or the default,
/// never less than [`Config::MinSessionLength`] (nor zero, which `PeriodicSessions` divides by).
pub struct SessionPeriod<T>(core::marker::PhantomData<T>);

impl<T: Config> frame_support::traits::Get<frame_system::pallet_prelude::BlockNumberFor<T>>
	for SessionPeriod<T>
{
	fn get() -> frame_system::pallet_prelude::BlockNumberFor<T> {
		use sp_runtime::traits::One;
		let min = T::MinSessionLength::get().max(One::one());
		SessionLength::<T>::get().unwrap_or_else(T::DefaultSessionLength::get).max(min)
	}
}
