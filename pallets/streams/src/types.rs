//! Domain types of the stream registry.

use crate::Config;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::{fungible, Time},
	BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::Permill;

/// Identifier of a stream. Assigned sequentially from [`crate::NextStreamId`], never reused.
pub type StreamId = u64;

/// Identifier of a category, chosen by the root origin in [`crate::Pallet::add_category`].
pub type CategoryId = u32;

/// The balance type of the currency used for deposits (and, in the other Vilokanam pallets,
/// for payments).
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// The moment type of the configured clock ([`Config::Time`]).
pub type MomentOf<T> = <<T as Config>::Time as Time>::Moment;

/// A stream title: valid UTF-8, non-empty.
pub type TitleOf<T> = BoundedVec<u8, <T as Config>::MaxTitleLen>;

/// Stream metadata: a URL or a content identifier (CID) of off-chain metadata.
pub type MetadataOf<T> = BoundedVec<u8, <T as Config>::MaxMetadataLen>;

/// One tag: valid UTF-8, non-empty.
pub type TagOf<T> = BoundedVec<u8, <T as Config>::MaxTagLen>;

/// The tags of a stream.
pub type TagsOf<T> = BoundedVec<TagOf<T>, <T as Config>::MaxTags>;

/// The media endpoint (sidecar / SFU URL) viewers connect to.
pub type EndpointOf<T> = BoundedVec<u8, <T as Config>::MaxEndpointLen>;

/// A category name: valid UTF-8, non-empty.
pub type CategoryNameOf<T> = BoundedVec<u8, <T as Config>::MaxCategoryNameLen>;

/// The revenue split of a stream: collaborators and their shares of the creator's part.
///
/// The sum of the shares is at most 100 %; the creator receives what is left.
pub type SplitOf<T> =
	BoundedVec<(<T as frame_system::Config>::AccountId, Permill), <T as Config>::MaxCollaborators>;

/// The lifecycle of a stream.
///
/// `Scheduled → Live → Ended`, or `Scheduled → Ended`. `Ended` is final.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum StreamStatus {
	/// Created but not broadcasting yet; viewers cannot open sessions.
	Scheduled,
	/// Broadcasting; viewers can open sessions.
	Live,
	/// Finished; no new sessions. Open sessions are closed by the off-chain worker of
	/// `pallet-ticks`. The stream can be removed once no session is open.
	Ended,
}

/// A stream, as stored in [`crate::Streams`].
#[derive(
	Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Stream<T: Config> {
	/// The identifier of the stream.
	pub id: StreamId,
	/// The account that created the stream and receives its revenue (after fee and split).
	pub creator: T::AccountId,
	/// Human-readable title (UTF-8, non-empty).
	pub title: TitleOf<T>,
	/// URL or CID of off-chain metadata (thumbnail, description, ...).
	pub metadata: MetadataOf<T>,
	/// The category of the stream; always an existing [`crate::Categories`] entry when set.
	pub category: CategoryId,
	/// Free-form tags (UTF-8, non-empty each).
	pub tags: TagsOf<T>,
	/// The price a viewer pays per second watched. Sessions copy it when they are opened, so
	/// changing it affects only sessions opened afterwards.
	pub price_per_second: BalanceOf<T>,
	/// The lifecycle state.
	pub status: StreamStatus,
	/// When the stream was created.
	pub created_at: MomentOf<T>,
	/// When the stream went live, if it did.
	pub started_at: Option<MomentOf<T>>,
	/// When the stream ended, if it did.
	pub ended_at: Option<MomentOf<T>>,
	/// The media endpoint viewers connect to (UTF-8), if published.
	pub endpoint: Option<EndpointOf<T>>,
	/// The account that relays this stream's vouchers (the sidecar at `endpoint`), if the
	/// creator named one: trusted by the creator to have settled what it acknowledged, it may
	/// close the stream's sessions at once (`pallet-ticks`).
	pub relayer: Option<T::AccountId>,
	/// Collaborators and their shares of the creator's part of the revenue.
	pub collaborators: SplitOf<T>,
	/// Seconds watched by all viewers, as settled so far.
	pub total_viewer_seconds: u64,
	/// Amount paid by viewers for this stream so far (before fee and split).
	pub total_earned: BalanceOf<T>,
	/// Number of currently open viewing sessions.
	pub current_viewers: u32,
	/// Highest value `current_viewers` ever reached.
	pub peak_viewers: u32,
	/// The storage deposit held from the creator (released by `remove_stream`).
	pub deposit: BalanceOf<T>,
}

/// The editable fields of a stream, for [`crate::Pallet::update_stream`]. `None` leaves the
/// field unchanged.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	DebugNoBound,
	TypeInfo,
)]
#[scale_info(skip_type_params(T))]
pub struct StreamUpdate<T: Config> {
	/// New title.
	pub title: Option<TitleOf<T>>,
	/// New metadata.
	pub metadata: Option<MetadataOf<T>>,
	/// New category.
	pub category: Option<CategoryId>,
	/// New tags.
	pub tags: Option<TagsOf<T>>,
	/// New price per second (affects only sessions opened afterwards).
	pub price_per_second: Option<BalanceOf<T>>,
	/// New endpoint: `Some(None)` clears it.
	pub endpoint: Option<Option<EndpointOf<T>>>,
	/// New relayer: `Some(None)` clears it.
	pub relayer: Option<Option<T::AccountId>>,
}

impl<T: Config> Default for StreamUpdate<T> {
	fn default() -> Self {
		Self {
			title: None,
			metadata: None,
			category: None,
			tags: None,
			price_per_second: None,
			endpoint: None,
			relayer: None,
		}
	}
}
