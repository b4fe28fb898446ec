//! The loop every multi-block migration of Vilokanam's pallets runs (this pallet's and
//! `pallet-ticks`'): rewrite a storage map entry by entry, as many entries as the block's
//! migration weight admits, and leave a cursor (the last key rewritten) for the next block.
//!
//! The migrations are run by `pallet-migrations` (the runtime's `MultiBlockMigrations`):
//! while one is under way, the chain accepts no transactions, so no entry changes between
//! two steps other than by the migration itself.

use frame_support::{
	migrations::SteppedMigrationError,
	weights::{Weight, WeightMeter},
};

/// One step: migrates entries in storage order after `cursor` (the last key migrated by an
/// earlier step; `None` at the start) while `meter` admits `per_entry` (the benchmarked
/// weight of migrating one entry).
///
/// - `next_after(cursor)`: the first entry not yet migrated, after `cursor`;
/// - `migrate(key, old)`: rewrites that entry in the new layout.
///
/// Returns the cursor for the next step, or `None` once no entry is left (the migration is
/// complete). Refuses to start a step in which not even one entry fits.
pub fn step_through_map<K, V>(
	mut cursor: Option<K>,
	meter: &mut WeightMeter,
	per_entry: Weight,
	next_after: impl Fn(Option<&K>) -> Option<(K, V)>,
	mut migrate: impl FnMut(&K, V),
) -> Result<Option<K>, SteppedMigrationError> {
	if meter.remaining().any_lt(per_entry) {
		return Err(SteppedMigrationError::InsufficientWeight { required: per_entry });
	}
	while meter.try_consume(per_entry).is_ok() {
		match next_after(cursor.as_ref()) {
			Some((key, old)) => {
				migrate(&key, old);
				cursor = Some(key);
			},
			None => return Ok(None),
		}
	}
	Ok(cursor)
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Three entries per step of weight 3: the fourth step finds none left.
	#[test]
	fn steps_as_many_entries_as_the_meter_admits() {
		let old: Vec<u32> = (0..9).collect();
		let mut new = Vec::new();
		let next_after = |cursor: Option<&usize>| {
			cursor.map_or(Some(0), |c| Some(c + 1)).filter(|i| *i < 9).map(|i| (i, old[i]))
		};
		let mut cursor = None;
		let mut steps = 0;
		loop {
			let mut meter = WeightMeter::with_limit(Weight::from_parts(3, 3));
			steps += 1;
			cursor = step_through_map(
				cursor,
				&mut meter,
				Weight::from_parts(1, 1),
				next_after,
				|_, v| new.push(v),
			)
			.unwrap();
			if cursor.is_none() {
				break;
			}
			assert_eq!(new.len(), 3 * steps);
		}
		assert_eq!((new, steps), (old, 4));
	}

	#[test]
	fn a_step_in_which_no_entry_fits_is_refused() {
		let mut meter = WeightMeter::with_limit(Weight::from_parts(1, 1));
		let result = step_through_map(
			None,
			&mut meter,
			Weight::from_parts(2, 1),
			|_: Option<&u8>| Some((0u8, ())),
			|_, _| panic!("nothing may be migrated"),
		);
		assert_eq!(
			result,
			Err(SteppedMigrationError::InsufficientWeight { required: Weight::from_parts(2, 1) })
		);
	}
}
