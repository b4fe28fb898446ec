// The bytes a Vilokanam client signs, exactly as the chain (pallet_ticks) and the sidecar build
// them: tags as raw ASCII, the 32-byte genesis hash, little-endian integers, SCALE lengths where
// a field varies. test/vectors.json holds what the Rust encoders produce; the tests compare.

import { bnToU8a, compactAddLength, hexToU8a, stringToU8a, u8aConcat } from '@polkadot/util';
import { decodeAddress } from '@polkadot/util-crypto';

/** `(*b"vilokanam/tick/v1", genesis, session_id: u64, cumulative_seconds: u64)`, SCALE. */
export const VOUCHER_TAG = stringToU8a('vilokanam/tick/v1');
/** `(*b"vilokanam/close/v1", genesis, session_id: u64, cumulative_seconds: u64)`, SCALE. */
export const CLOSE_TAG = stringToU8a('vilokanam/close/v1');
/** `(*b"vilokanam/delegate/v1", genesis, viewer, allowance_id: u64, nonce: u32, op)`, SCALE. */
export const DELEGATE_TAG = stringToU8a('vilokanam/delegate/v1');
/** `(*b"vilokanam/auth/v2", genesis, audience: Vec<u8>, nonce)`, SCALE. */
export const AUTH_TAG = stringToU8a('vilokanam/auth/v2');

/** What browser wallets (`signRaw` with type `bytes`) wrap a message in before signing it. */
export const WRAP_PREFIX = stringToU8a('<Bytes>');
export const WRAP_SUFFIX = stringToU8a('</Bytes>');

function u64le(n) {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new Error(`${n} does not fit a u64`);
  return bnToU8a(v, { bitLength: 64, isLe: true });
}

function u32le(n) {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 32n) throw new Error(`${n} does not fit a u32`);
  return bnToU8a(v, { bitLength: 32, isLe: true });
}

/** 32 bytes from hex; a shorter or longer value is a bug that would sign the wrong bytes. */
function bytes32(hex, what) {
  const u8a = hexToU8a(hex);
  if (u8a.length !== 32) throw new Error(`${what} must be 32 bytes, got ${u8a.length}`);
  return u8a;
}

/** The payload of a voucher (`pallet_ticks::Pallet::voucher_payload`), 65 bytes. */
export function voucherPayload(genesis, sessionId, cumulativeSeconds) {
  return u8aConcat(VOUCHER_TAG, bytes32(genesis, 'genesis'), u64le(sessionId), u64le(cumulativeSeconds));
}

/** The payload of a close intent (`pallet_ticks::Pallet::close_payload`), 66 bytes. */
export function closePayload(genesis, sessionId, cumulativeSeconds) {
  return u8aConcat(CLOSE_TAG, bytes32(genesis, 'genesis'), u64le(sessionId), u64le(cumulativeSeconds));
}

/**
 * The payload of a delegate call (`pallet_ticks::Pallet::delegate_payload`): 97 bytes then
 * `opU8a` (the SCALE encoding of the `DelegateOp`). `viewer`: SS58 or 0x public key.
 */
export function delegatePayload(genesis, viewer, allowanceId, nonce, opU8a) {
  const who = decodeAddress(viewer);
  if (who.length !== 32) throw new Error(`the viewer must be a 32-byte account, got ${who.length}`);
  return u8aConcat(DELEGATE_TAG, bytes32(genesis, 'genesis'), who, u64le(allowanceId), u32le(nonce), opU8a);
}

/**
 * The payload answering the sidecar's challenge (`access::identity::auth_payload`): it names the
 * sidecar (`audience`, the HTTP origin the client connected to), so a sidecar that relays
 * another's nonce gains nothing.
 */
export function authPayload(genesis, audience, nonce) {
  if (typeof audience !== 'string' || !/^https?:\/\/[\x21-\x7e]+$/.test(audience)) {
    throw new Error(`the audience must be an http(s) origin, got ${JSON.stringify(audience)}`);
  }
  return u8aConcat(
    AUTH_TAG, bytes32(genesis, 'genesis'), compactAddLength(stringToU8a(audience)), bytes32(nonce, 'nonce'),
  );
}

/** `payload` as a browser wallet signs it (`encoding: "wrapped"`): `<Bytes>` ++ payload ++ `</Bytes>`. */
export function wrapBytes(payload) {
  return u8aConcat(WRAP_PREFIX, payload, WRAP_SUFFIX);
}

/**
 * The SCALE encoding of a `DelegateOp`: `{openSession: {streamId, maxSeconds, maxPricePerSecond,
 * voucherKey}}` (variant 0) or `{topUp: {sessionId, extraSeconds}}` (variant 1).
 */
export function delegateOp(op) {
  if (op.openSession) {
    const { streamId, maxSeconds, maxPricePerSecond, voucherKey } = op.openSession;
    const price = BigInt(maxPricePerSecond);
    if (price < 0n || price >= 1n << 128n) throw new Error(`${maxPricePerSecond} does not fit a u128`);
    const key = decodeAddress(voucherKey);
    if (key.length !== 32) throw new Error('the voucher key must be a 32-byte account');
    return u8aConcat(
      new Uint8Array([0]), u64le(streamId), u64le(maxSeconds),
      bnToU8a(price, { bitLength: 128, isLe: true }), key,
    );
  }
  if (op.topUp) {
    const { sessionId, extraSeconds } = op.topUp;
    return u8aConcat(new Uint8Array([1]), u64le(sessionId), u64le(extraSeconds));
  }
  throw new Error('a delegate op is {openSession} or {topUp}');
}
