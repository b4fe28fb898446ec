//! The payout split and the batch accumulator [`Credits`].

use crate::{Config, Pallet};
use alloc::collections::BTreeMap;
use frame_support::traits::fungible;
use pallet_streams::StreamId;
use sp_runtime::{
	traits::{CheckedAdd, Zero},
	ArithmeticError, Perbill, Permill,
};

/// The balance type of the payouts currency (the same as `pallet_streams::BalanceOf`).
pub type BalanceOf<T> =
	<<T as Config>::Currency as fungible::Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// The largest fee, in basis points: 100 %.
pub const MAX_FEE_BPS: u16 = 10_000;

/// The platform fee of `amount` at `bps` basis points, rounded down.
///
/// `bps` above [`MAX_FEE_BPS`] is treated as [`MAX_FEE_BPS`], so the fee never exceeds `amount`.
pub fn platform_fee<B: sp_runtime::traits::AtLeast32BitUnsigned + Copy>(amount: B, bps: u16) -> B {
	// 10_000 divides 10^9, so the conversion to parts per billion is exact.
	Perbill::from_rational(u32::from(bps.min(MAX_FEE_BPS)), u32::from(MAX_FEE_BPS))
		.mul_floor(amount)
}

/// How one amount is divided: the platform fee, each collaborator's part, and the creator's
/// remainder. The parts always sum to the amount exactly.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Split<AccountId, Balance> {
	/// The platform fee: `amount × bps / 10_000`, rounded down.
	pub fee: Balance,
	/// Each collaborator's part: `share × (amount − fee)`, rounded down each.
	pub collaborators: alloc::vec::Vec<(AccountId, Balance)>,
	/// What is left for the creator, rounding remainders included.
	pub creator: Balance,
}

/// Divide `amount` between the platform, the collaborators and the creator.
///
/// The fee is taken first (rounded down), the collaborators' shares are applied to the rest
/// (rounded down each) and the creator gets everything left, so no remainder is ever lost and
/// `fee + Σ collaborators + creator == amount`.
///
/// Errors with [`ArithmeticError::Underflow`] only if the shares sum to more than 100 %, which
/// `pallet-streams` rules out.
pub fn split<AccountId: Clone, B: sp_runtime::traits::AtLeast32BitUnsigned + Copy>(
	amount: B,
	bps: u16,
	collaborators: &[(AccountId, Permill)],
) -> Result<Split<AccountId, B>, ArithmeticError> {
	let fee = platform_fee(amount, bps);
	let rest = amount.checked_sub(&fee).ok_or(ArithmeticError::Underflow)?;
	let mut creator = rest;
	let mut parts = alloc::vec::Vec::with_capacity(collaborators.len());
	for (who, share) in collaborators {
		let part = share.mul_floor(rest);
		creator = creator.checked_sub(&part).ok_or(ArithmeticError::Underflow)?;
		parts.push((who.clone(), part));
	}
	Ok(Split { fee, collaborators: parts, creator })
}

/// An in-memory accumulator of payments for one batch.
///
/// Each [`Credits::add`] splits an amount paid for a stream and adds the parts to the
/// per-recipient totals; [`Pallet::commit`] then makes ONE transfer per distinct recipient and
/// one [`crate::StreamEarnings`] update per distinct stream, however many payments were added.
pub struct Credits<T: Config> {
	fee_bps: u16,
	platform: T::AccountId,
	pub(crate) recipients: BTreeMap<T::AccountId, BalanceOf<T>>,
	pub(crate) streams: BTreeMap<StreamId, BalanceOf<T>>,
	total: BalanceOf<T>,
}

impl<T: Config> Credits<T> {
	/// An empty accumulator using the current platform fee (one storage read).
	pub fn new() -> Self {
		Self {
			fee_bps: crate::PlatformFeeBps::<T>::get(),
			platform: Pallet::<T>::platform_account(),
			recipients: BTreeMap::new(),
			streams: BTreeMap::new(),
			total: Zero::zero(),
		}
	}

	/// Split `amount`, paid for `stream_id`, between the platform, the `collaborators` and the
	/// `creator`, and accumulate the parts.
	///
	/// Errors only on arithmetic overflow of the accumulated totals (or a split above 100 %);
	/// on error the accumulator is left unchanged.
	pub fn add(
		&mut self,
		stream_id: StreamId,
		creator: &T::AccountId,
		collaborators: &[(T::AccountId, Permill)],
		amount: BalanceOf<T>,
	) -> Result<(), ArithmeticError> {
		if amount.is_zero() {
			return Ok(());
		}
		let parts = split(amount, self.fee_bps, collaborators)?;
		let total = self.total.checked_add(&amount).ok_or(ArithmeticError::Overflow)?;
		let stream_total = self
			.streams
			.get(&stream_id)
			.copied()
			.unwrap_or_else(Zero::zero)
			.checked_add(&amount)
			.ok_or(ArithmeticError::Overflow)?;
		// Check every addition before changing anything, so that an error leaves `self` as is.
		let mut updates: alloc::vec::Vec<(T::AccountId, BalanceOf<T>)> =
			alloc::vec::Vec::with_capacity(parts.collaborators.len().saturating_add(2));
		let platform = self.platform.clone();
		for (who, part) in core::iter::once((platform, parts.fee))
			.chain(parts.collaborators)
			.chain(core::iter::once((creator.clone(), parts.creator)))
		{
			if part.is_zero() {
				continue;
			}
			let current = match updates.iter().find(|(w, _)| *w == who) {
				Some((_, v)) => *v,
				None => self.recipients.get(&who).copied().unwrap_or_else(Zero::zero),
			};
			let new = current.checked_add(&part).ok_or(ArithmeticError::Overflow)?;
			match updates.iter_mut().find(|(w, _)| *w == who) {
				Some(entry) => entry.1 = new,
				None => updates.push((who, new)),
			}
		}
		for (who, value) in updates {
			self.recipients.insert(who, value);
		}
		self.streams.insert(stream_id, stream_total);
		self.total = total;
		Ok(())
	}

	/// The sum of all amounts added.
	pub fn total(&self) -> BalanceOf<T> {
		self.total
	}

	/// Whether nothing (non-zero) was added.
	pub fn is_empty(&self) -> bool {
		self.recipients.is_empty()
	}

	/// The number of distinct recipients so far.
	pub fn recipient_count(&self) -> u32 {
		self.recipients.len() as u32
	}

	/// The number of distinct streams so far.
	pub fn stream_count(&self) -> u32 {
		self.streams.len() as u32
	}

	/// The amount accumulated for `who` so far.
	pub fn credit_of(&self, who: &T::AccountId) -> BalanceOf<T> {
		self.recipients.get(who).copied().unwrap_or_else(Zero::zero)
	}
}

impl<T: Config> Default for Credits<T> {
	fn default() -> Self {
		Self::new()
	}
}
