//! Decoding the node's JSON answers (pure functions, tested without a node).

use crate::{Error, EventRecord, Head, Included, RuntimeEvent, TxStatus, H256};
use serde_json::Value;
use vilokanam_runtime::Header;

/// `0x`-prefixed lower-case hex.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// Bytes from `0x`-prefixed (or bare) hex.
pub(crate) fn from_hex(s: &str) -> Result<Vec<u8>, Error> {
	hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| Error::Decode(format!("hex: {e}")))
}

/// A 32-byte hash from a JSON hex string.
pub(crate) fn hash(v: &Value) -> Result<H256, Error> {
	let s = v.as_str().ok_or_else(|| Error::Decode(format!("expected a hash, got {v}")))?;
	let bytes = from_hex(s)?;
	if bytes.len() != 32 {
		return Err(Error::Decode(format!("a hash has 32 bytes, got {}", bytes.len())));
	}
	Ok(H256::from_slice(&bytes))
}

/// A header from its JSON form.
pub(crate) fn header(v: Value) -> Result<Header, Error> {
	serde_json::from_value(v).map_err(|e| Error::Decode(format!("header: {e}")))
}

/// The head of `header` (its hash is computed: header notifications do not carry it).
pub(crate) fn head(header: &Header) -> Head {
	Head { hash: header.hash(), number: header.number, parent: header.parent_hash }
}

/// `(spec_name, transaction_version)` of a `state_getRuntimeVersion` answer.
pub(crate) fn runtime_version(v: &Value) -> Result<(String, u64), Error> {
	let spec_name = v["specName"]
		.as_str()
		.ok_or_else(|| Error::Decode(format!("runtime version without specName: {v}")))?;
	let tx_version = v["transactionVersion"]
		.as_u64()
		.ok_or_else(|| Error::Decode(format!("runtime version without transactionVersion: {v}")))?;
	Ok((spec_name.to_owned(), tx_version))
}

/// `(spec_version, transaction_version)` of a `state_getRuntimeVersion` answer, as signed.
pub(crate) fn signing_versions(v: &Value) -> Result<(u32, u32), Error> {
	let field = |name: &str| {
		v[name]
			.as_u64()
			.and_then(|n| u32::try_from(n).ok())
			.ok_or_else(|| Error::Decode(format!("runtime version without {name}: {v}")))
	};
	Ok((field("specVersion")?, field("transactionVersion")?))
}

/// A status notification of `author_submitAndWatchExtrinsic`; `None` if unknown.
///
/// Unit variants are strings (`"future"`, `"ready"`, `"dropped"`, `"invalid"`), the others
/// one-key objects (`{"inBlock": hash}`, `{"broadcast": [peers]}`, ...).
pub(crate) fn tx_status(v: &Value) -> Option<TxStatus> {
	if let Some(s) = v.as_str() {
		return match s {
			"future" | "ready" => Some(TxStatus::Pool),
			"dropped" => Some(TxStatus::Dropped("dropped from the pool".into())),
			"invalid" => Some(TxStatus::Invalid("no longer valid".into())),
			_ => None,
		};
	}
	let (key, value) = v.as_object().filter(|o| o.len() == 1)?.iter().next()?;
	let block = || hash(value).ok();
	match key.as_str() {
		"broadcast" => Some(TxStatus::Pool),
		"inBlock" => block().map(TxStatus::InBlock),
		"retracted" => block().map(TxStatus::Retracted),
		"finalized" => block().map(TxStatus::Finalized),
		"finalityTimeout" => Some(TxStatus::Dropped(format!("finality timeout, in block {value}"))),
		"usurped" => Some(TxStatus::Dropped(format!("usurped by {value}"))),
		_ => None,
	}
}

/// The values of `keys` in a `state_queryStorageAt` answer (one change set listing every key
/// with its value or `null`), in the order of `keys`; a key the answer omits has no value.
pub(crate) fn query_storage_at(
	sets: &Value,
	keys: &[Vec<u8>],
) -> Result<Vec<Option<Vec<u8>>>, Error> {
	let sets = sets
		.as_array()
		.ok_or_else(|| Error::Decode(format!("expected a list of change sets, got {sets}")))?;
	let mut values = std::collections::HashMap::new();
	for set in sets {
		let changes = set["changes"]
			.as_array()
			.ok_or_else(|| Error::Decode("a change set without changes".into()))?;
		for change in changes {
			let (Some(key), Some(value)) = (change.get(0), change.get(1)) else {
				return Err(Error::Decode(format!("malformed change {change}")));
			};
			let key = from_hex(key.as_str().unwrap_or_default())?;
			let value = match value.as_str() {
				Some(v) => Some(from_hex(v)?),
				None => None,
			};
			values.insert(key, value);
		}
	}
	Ok(keys.iter().map(|k| values.get(k).cloned().flatten()).collect())
}

/// The index of the extrinsic encoded as `encoded` in a `chain_getBlock` answer.
pub(crate) fn find_extrinsic(signed_block: &Value, encoded: &[u8]) -> Result<Option<u32>, Error> {
	let extrinsics = signed_block["block"]["extrinsics"]
		.as_array()
		.ok_or_else(|| Error::Decode("a block without an extrinsics list".into()))?;
	let wanted = to_hex(encoded);
	let index =
		extrinsics.iter().position(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&wanted)));
	index
		.map(|i| u32::try_from(i).map_err(|_| Error::Decode("extrinsic index overflow".into())))
		.transpose()
}

/// The outcome of the extrinsic at `index` of `block`, given all the block's events.
pub(crate) fn included(block: H256, index: u32, events: Vec<EventRecord>) -> Included {
	let events: Vec<RuntimeEvent> = events
		.into_iter()
		.filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index))
		.map(|r| r.event)
		.collect();
	let success = events
		.iter()
		.any(|e| matches!(e, RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { .. })));
	Included { block, index, success, events }
}

#[cfg(test)]
mod tests {
	use super::*;
	use frame_system::DispatchEventInfo;
	use serde_json::json;
	use sp_runtime::DispatchError;

	#[test]
	fn hex_round_trips_and_rejects_garbage() {
		assert_eq!(to_hex(&[0xde, 0xad]), "0xdead");
		assert_eq!(from_hex("0xdead").ok(), Some(vec![0xde, 0xad]));
		assert_eq!(from_hex("dead").ok(), Some(vec![0xde, 0xad]));
		assert!(from_hex("0xzz").is_err());
		assert!(from_hex("0xabc").is_err());
		assert!(hash(&json!("0x1234")).is_err());
		assert!(hash(&json!(12)).is_err());
		let h = H256::repeat_byte(7);
		assert_eq!(hash(&json!(to_hex(h.as_bytes()))).ok(), Some(h));
	}

	#[test]
	fn statuses_decode() {
		let h = H256::repeat_byte(1);
		let hs = to_hex(h.as_bytes());
		assert_eq!(tx_status(&json!("future")), Some(TxStatus::Pool));
		assert_eq!(tx_status(&json!("ready")), Some(TxStatus::Pool));
		assert_eq!(tx_status(&json!({"broadcast": ["peer"]})), Some(TxStatus::Pool));
		assert_eq!(tx_status(&json!({"inBlock": hs})), Some(TxStatus::InBlock(h)));
		assert_eq!(tx_status(&json!({"retracted": hs})), Some(TxStatus::Retracted(h)));
		assert_eq!(tx_status(&json!({"finalized": hs})), Some(TxStatus::Finalized(h)));
		assert!(matches!(tx_status(&json!("dropped")), Some(TxStatus::Dropped(_))));
		assert!(matches!(tx_status(&json!("invalid")), Some(TxStatus::Invalid(_))));
		assert!(matches!(tx_status(&json!({"usurped": hs})), Some(TxStatus::Dropped(_))));
		assert!(matches!(tx_status(&json!({"finalityTimeout": hs})), Some(TxStatus::Dropped(_))));
		assert_eq!(tx_status(&json!("what")), None);
		assert_eq!(tx_status(&json!({"inBlock": 3})), None);
		assert_eq!(tx_status(&json!({"a": 1, "b": 2})), None);
		assert!(TxStatus::Finalized(h).is_final());
		assert!(!TxStatus::InBlock(h).is_final());
	}

	#[test]
	fn headers_decode_and_hash() {
		let v = json!({
			"parentHash": to_hex(&[3; 32]),
			"number": "0x1a",
			"stateRoot": to_hex(&[4; 32]),
			"extrinsicsRoot": to_hex(&[5; 32]),
			"digest": {"logs": []},
		});
		let h = header(v).expect("a valid header");
		let head = head(&h);
		assert_eq!(head.number, 26);
		assert_eq!(head.hash, h.hash());
		assert!(header(json!({"number": "0x1"})).is_err());
	}

	#[test]
	fn versions_decode() {
		let v = json!({"specName": "vilokanam", "specVersion": 101, "transactionVersion": 2});
		assert_eq!(runtime_version(&v).ok(), Some(("vilokanam".into(), 2)));
		assert_eq!(signing_versions(&v).ok(), Some((101, 2)));
		assert!(runtime_version(&json!({})).is_err());
		assert!(signing_versions(&json!({"specVersion": -1, "transactionVersion": 2})).is_err());
	}

	#[test]
	fn storage_change_sets_decode_in_key_order() {
		let keys = vec![vec![1u8], vec![2u8], vec![3u8]];
		let sets = json!([{"block": to_hex(&[0; 32]), "changes": [
			["0x02", "0xaabb"],
			["0x01", null],
		]}]);
		let values = query_storage_at(&sets, &keys).expect("decodes");
		assert_eq!(values, vec![None, Some(vec![0xaa, 0xbb]), None]);
		assert!(query_storage_at(&json!({}), &keys).is_err());
		assert!(query_storage_at(&json!([{"changes": [["0x01"]]}]), &keys).is_err());
	}

	#[test]
	fn extrinsics_are_found_by_encoding() {
		let block = json!({"block": {"header": {}, "extrinsics": ["0x0102", "0xABCD"]}});
		assert_eq!(find_extrinsic(&block, &[0xab, 0xcd]).ok(), Some(Some(1)));
		assert_eq!(find_extrinsic(&block, &[0x01]).ok(), Some(None));
		assert!(find_extrinsic(&json!({}), &[0x01]).is_err());
	}

	#[test]
	fn only_the_extrinsics_events_are_kept() {
		let record = |phase, event| EventRecord { phase, event, topics: vec![] };
		let info = DispatchEventInfo::default();
		let events = vec![
			record(
				frame_system::Phase::ApplyExtrinsic(0),
				RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { dispatch_info: info }),
			),
			record(
				frame_system::Phase::ApplyExtrinsic(1),
				RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
					dispatch_error: DispatchError::BadOrigin,
					dispatch_info: info,
				}),
			),
			record(
				frame_system::Phase::Finalization,
				RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { dispatch_info: info }),
			),
		];
		let ok = included(H256::zero(), 0, events.clone());
		assert!(ok.success);
		assert_eq!(ok.events.len(), 1);
		assert_eq!(ok.dispatch_error(), None);
		let failed = included(H256::zero(), 1, events);
		assert!(!failed.success);
		assert_eq!(failed.dispatch_error(), Some(DispatchError::BadOrigin));
	}
}
