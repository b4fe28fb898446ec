//! # Streams pallet
//!
//! The registry of Vilokanam live streams: who broadcasts what, at which price per second, in
//! which lifecycle state, and who shares the revenue.
//!
//! ## Map
//!
//! - [`Config`] — the currency (holds a storage deposit), the clock and the size bounds.
//! - [`Call`] — [`create_stream`](Pallet::create_stream),
//!   [`update_stream`](Pallet::update_stream), [`go_live`](Pallet::go_live),
//!   [`end_stream`](Pallet::end_stream), [`set_split`](Pallet::set_split),
//!   [`ban_viewer`](Pallet::ban_viewer) / [`unban_viewer`](Pallet::unban_viewer),
//!   [`follow`](Pallet::follow) / [`unfollow`](Pallet::unfollow),
//!   [`add_category`](Pallet::add_category) / [`remove_category`](Pallet::remove_category),
//!   [`remove_stream`](Pallet::remove_stream), [`set_replay_offer`](Pallet::set_replay_offer).
//! - Storage: [`Streams`] plus the indexes [`LiveStreams`], [`StreamsByCreator`],
//!   [`StreamsByCategory`], [`Followers`] / [`Following`], [`Banned`], [`Categories`]; the
//!   creators' [`ReplayOffers`].
//! - [`Event`] and [`Error`].
//! - Public API for `pallet-ticks` and `pallet-payouts`: [`Pallet::stream`],
//!   [`Pallet::is_banned`], [`Pallet::is_banned_by`], [`Pallet::session_price`],
//!   [`Pallet::is_replay`], [`Pallet::note_session_opened`],
//!   [`Pallet::note_session_closed`], [`Pallet::note_settled`].
//! - Domain types: [`types`].
//!
//! ## Terminology
//!
//! - **Creator**: the account that created a stream. Only it can change the stream.
//! - **Viewer**: an account that watches a stream and pays per second (sessions live in
//!   `pallet-ticks`).
//! - **Split**: the list of collaborators with a [`Permill`] share each of the creator's part of
//!   the revenue (after the platform fee). Shares sum to at most 100 %; the creator keeps the
//!   rest, including every rounding remainder.
//! - **Deposit**: [`Config::StreamDeposit`], held from the creator with
//!   [`HoldReason::StreamDeposit`] while the stream is stored.
//! - **Ban**: a creator bans a viewer from all of the creator's streams.
//! - **Replay**: the recording of an ended stream, watched through sessions opened after the
//!   end, at the price of the creator's [`ReplayOffers`] entry (paid per second like live).
//!   Withdrawing the offer stops new replay sessions; removing the stream removes the offer.
//!
//! ## Assumptions
//!
//! - Listing never scans all streams: the live set, the per-creator and per-category sets are
//!   separate indexes kept in sync by every call (checked by `try_state`).
//! - `pallet-ticks` is the only caller of the `note_*` functions; it keeps
//!   [`Stream::current_viewers`] equal to the number of open sessions of the stream, which is why
//!   [`Pallet::remove_stream`] only requires `current_viewers == 0`.
//! - Stream and category ids are never reused.

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
// `create_stream` takes eight arguments, and the macro's generated constructors with them.
#[allow(clippy::too_many_arguments)]
pub mod pallet {
	use super::*;
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{self, MutateHold},
			tokens::Precision,
			Time,
		},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{
		traits::{Saturating, Zero},
		Permill,
	};

	/// The streams pallet.
	#[pallet::pallet]
	#[pallet::storage_version(migrations::STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the streams pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency from which stream deposits are held.
		type Currency: fungible::Inspect<Self::AccountId>
			+ fungible::Mutate<Self::AccountId>
			+ fungible::MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The clock used for `created_at`, `started_at` and `ended_at`.
		type Time: Time;

		/// The deposit held from the creator for each stored stream.
		#[pallet::constant]
		type StreamDeposit: Get<BalanceOf<Self>>;

		/// The origin that manages categories (`EnsureRoot` in the runtime).
		type CategoryOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Maximum length of a title, in bytes.
		#[pallet::constant]
		type MaxTitleLen: Get<u32>;

		/// Maximum length of the metadata URL or CID, in bytes.
		#[pallet::constant]
		type MaxMetadataLen: Get<u32>;

		/// Maximum length of one tag, in bytes.
		#[pallet::constant]
		type MaxTagLen: Get<u32>;

		/// Maximum number of tags of a stream.
		#[pallet::constant]
		type MaxTags: Get<u32>;

		/// Maximum length of the media endpoint URL, in bytes.
		#[pallet::constant]
		type MaxEndpointLen: Get<u32>;

		/// Maximum length of a category name, in bytes.
		#[pallet::constant]
		type MaxCategoryNameLen: Get<u32>;

		/// Maximum number of collaborators in a split.
		#[pallet::constant]
		type MaxCollaborators: Get<u32>;

		/// Maximum number of creators one account can follow.
		#[pallet::constant]
		type MaxFollows: Get<u32>;

		/// Weight information for the calls of this pallet.
		type WeightInfo: WeightInfo;
	}

	/// Reasons for which this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The storage deposit of a stream, released when the stream is removed.
		#[codec(index = 0)]
		StreamDeposit,
	}

	/// The identifier the next created stream gets.
	#[pallet::storage]
	pub type NextStreamId<T> = StorageValue<_, StreamId, ValueQuery>;

	/// All stored streams.
	#[pallet::storage]
	pub type Streams<T: Config> = StorageMap<_, Twox64Concat, StreamId, Stream<T>, OptionQuery>;

	/// The streams whose status is [`StreamStatus::Live`]; the map counts its entries.
	#[pallet::storage]
	pub type LiveStreams<T> = CountedStorageMap<_, Twox64Concat, StreamId, (), OptionQuery>;

	/// Index: the streams of each creator.
	#[pallet::storage]
	pub type StreamsByCreator<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		StreamId,
		(),
		OptionQuery,
	>;

	/// Index: the streams of each category.
	#[pallet::storage]
	pub type StreamsByCategory<T> =
		StorageDoubleMap<_, Twox64Concat, CategoryId, Twox64Concat, StreamId, (), OptionQuery>;

	/// The categories and their names.
	#[pallet::storage]
	pub type Categories<T: Config> =
		StorageMap<_, Twox64Concat, CategoryId, CategoryNameOf<T>, OptionQuery>;

	/// Viewers banned by a creator: `(creator, viewer)`. A banned viewer cannot open sessions on
	/// any of the creator's streams.
	#[pallet::storage]
	pub type Banned<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		(),
		OptionQuery,
	>;

	/// The creators each account follows (bounded by [`Config::MaxFollows`]).
	#[pallet::storage]
	pub type Following<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<T::AccountId, T::MaxFollows>,
		ValueQuery,
	>;

	/// Index: the followers of each creator, `(creator, follower)`.
	#[pallet::storage]
	pub type Followers<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		(),
		OptionQuery,
	>;

	/// The number of followers of each creator.
	#[pallet::storage]
	pub type FollowerCount<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The price per second of each stream whose creator offers its replay. Sessions can be
	/// opened on an ended stream only while it has an entry here. Kept apart from [`Streams`]
	/// so that the stream's layout (and its migrations) stay as they are.
	#[pallet::storage]
	pub type ReplayOffers<T: Config> =
		StorageMap<_, Twox64Concat, StreamId, BalanceOf<T>, OptionQuery>;

	/// Events of the streams pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A stream was created and its deposit held.
		StreamCreated {
			/// The new stream.
			stream_id: StreamId,
			/// Its creator.
			creator: T::AccountId,
			/// Its category.
			category: CategoryId,
			/// The deposit held from the creator.
			deposit: BalanceOf<T>,
		},
		/// The editable fields of a stream were changed.
		StreamUpdated {
			/// The stream.
			stream_id: StreamId,
		},
		/// A stream went live.
		StreamStarted {
			/// The stream.
			stream_id: StreamId,
		},
		/// A stream ended.
		StreamEnded {
			/// The stream.
			stream_id: StreamId,
		},
		/// The revenue split of a stream was replaced.
		SplitUpdated {
			/// The stream.
			stream_id: StreamId,
			/// Number of collaborators in the new split.
			collaborators: u32,
		},
		/// A creator banned a viewer.
		ViewerBanned {
			/// The creator.
			creator: T::AccountId,
			/// The banned viewer.
			viewer: T::AccountId,
		},
		/// A creator lifted a ban.
		ViewerUnbanned {
			/// The creator.
			creator: T::AccountId,
			/// The viewer.
			viewer: T::AccountId,
		},
		/// An account followed a creator.
		Followed {
			/// The follower.
			follower: T::AccountId,
			/// The creator.
			creator: T::AccountId,
		},
		/// An account stopped following a creator.
		Unfollowed {
			/// The former follower.
			follower: T::AccountId,
			/// The creator.
			creator: T::AccountId,
		},
		/// A category was added.
		CategoryAdded {
			/// The category.
			category: CategoryId,
		},
		/// A category was removed.
		CategoryRemoved {
			/// The category.
			category: CategoryId,
		},
		/// A stream was removed and its deposit released.
		StreamRemoved {
			/// The stream.
			stream_id: StreamId,
			/// The deposit released to the creator.
			deposit: BalanceOf<T>,
		},
		/// The creator offered the stream's replay at a price, changed it, or withdrew it.
		ReplayOfferChanged {
			/// The stream.
			stream_id: StreamId,
			/// The replay's price per second, or `None` once withdrawn.
			price_per_second: Option<BalanceOf<T>>,
		},
	}

	/// Errors of the streams pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// No stream with this id is stored (never created, or removed).
		StreamNotFound,
		/// Only the creator of the stream may do this.
		NotCreator,
		/// The title is empty or not valid UTF-8.
		InvalidTitle,
		/// A tag is empty or not valid UTF-8.
		InvalidTag,
		/// The endpoint is empty or not valid UTF-8.
		InvalidEndpoint,
		/// The category name is empty or not valid UTF-8.
		InvalidCategoryName,
		/// The category does not exist.
		UnknownCategory,
		/// A category with this id already exists.
		CategoryExists,
		/// The category still has streams, so it cannot be removed.
		CategoryInUse,
		/// `go_live` requires a `Scheduled` stream.
		NotScheduled,
		/// The stream has already ended; it cannot be changed any more.
		StreamEnded,
		/// `remove_stream` requires an `Ended` stream.
		NotEnded,
		/// The stream still has open viewing sessions.
		ViewersPresent,
		/// The stream is not live (sessions can only be opened on live streams).
		StreamNotLive,
		/// The collaborators' shares add up to more than 100 %.
		SplitTooLarge,
		/// The same account appears twice in a split.
		DuplicateCollaborator,
		/// The viewer is already banned by this creator.
		AlreadyBanned,
		/// The viewer is not banned by this creator.
		NotBanned,
		/// A creator cannot ban themself.
		CannotBanSelf,
		/// The account already follows this creator.
		AlreadyFollowing,
		/// The account does not follow this creator.
		NotFollowing,
		/// The account already follows [`Config::MaxFollows`] creators.
		TooManyFollows,
		/// An account cannot follow itself.
		CannotFollowSelf,
		/// The stream id space is exhausted.
		StreamIdOverflow,
		/// The viewer counter would overflow.
		TooManyViewers,
		/// The stream has ended and its creator does not offer its replay.
		ReplayNotOffered,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Create a stream in the `Scheduled` state and hold [`Config::StreamDeposit`] from the
		/// caller, who becomes its creator. `relayer` is the account that relays the stream's
		/// vouchers (normally the sidecar at `endpoint`), trusted to close its sessions at once.
		///
		/// Emits [`Event::StreamCreated`].
		///
		/// Errors: [`Error::InvalidTitle`], [`Error::InvalidTag`], [`Error::InvalidEndpoint`],
		/// [`Error::UnknownCategory`], [`Error::StreamIdOverflow`]; a currency error if the
		/// deposit cannot be held.
		#[pallet::call_index(0)]
		pub fn create_stream(
			origin: OriginFor<T>,
			title: TitleOf<T>,
			metadata: MetadataOf<T>,
			category: CategoryId,
			tags: TagsOf<T>,
			price_per_second: BalanceOf<T>,
			endpoint: Option<EndpointOf<T>>,
			relayer: Option<T::AccountId>,
		) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			ensure!(is_text(&title), Error::<T>::InvalidTitle);
			ensure!(tags.iter().all(|t| is_text(t)), Error::<T>::InvalidTag);
			ensure!(endpoint.as_ref().is_none_or(|e| is_text(e)), Error::<T>::InvalidEndpoint);
			ensure!(Categories::<T>::contains_key(category), Error::<T>::UnknownCategory);

			let stream_id = NextStreamId::<T>::get();
			let next = stream_id.checked_add(1).ok_or(Error::<T>::StreamIdOverflow)?;
			let deposit = T::StreamDeposit::get();
			T::Currency::hold(&HoldReason::StreamDeposit.into(), &creator, deposit)?;

			let stream = Stream::<T> {
				id: stream_id,
				creator: creator.clone(),
				title,
				metadata,
				category,
				tags,
				price_per_second,
				status: StreamStatus::Scheduled,
				created_at: T::Time::now(),
				started_at: None,
				ended_at: None,
				endpoint,
				relayer,
				collaborators: Default::default(),
				total_viewer_seconds: 0,
				total_earned: Zero::zero(),
				current_viewers: 0,
				peak_viewers: 0,
				deposit,
			};
			Streams::<T>::insert(stream_id, stream);
			StreamsByCreator::<T>::insert(&creator, stream_id, ());
			StreamsByCategory::<T>::insert(category, stream_id, ());
			NextStreamId::<T>::put(next);

			Self::deposit_event(Event::StreamCreated { stream_id, creator, category, deposit });
			Ok(())
		}

		/// Change the editable fields of a stream (creator only, not once ended).
		///
		/// A new price applies only to sessions opened afterwards: open sessions keep the price
		/// they copied when they were opened.
		///
		/// Emits [`Event::StreamUpdated`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`], [`Error::StreamEnded`],
		/// [`Error::InvalidTitle`], [`Error::InvalidTag`], [`Error::InvalidEndpoint`],
		/// [`Error::UnknownCategory`].
		#[pallet::call_index(1)]
		pub fn update_stream(
			origin: OriginFor<T>,
			stream_id: StreamId,
			update: StreamUpdate<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Streams::<T>::try_mutate(stream_id, |maybe| -> DispatchResult {
				let stream = maybe.as_mut().ok_or(Error::<T>::StreamNotFound)?;
				ensure!(stream.creator == who, Error::<T>::NotCreator);
				ensure!(stream.status != StreamStatus::Ended, Error::<T>::StreamEnded);
				if let Some(title) = update.title {
					ensure!(is_text(&title), Error::<T>::InvalidTitle);
					stream.title = title;
				}
				if let Some(metadata) = update.metadata {
					stream.metadata = metadata;
				}
				if let Some(tags) = update.tags {
					ensure!(tags.iter().all(|t| is_text(t)), Error::<T>::InvalidTag);
					stream.tags = tags;
				}
				if let Some(endpoint) = update.endpoint {
					ensure!(
						endpoint.as_ref().is_none_or(|e| is_text(e)),
						Error::<T>::InvalidEndpoint
					);
					stream.endpoint = endpoint;
				}
				if let Some(relayer) = update.relayer {
					stream.relayer = relayer;
				}
				if let Some(price) = update.price_per_second {
					stream.price_per_second = price;
				}
				if let Some(category) = update.category {
					if category != stream.category {
						ensure!(
							Categories::<T>::contains_key(category),
							Error::<T>::UnknownCategory
						);
						StreamsByCategory::<T>::remove(stream.category, stream_id);
						StreamsByCategory::<T>::insert(category, stream_id, ());
						stream.category = category;
					}
				}
				Ok(())
			})?;
			Self::deposit_event(Event::StreamUpdated { stream_id });
			Ok(())
		}

		/// Move a `Scheduled` stream to `Live` (creator only). Viewers can now open sessions.
		///
		/// Emits [`Event::StreamStarted`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`], [`Error::NotScheduled`].
		#[pallet::call_index(2)]
		pub fn go_live(origin: OriginFor<T>, stream_id: StreamId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Streams::<T>::try_mutate(stream_id, |maybe| -> DispatchResult {
				let stream = maybe.as_mut().ok_or(Error::<T>::StreamNotFound)?;
				ensure!(stream.creator == who, Error::<T>::NotCreator);
				ensure!(stream.status == StreamStatus::Scheduled, Error::<T>::NotScheduled);
				stream.status = StreamStatus::Live;
				stream.started_at = Some(T::Time::now());
				Ok(())
			})?;
			LiveStreams::<T>::insert(stream_id, ());
			Self::deposit_event(Event::StreamStarted { stream_id });
			Ok(())
		}

		/// End a `Scheduled` or `Live` stream (creator only). No session can be opened any more;
		/// open sessions are closed (and refunded) by `pallet-ticks`.
		///
		/// Emits [`Event::StreamEnded`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`], [`Error::StreamEnded`].
		#[pallet::call_index(3)]
		pub fn end_stream(origin: OriginFor<T>, stream_id: StreamId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Streams::<T>::try_mutate(stream_id, |maybe| -> DispatchResult {
				let stream = maybe.as_mut().ok_or(Error::<T>::StreamNotFound)?;
				ensure!(stream.creator == who, Error::<T>::NotCreator);
				ensure!(stream.status != StreamStatus::Ended, Error::<T>::StreamEnded);
				stream.status = StreamStatus::Ended;
				stream.ended_at = Some(T::Time::now());
				Ok(())
			})?;
			LiveStreams::<T>::remove(stream_id);
			Self::deposit_event(Event::StreamEnded { stream_id });
			Ok(())
		}

		/// Replace the revenue split of a stream (creator only, not once ended).
		///
		/// The shares must sum to at most 100 % and name each collaborator once. The creator
		/// receives what is left, including rounding remainders.
		///
		/// Emits [`Event::SplitUpdated`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`], [`Error::StreamEnded`],
		/// [`Error::SplitTooLarge`], [`Error::DuplicateCollaborator`].
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::set_split(collaborators.len() as u32))]
		pub fn set_split(
			origin: OriginFor<T>,
			stream_id: StreamId,
			collaborators: SplitOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(split_total(&collaborators).is_some(), Error::<T>::SplitTooLarge);
			for (i, (a, _)) in collaborators.iter().enumerate() {
				ensure!(
					!collaborators.iter().skip(i.saturating_add(1)).any(|(b, _)| a == b),
					Error::<T>::DuplicateCollaborator
				);
			}
			let count = collaborators.len() as u32;
			Streams::<T>::try_mutate(stream_id, |maybe| -> DispatchResult {
				let stream = maybe.as_mut().ok_or(Error::<T>::StreamNotFound)?;
				ensure!(stream.creator == who, Error::<T>::NotCreator);
				ensure!(stream.status != StreamStatus::Ended, Error::<T>::StreamEnded);
				stream.collaborators = collaborators;
				Ok(())
			})?;
			Self::deposit_event(Event::SplitUpdated { stream_id, collaborators: count });
			Ok(())
		}

		/// Ban `viewer` from all streams of the caller. Sessions already open are not affected.
		///
		/// Emits [`Event::ViewerBanned`].
		///
		/// Errors: [`Error::CannotBanSelf`], [`Error::AlreadyBanned`].
		#[pallet::call_index(5)]
		pub fn ban_viewer(origin: OriginFor<T>, viewer: T::AccountId) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			ensure!(creator != viewer, Error::<T>::CannotBanSelf);
			ensure!(!Banned::<T>::contains_key(&creator, &viewer), Error::<T>::AlreadyBanned);
			Banned::<T>::insert(&creator, &viewer, ());
			Self::deposit_event(Event::ViewerBanned { creator, viewer });
			Ok(())
		}

		/// Lift the caller's ban of `viewer`.
		///
		/// Emits [`Event::ViewerUnbanned`].
		///
		/// Errors: [`Error::NotBanned`].
		#[pallet::call_index(6)]
		pub fn unban_viewer(origin: OriginFor<T>, viewer: T::AccountId) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			ensure!(Banned::<T>::take(&creator, &viewer).is_some(), Error::<T>::NotBanned);
			Self::deposit_event(Event::ViewerUnbanned { creator, viewer });
			Ok(())
		}

		/// Follow a creator (at most [`Config::MaxFollows`] per account).
		///
		/// Emits [`Event::Followed`].
		///
		/// Errors: [`Error::CannotFollowSelf`], [`Error::AlreadyFollowing`],
		/// [`Error::TooManyFollows`].
		#[pallet::call_index(7)]
		pub fn follow(origin: OriginFor<T>, creator: T::AccountId) -> DispatchResult {
			let follower = ensure_signed(origin)?;
			ensure!(follower != creator, Error::<T>::CannotFollowSelf);
			ensure!(
				!Followers::<T>::contains_key(&creator, &follower),
				Error::<T>::AlreadyFollowing
			);
			Following::<T>::try_mutate(&follower, |list| {
				list.try_push(creator.clone()).map_err(|_| Error::<T>::TooManyFollows)
			})?;
			Followers::<T>::insert(&creator, &follower, ());
			FollowerCount::<T>::mutate(&creator, |c| *c = c.saturating_add(1));
			Self::deposit_event(Event::Followed { follower, creator });
			Ok(())
		}

		/// Stop following a creator.
		///
		/// Emits [`Event::Unfollowed`].
		///
		/// Errors: [`Error::NotFollowing`].
		#[pallet::call_index(8)]
		pub fn unfollow(origin: OriginFor<T>, creator: T::AccountId) -> DispatchResult {
			let follower = ensure_signed(origin)?;
			ensure!(Followers::<T>::take(&creator, &follower).is_some(), Error::<T>::NotFollowing);
			Following::<T>::mutate_exists(&follower, |maybe| {
				if let Some(list) = maybe {
					list.retain(|c| c != &creator);
					if list.is_empty() {
						*maybe = None;
					}
				}
			});
			FollowerCount::<T>::mutate_exists(&creator, |maybe| {
				let count = maybe.unwrap_or(0).saturating_sub(1);
				*maybe = if count == 0 { None } else { Some(count) };
			});
			Self::deposit_event(Event::Unfollowed { follower, creator });
			Ok(())
		}

		/// Add a category ([`Config::CategoryOrigin`] only).
		///
		/// Emits [`Event::CategoryAdded`].
		///
		/// Errors: [`Error::InvalidCategoryName`], [`Error::CategoryExists`]; `BadOrigin`.
		#[pallet::call_index(9)]
		pub fn add_category(
			origin: OriginFor<T>,
			category: CategoryId,
			name: CategoryNameOf<T>,
		) -> DispatchResult {
			T::CategoryOrigin::ensure_origin(origin)?;
			ensure!(is_text(&name), Error::<T>::InvalidCategoryName);
			ensure!(!Categories::<T>::contains_key(category), Error::<T>::CategoryExists);
			Categories::<T>::insert(category, name);
			Self::deposit_event(Event::CategoryAdded { category });
			Ok(())
		}

		/// Remove a category that no stream uses ([`Config::CategoryOrigin`] only).
		///
		/// Emits [`Event::CategoryRemoved`].
		///
		/// Errors: [`Error::UnknownCategory`], [`Error::CategoryInUse`]; `BadOrigin`.
		#[pallet::call_index(10)]
		pub fn remove_category(origin: OriginFor<T>, category: CategoryId) -> DispatchResult {
			T::CategoryOrigin::ensure_origin(origin)?;
			ensure!(Categories::<T>::contains_key(category), Error::<T>::UnknownCategory);
			ensure!(
				StreamsByCategory::<T>::iter_prefix(category).next().is_none(),
				Error::<T>::CategoryInUse
			);
			Categories::<T>::remove(category);
			Self::deposit_event(Event::CategoryRemoved { category });
			Ok(())
		}

		/// Remove an ended stream without open sessions (creator only) and release its deposit.
		///
		/// Emits [`Event::StreamRemoved`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`], [`Error::NotEnded`],
		/// [`Error::ViewersPresent`].
		#[pallet::call_index(11)]
		pub fn remove_stream(origin: OriginFor<T>, stream_id: StreamId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let stream = Streams::<T>::get(stream_id).ok_or(Error::<T>::StreamNotFound)?;
			ensure!(stream.creator == who, Error::<T>::NotCreator);
			ensure!(stream.status == StreamStatus::Ended, Error::<T>::NotEnded);
			ensure!(stream.current_viewers == 0, Error::<T>::ViewersPresent);

			let released = T::Currency::release(
				&HoldReason::StreamDeposit.into(),
				&who,
				stream.deposit,
				Precision::BestEffort,
			)?;
			Streams::<T>::remove(stream_id);
			StreamsByCreator::<T>::remove(&who, stream_id);
			StreamsByCategory::<T>::remove(stream.category, stream_id);
			LiveStreams::<T>::remove(stream_id);
			ReplayOffers::<T>::remove(stream_id);
			Self::deposit_event(Event::StreamRemoved { stream_id, deposit: released });
			Ok(())
		}

		/// Offer the replay of a stream at `price_per_second`, change its price, or withdraw it
		/// with `None` (creator only, in any state: the offer applies once the stream has
		/// ended). Replay sessions already open keep the price they were opened with; a
		/// withdrawal stops new ones, and the open ones idle out.
		///
		/// Emits [`Event::ReplayOfferChanged`].
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::NotCreator`].
		#[pallet::call_index(12)]
		pub fn set_replay_offer(
			origin: OriginFor<T>,
			stream_id: StreamId,
			price_per_second: Option<BalanceOf<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let stream = Streams::<T>::get(stream_id).ok_or(Error::<T>::StreamNotFound)?;
			ensure!(stream.creator == who, Error::<T>::NotCreator);
			ReplayOffers::<T>::set(stream_id, price_per_second);
			Self::deposit_event(Event::ReplayOfferChanged { stream_id, price_per_second });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The stream `id`, if stored.
		pub fn stream(id: StreamId) -> Option<Stream<T>> {
			Streams::<T>::get(id)
		}

		/// Whether `who` is banned from stream `stream_id` (by its creator). `false` for an
		/// unknown stream.
		pub fn is_banned(stream_id: StreamId, who: &T::AccountId) -> bool {
			Streams::<T>::get(stream_id).is_some_and(|s| Self::is_banned_by(&s.creator, who))
		}

		/// Whether `creator` banned `who` (one read; use it when the stream is already loaded).
		pub fn is_banned_by(creator: &T::AccountId, who: &T::AccountId) -> bool {
			Banned::<T>::contains_key(creator, who)
		}

		/// The price per second of a session opened on `stream` now: its price while live, its
		/// replay offer once ended.
		///
		/// Errors: [`Error::StreamNotLive`] (scheduled), [`Error::ReplayNotOffered`] (ended
		/// without an offer).
		pub fn session_price(stream: &Stream<T>) -> Result<BalanceOf<T>, Error<T>> {
			match stream.status {
				StreamStatus::Live => Ok(stream.price_per_second),
				StreamStatus::Ended => {
					ReplayOffers::<T>::get(stream.id).ok_or(Error::<T>::ReplayNotOffered)
				},
				StreamStatus::Scheduled => Err(Error::<T>::StreamNotLive),
			}
		}

		/// Whether a session opened at `opened_at` (ms) on `stream` watches its replay: it was
		/// opened after the stream ended. A session opened in the very millisecond the stream
		/// ended counts as live, so a live session can never pass for a replay one.
		pub fn is_replay(stream: &Stream<T>, opened_at: u64) -> bool {
			use sp_runtime::SaturatedConversion;
			stream.ended_at.is_some_and(|ended| opened_at > ended.saturated_into::<u64>())
		}

		/// Record that a viewing session was opened on a live stream, or on the replay of an
		/// ended one ([`Pallet::session_price`]): `current_viewers + 1`, `peak_viewers` updated.
		///
		/// Errors: [`Error::StreamNotFound`], [`Error::StreamNotLive`],
		/// [`Error::ReplayNotOffered`], [`Error::TooManyViewers`].
		pub fn note_session_opened(stream_id: StreamId) -> DispatchResult {
			Streams::<T>::try_mutate(stream_id, |maybe| {
				let stream = maybe.as_mut().ok_or(Error::<T>::StreamNotFound)?;
				Self::session_price(stream)?;
				stream.current_viewers =
					stream.current_viewers.checked_add(1).ok_or(Error::<T>::TooManyViewers)?;
				stream.peak_viewers = stream.peak_viewers.max(stream.current_viewers);
				Ok(())
			})
		}

		/// Record that a viewing session of the stream was closed: `current_viewers - 1`
		/// (saturating; a missing stream is ignored).
		pub fn note_session_closed(stream_id: StreamId) {
			Streams::<T>::mutate(stream_id, |maybe| {
				if let Some(stream) = maybe {
					stream.current_viewers = stream.current_viewers.saturating_sub(1);
				}
			});
		}

		/// Add settled viewer-seconds and the amount paid to the running totals of a stream.
		///
		/// `pallet-ticks` calls it once per stream per settlement batch, with the batch's
		/// aggregated numbers. A missing stream is ignored; totals saturate.
		pub fn note_settled(stream_id: StreamId, seconds: u64, amount: BalanceOf<T>) {
			Streams::<T>::mutate(stream_id, |maybe| {
				if let Some(stream) = maybe {
					stream.total_viewer_seconds =
						stream.total_viewer_seconds.saturating_add(seconds);
					stream.total_earned = stream.total_earned.saturating_add(amount);
				}
			});
		}

		/// Check the invariants of the pallet's storage.
		///
		/// - [`LiveStreams`] holds exactly the streams whose status is `Live`, and its counter is
		///   right.
		/// - [`StreamsByCreator`] and [`StreamsByCategory`] hold exactly one entry per stream,
		///   matching its creator and category; every stream's category exists.
		/// - Every split sums to at most 100 %.
		/// - [`Following`], [`Followers`] and [`FollowerCount`] agree.
		/// - [`NextStreamId`] is above every stored id.
		/// - Every [`ReplayOffers`] entry is a stored stream's.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			let next = NextStreamId::<T>::get();
			let mut live = 0u32;
			let mut streams = 0u32;
			for (id, stream) in Streams::<T>::iter() {
				streams = streams.saturating_add(1);
				ensure!(id == stream.id, "stream stored under a different id");
				ensure!(id < next, "stream id not below NextStreamId");
				let is_live = stream.status == StreamStatus::Live;
				ensure!(is_live == LiveStreams::<T>::contains_key(id), "live index out of sync");
				if is_live {
					live = live.saturating_add(1);
				}
				ensure!(
					StreamsByCreator::<T>::contains_key(&stream.creator, id),
					"creator index misses a stream"
				);
				ensure!(
					StreamsByCategory::<T>::contains_key(stream.category, id),
					"category index misses a stream"
				);
				ensure!(
					Categories::<T>::contains_key(stream.category),
					"stream in unknown category"
				);
				ensure!(split_total(&stream.collaborators).is_some(), "split above 100%");
				ensure!(stream.peak_viewers >= stream.current_viewers, "peak below current");
			}
			ensure!(LiveStreams::<T>::count() == live, "live counter wrong");
			ensure!(
				LiveStreams::<T>::iter_keys().count() as u32 == live,
				"live index has extra entries"
			);
			let mut by_creator = 0u32;
			for (creator, id, ()) in StreamsByCreator::<T>::iter() {
				by_creator = by_creator.saturating_add(1);
				ensure!(
					Streams::<T>::get(id).is_some_and(|s| s.creator == creator),
					"creator index has a stale entry"
				);
			}
			ensure!(by_creator == streams, "creator index size wrong");
			let mut by_category = 0u32;
			for (category, id, ()) in StreamsByCategory::<T>::iter() {
				by_category = by_category.saturating_add(1);
				ensure!(
					Streams::<T>::get(id).is_some_and(|s| s.category == category),
					"category index has a stale entry"
				);
			}
			ensure!(by_category == streams, "category index size wrong");

			let mut follow_edges = 0u32;
			for (follower, list) in Following::<T>::iter() {
				ensure!(!list.is_empty(), "empty following list stored");
				for creator in list.iter() {
					follow_edges = follow_edges.saturating_add(1);
					ensure!(
						Followers::<T>::contains_key(creator, &follower),
						"followers index misses an edge"
					);
				}
			}
			for id in ReplayOffers::<T>::iter_keys() {
				ensure!(Streams::<T>::contains_key(id), "replay offer of a removed stream");
			}
			ensure!(
				Followers::<T>::iter_keys().count() as u32 == follow_edges,
				"followers index has extra edges"
			);
			for (creator, count) in FollowerCount::<T>::iter() {
				ensure!(
					Followers::<T>::iter_prefix(&creator).count() as u32 == count,
					"follower count wrong"
				);
			}
			Ok(())
		}
	}

	/// Whether `bytes` is non-empty, valid UTF-8.
	pub(crate) fn is_text(bytes: &[u8]) -> bool {
		!bytes.is_empty() && core::str::from_utf8(bytes).is_ok()
	}

	/// The sum of the shares of a split, or `None` if it exceeds 100 %.
	pub fn split_total<A>(split: &[(A, Permill)]) -> Option<Permill> {
		let mut parts: u32 = 0;
		for (_, share) in split {
			parts = parts.checked_add(share.deconstruct())?;
		}
		(parts <= Permill::one().deconstruct()).then_some(Permill::from_parts(parts))
	}
}
