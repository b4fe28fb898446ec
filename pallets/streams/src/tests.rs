//! Unit tests of the streams pallet.

use crate::mock::Streams;
use crate::{mock::*, *};
use frame_support::weights::Weight;
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
};
use sp_runtime::{DispatchError, Permill};

fn text<S: frame_support::traits::Get<u32>>(s: &[u8]) -> frame_support::BoundedVec<u8, S> {
	s.to_vec().try_into().unwrap()
}

fn create(who: AccountId) -> StreamId {
	let id = NextStreamId::<Test>::get();
	assert_ok!(Streams::create_stream(
		RuntimeOrigin::signed(who),
		text(b"My stream"),
		text(b"ipfs://cid"),
		MUSIC,
		vec![text(b"rust")].try_into().unwrap(),
		5,
		Some(text(b"https://sfu.example/whep/1")),
		Some(BOB),
	));
	id
}

fn held(who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::Streams(HoldReason::StreamDeposit), &who)
}

#[test]
fn create_stream_holds_deposit_and_indexes() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_eq!(id, 0);
		let s = Streams::stream(id).unwrap();
		assert_eq!(s.creator, ALICE);
		assert_eq!(s.status, StreamStatus::Scheduled);
		assert_eq!(s.created_at, 1_000);
		assert_eq!(s.price_per_second, 5);
		assert_eq!(s.deposit, 100);
		assert_eq!(s.relayer, Some(BOB));
		assert_eq!(held(ALICE), 100);
		assert_eq!(Balances::balance(&ALICE), 9_900);
		assert!(StreamsByCreator::<Test>::contains_key(ALICE, id));
		assert!(StreamsByCategory::<Test>::contains_key(MUSIC, id));
		assert!(!LiveStreams::<Test>::contains_key(id));
		assert_eq!(NextStreamId::<Test>::get(), 1);
		System::assert_last_event(
			Event::StreamCreated { stream_id: 0, creator: ALICE, category: MUSIC, deposit: 100 }
				.into(),
		);
	});
}

#[test]
fn create_stream_validates_input() {
	ExtBuilder::build_and_execute(|| {
		let ok_tags: TagsOf<Test> = Default::default();
		assert_noop!(
			Streams::create_stream(
				RuntimeOrigin::signed(ALICE),
				text(b""),
				text(b""),
				MUSIC,
				ok_tags.clone(),
				1,
				None,
				None
			),
			Error::<Test>::InvalidTitle
		);
		assert_noop!(
			Streams::create_stream(
				RuntimeOrigin::signed(ALICE),
				text(&[0xff, 0xfe]),
				text(b""),
				MUSIC,
				ok_tags.clone(),
				1,
				None,
				None
			),
			Error::<Test>::InvalidTitle
		);
		assert_noop!(
			Streams::create_stream(
				RuntimeOrigin::signed(ALICE),
				text(b"t"),
				text(b""),
				MUSIC,
				vec![text(b"")].try_into().unwrap(),
				1,
				None,
				None
			),
			Error::<Test>::InvalidTag
		);
		assert_noop!(
			Streams::create_stream(
				RuntimeOrigin::signed(ALICE),
				text(b"t"),
				text(b""),
				MUSIC,
				ok_tags.clone(),
				1,
				Some(text(&[0xc3])),
				None
			),
			Error::<Test>::InvalidEndpoint
		);
		assert_noop!(
			Streams::create_stream(
				RuntimeOrigin::signed(ALICE),
				text(b"t"),
				text(b""),
				42,
				ok_tags.clone(),
				1,
				None,
				None
			),
			Error::<Test>::UnknownCategory
		);
		// Not enough funds for the deposit.
		assert!(Streams::create_stream(
			RuntimeOrigin::signed(POOR),
			text(b"t"),
			text(b""),
			MUSIC,
			ok_tags,
			1,
			None,
			None
		)
		.is_err());
		assert_eq!(NextStreamId::<Test>::get(), 0);
	});
}

#[test]
fn lifecycle_and_live_index() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_noop!(Streams::go_live(RuntimeOrigin::signed(BOB), id), Error::<Test>::NotCreator);
		Timestamp::set_timestamp(2_000);
		assert_ok!(Streams::go_live(RuntimeOrigin::signed(ALICE), id));
		assert_eq!(Streams::stream(id).unwrap().status, StreamStatus::Live);
		assert_eq!(Streams::stream(id).unwrap().started_at, Some(2_000));
		assert!(LiveStreams::<Test>::contains_key(id));
		assert_eq!(LiveStreams::<Test>::count(), 1);
		assert_noop!(
			Streams::go_live(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::NotScheduled
		);

		Timestamp::set_timestamp(3_000);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		let s = Streams::stream(id).unwrap();
		assert_eq!(s.status, StreamStatus::Ended);
		assert_eq!(s.ended_at, Some(3_000));
		assert_eq!(LiveStreams::<Test>::count(), 0);
		assert_noop!(
			Streams::end_stream(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::StreamEnded
		);
		assert_noop!(
			Streams::go_live(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::NotScheduled
		);
		assert_noop!(
			Streams::update_stream(RuntimeOrigin::signed(ALICE), id, Default::default()),
			Error::<Test>::StreamEnded
		);
		// A scheduled stream can be ended directly.
		let id2 = create(ALICE);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id2));
		assert_eq!(Streams::stream(id2).unwrap().status, StreamStatus::Ended);
	});
}

#[test]
fn update_stream_changes_fields_and_category_index() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_ok!(Streams::add_category(RuntimeOrigin::root(), 2, text(b"games")));
		let update = StreamUpdate::<Test> {
			title: Some(text(b"New title")),
			category: Some(2),
			price_per_second: Some(9),
			endpoint: Some(None),
			relayer: Some(None),
			..Default::default()
		};
		assert_noop!(
			Streams::update_stream(RuntimeOrigin::signed(BOB), id, update.clone()),
			Error::<Test>::NotCreator
		);
		assert_ok!(Streams::update_stream(RuntimeOrigin::signed(ALICE), id, update));
		let s = Streams::stream(id).unwrap();
		assert_eq!(s.title.to_vec(), b"New title".to_vec());
		assert_eq!(s.category, 2);
		assert_eq!(s.price_per_second, 9);
		assert_eq!(s.endpoint, None);
		assert_eq!(s.relayer, None);
		assert!(!StreamsByCategory::<Test>::contains_key(MUSIC, id));
		assert!(StreamsByCategory::<Test>::contains_key(2, id));
		assert_noop!(
			Streams::update_stream(
				RuntimeOrigin::signed(ALICE),
				id,
				StreamUpdate::<Test> { category: Some(77), ..Default::default() }
			),
			Error::<Test>::UnknownCategory
		);
		assert_noop!(
			Streams::update_stream(
				RuntimeOrigin::signed(ALICE),
				id,
				StreamUpdate::<Test> { title: Some(text(b"")), ..Default::default() }
			),
			Error::<Test>::InvalidTitle
		);
		assert_noop!(
			Streams::update_stream(RuntimeOrigin::signed(ALICE), 9, Default::default()),
			Error::<Test>::StreamNotFound
		);
	});
}

#[test]
fn set_split_checks_sum_and_duplicates() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		let too_much: SplitOf<Test> =
			vec![(BOB, Permill::from_percent(60)), (CHARLIE, Permill::from_percent(41))]
				.try_into()
				.unwrap();
		assert_noop!(
			Streams::set_split(RuntimeOrigin::signed(ALICE), id, too_much),
			Error::<Test>::SplitTooLarge
		);
		let dup: SplitOf<Test> =
			vec![(BOB, Permill::from_percent(10)), (BOB, Permill::from_percent(10))]
				.try_into()
				.unwrap();
		assert_noop!(
			Streams::set_split(RuntimeOrigin::signed(ALICE), id, dup),
			Error::<Test>::DuplicateCollaborator
		);
		let full: SplitOf<Test> =
			vec![(BOB, Permill::from_percent(60)), (CHARLIE, Permill::from_percent(40))]
				.try_into()
				.unwrap();
		assert_noop!(
			Streams::set_split(RuntimeOrigin::signed(BOB), id, full.clone()),
			Error::<Test>::NotCreator
		);
		assert_ok!(Streams::set_split(RuntimeOrigin::signed(ALICE), id, full.clone()));
		assert_eq!(Streams::stream(id).unwrap().collaborators, full);
		System::assert_last_event(Event::SplitUpdated { stream_id: id, collaborators: 2 }.into());
	});
}

#[test]
fn split_total_works() {
	assert_eq!(split_total::<u64>(&[]), Some(Permill::zero()));
	assert_eq!(
		split_total(&[(1u64, Permill::from_percent(50)), (2, Permill::from_percent(50))]),
		Some(Permill::one())
	);
	assert_eq!(
		split_total(&[(1u64, Permill::from_parts(500_001)), (2, Permill::from_percent(50))]),
		None
	);
}

#[test]
fn ban_and_unban() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert!(!Streams::is_banned(id, &CHARLIE));
		assert_ok!(Streams::ban_viewer(RuntimeOrigin::signed(ALICE), CHARLIE));
		assert!(Streams::is_banned(id, &CHARLIE));
		assert!(Streams::is_banned_by(&ALICE, &CHARLIE));
		assert!(!Streams::is_banned(id, &BOB));
		assert_noop!(
			Streams::ban_viewer(RuntimeOrigin::signed(ALICE), CHARLIE),
			Error::<Test>::AlreadyBanned
		);
		assert_noop!(
			Streams::ban_viewer(RuntimeOrigin::signed(ALICE), ALICE),
			Error::<Test>::CannotBanSelf
		);
		assert_ok!(Streams::unban_viewer(RuntimeOrigin::signed(ALICE), CHARLIE));
		assert!(!Streams::is_banned(id, &CHARLIE));
		assert_noop!(
			Streams::unban_viewer(RuntimeOrigin::signed(ALICE), CHARLIE),
			Error::<Test>::NotBanned
		);
		// Unknown stream: not banned.
		assert!(!Streams::is_banned(77, &CHARLIE));
	});
}

#[test]
fn follow_is_bounded_and_indexed() {
	ExtBuilder::build_and_execute(|| {
		assert_noop!(
			Streams::follow(RuntimeOrigin::signed(CHARLIE), CHARLIE),
			Error::<Test>::CannotFollowSelf
		);
		for creator in [10, 11, 12] {
			assert_ok!(Streams::follow(RuntimeOrigin::signed(CHARLIE), creator));
		}
		assert_noop!(
			Streams::follow(RuntimeOrigin::signed(CHARLIE), 13),
			Error::<Test>::TooManyFollows
		);
		assert_noop!(
			Streams::follow(RuntimeOrigin::signed(CHARLIE), 10),
			Error::<Test>::AlreadyFollowing
		);
		assert_ok!(Streams::follow(RuntimeOrigin::signed(BOB), 10));
		assert_eq!(FollowerCount::<Test>::get(10), 2);
		assert_eq!(Following::<Test>::get(CHARLIE).to_vec(), vec![10, 11, 12]);

		assert_ok!(Streams::unfollow(RuntimeOrigin::signed(CHARLIE), 11));
		assert_eq!(Following::<Test>::get(CHARLIE).to_vec(), vec![10, 12]);
		assert!(!Followers::<Test>::contains_key(11, CHARLIE));
		assert_eq!(FollowerCount::<Test>::get(11), 0);
		assert!(!FollowerCount::<Test>::contains_key(11));
		assert_noop!(
			Streams::unfollow(RuntimeOrigin::signed(CHARLIE), 11),
			Error::<Test>::NotFollowing
		);
		assert_ok!(Streams::follow(RuntimeOrigin::signed(CHARLIE), 13));
	});
}

#[test]
fn categories_are_root_only_and_protected_while_used() {
	ExtBuilder::build_and_execute(|| {
		assert_noop!(
			Streams::add_category(RuntimeOrigin::signed(ALICE), 5, text(b"x")),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Streams::add_category(RuntimeOrigin::root(), MUSIC, text(b"x")),
			Error::<Test>::CategoryExists
		);
		assert_noop!(
			Streams::add_category(RuntimeOrigin::root(), 5, text(b"")),
			Error::<Test>::InvalidCategoryName
		);
		let id = create(ALICE);
		assert_noop!(
			Streams::remove_category(RuntimeOrigin::root(), MUSIC),
			Error::<Test>::CategoryInUse
		);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(ALICE), id));
		assert_ok!(Streams::remove_category(RuntimeOrigin::root(), MUSIC));
		assert!(!Categories::<Test>::contains_key(MUSIC));
		assert_noop!(
			Streams::remove_category(RuntimeOrigin::root(), MUSIC),
			Error::<Test>::UnknownCategory
		);
	});
}

#[test]
fn viewer_hooks_track_counts() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_noop!(Streams::note_session_opened(id), Error::<Test>::StreamNotLive);
		assert_noop!(Streams::note_session_opened(9), Error::<Test>::StreamNotFound);
		assert_ok!(Streams::go_live(RuntimeOrigin::signed(ALICE), id));
		assert_ok!(Streams::note_session_opened(id));
		assert_ok!(Streams::note_session_opened(id));
		Streams::note_session_closed(id);
		assert_ok!(Streams::note_session_opened(id));
		let s = Streams::stream(id).unwrap();
		assert_eq!((s.current_viewers, s.peak_viewers), (2, 2));
		Streams::note_settled(id, 30, 150);
		Streams::note_settled(id, 10, 50);
		let s = Streams::stream(id).unwrap();
		assert_eq!((s.total_viewer_seconds, s.total_earned), (40, 200));

		// Removal waits for the viewers to leave.
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::ViewersPresent
		);
		Streams::note_session_closed(id);
		Streams::note_session_closed(id);
		Streams::note_session_closed(id); // saturates
		assert_eq!(Streams::stream(id).unwrap().current_viewers, 0);
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(ALICE), id));
	});
}

#[test]
fn remove_stream_releases_deposit_and_cleans_indexes() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::NotEnded
		);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(BOB), id),
			Error::<Test>::NotCreator
		);
		assert_eq!(held(ALICE), 100);
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(ALICE), id));
		assert_eq!(held(ALICE), 0);
		assert_eq!(Balances::balance(&ALICE), 10_000);
		assert!(Streams::stream(id).is_none());
		assert!(!StreamsByCreator::<Test>::contains_key(ALICE, id));
		assert!(!StreamsByCategory::<Test>::contains_key(MUSIC, id));
		System::assert_last_event(Event::StreamRemoved { stream_id: id, deposit: 100 }.into());
		// Ids are not reused.
		assert_eq!(create(ALICE), 1);
	});
}

#[test]
fn only_the_creator_offers_a_replay_and_the_offer_opens_sessions_on_the_ended_stream() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_noop!(
			Streams::set_replay_offer(RuntimeOrigin::signed(BOB), id, Some(2)),
			Error::<Test>::NotCreator
		);
		assert_noop!(
			Streams::set_replay_offer(RuntimeOrigin::signed(ALICE), 9, Some(2)),
			Error::<Test>::StreamNotFound
		);
		// Offered ahead of time: it applies only once the stream has ended.
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(ALICE), id, Some(2)));
		System::assert_last_event(
			Event::ReplayOfferChanged { stream_id: id, price_per_second: Some(2) }.into(),
		);
		let scheduled = Streams::stream(id).unwrap();
		assert!(matches!(Streams::session_price(&scheduled), Err(Error::<Test>::StreamNotLive)));
		assert_ok!(Streams::go_live(RuntimeOrigin::signed(ALICE), id));
		assert!(matches!(Streams::session_price(&Streams::stream(id).unwrap()), Ok(5)));

		Timestamp::set_timestamp(5_000);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		let ended = Streams::stream(id).unwrap();
		assert!(matches!(Streams::session_price(&ended), Ok(2)));
		assert!(!Streams::is_replay(&ended, 4_000));
		// Opened in the very millisecond the stream ended: live, never a replay.
		assert!(!Streams::is_replay(&ended, 5_000));
		assert!(Streams::is_replay(&ended, 5_001));
		assert_ok!(Streams::note_session_opened(id));
		assert_eq!(Streams::stream(id).unwrap().current_viewers, 1);

		// Withdrawn: no new replay session; the open one still counts.
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(ALICE), id, None));
		System::assert_last_event(
			Event::ReplayOfferChanged { stream_id: id, price_per_second: None }.into(),
		);
		assert_noop!(Streams::note_session_opened(id), Error::<Test>::ReplayNotOffered);
		assert_eq!(Streams::stream(id).unwrap().current_viewers, 1);
	});
}

#[test]
fn removing_a_stream_removes_its_replay_offer_once_its_replay_viewers_left() {
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		assert_ok!(Streams::end_stream(RuntimeOrigin::signed(ALICE), id));
		assert_ok!(Streams::set_replay_offer(RuntimeOrigin::signed(ALICE), id, Some(3)));
		assert_ok!(Streams::note_session_opened(id));
		assert_noop!(
			Streams::remove_stream(RuntimeOrigin::signed(ALICE), id),
			Error::<Test>::ViewersPresent
		);
		Streams::note_session_closed(id);
		assert_ok!(Streams::remove_stream(RuntimeOrigin::signed(ALICE), id));
		assert!(!ReplayOffers::<Test>::contains_key(id));
		assert_noop!(
			Streams::set_replay_offer(RuntimeOrigin::signed(ALICE), id, Some(3)),
			Error::<Test>::StreamNotFound
		);
	});
}

#[test]
fn try_state_detects_a_replay_offer_of_a_removed_stream() {
	ExtBuilder::build().execute_with(|| {
		ReplayOffers::<Test>::insert(42, 1);
		assert!(Streams::do_try_state().is_err());
	});
}

#[test]
fn try_state_detects_broken_live_index() {
	ExtBuilder::build().execute_with(|| {
		let id = create(ALICE);
		assert_ok!(Streams::do_try_state());
		LiveStreams::<Test>::insert(id, ());
		assert!(Streams::do_try_state().is_err());
		LiveStreams::<Test>::remove(id);
		StreamsByCategory::<Test>::remove(MUSIC, id);
		assert!(Streams::do_try_state().is_err());
	});
}

/// Runs `MigrateV0ToV1` as `pallet-migrations` would: one step per block, each with `limit`
/// of weight; returns the number of steps.
fn migrate_streams_in_steps(limit: Weight) -> u32 {
	use crate::migrations::v1::MigrateV0ToV1;
	use frame_support::{migrations::SteppedMigration, weights::WeightMeter};
	let mut cursor = None;
	let mut steps = 0;
	loop {
		steps += 1;
		assert!(steps < 100, "the migration never completes");
		cursor = MigrateV0ToV1::<Test, ()>::step(cursor, &mut WeightMeter::with_limit(limit))
			.expect("a step fails");
		if cursor.is_none() {
			return steps;
		}
	}
}

#[test]
fn migration_v0_to_v1_gives_every_stream_no_relayer_two_per_block() {
	use crate::migrations::{v1::v0, weights::WeightInfo};
	use frame_support::traits::{GetStorageVersion, StorageVersion};
	ExtBuilder::build_and_execute(|| {
		let ids: Vec<StreamId> =
			(0..5).map(|i| create(if i % 2 == 0 { ALICE } else { BOB })).collect();
		assert_ok!(Streams::go_live(RuntimeOrigin::signed(ALICE), ids[0]));
		let expected: Vec<Stream<Test>> = ids
			.iter()
			.map(|id| {
				let mut s = Streams::stream(*id).unwrap();
				s.relayer = None;
				s
			})
			.collect();
		for s in expected.iter() {
			v0::Streams::<Test>::insert(s.id, v0::OldStream::<Test>::from(s.clone()));
		}
		StorageVersion::new(0).put::<Streams>();

		// Two streams fit in a step: five take three steps, the last finding one left.
		let per_stream = <() as WeightInfo>::migration_v0_v1_step();
		assert_eq!(migrate_streams_in_steps(per_stream * 2 + Weight::from_parts(1, 1)), 3);
		assert_eq!(Streams::on_chain_storage_version(), Streams::in_code_storage_version());
		for s in expected.iter() {
			assert_eq!(Streams::stream(s.id).as_ref(), Some(s));
		}

		// Run again (the version is 1 already): nothing is touched.
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		assert_eq!(migrate_streams_in_steps(per_stream), 1);
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
	});
}

/// A step in which not even one stream fits is refused, and migrates nothing: the next block
/// tries again (or, if a whole block's migration weight cannot fit one, the chain stops and
/// says so rather than writing an overweight block).
#[test]
fn migration_step_without_weight_for_one_stream_migrates_nothing() {
	use crate::migrations::{
		v1::{v0, MigrateV0ToV1},
		weights::WeightInfo,
	};
	use frame_support::{
		migrations::{SteppedMigration, SteppedMigrationError},
		traits::StorageVersion,
		weights::WeightMeter,
	};
	ExtBuilder::build_and_execute(|| {
		let id = create(ALICE);
		let mut old = Streams::stream(id).unwrap();
		old.relayer = None;
		v0::Streams::<Test>::insert(id, v0::OldStream::<Test>::from(old));
		StorageVersion::new(0).put::<Streams>();
		let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
		let required = <() as WeightInfo>::migration_v0_v1_step();
		let mut meter = WeightMeter::with_limit(required - Weight::from_parts(1, 0));
		assert_eq!(
			MigrateV0ToV1::<Test, ()>::step(None, &mut meter),
			Err(SteppedMigrationError::InsufficientWeight { required })
		);
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), root);
		// Leave the storage as the pallet's checks expect.
		migrate_streams_in_steps(required);
	});
}
