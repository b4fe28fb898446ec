// The sidecar's protocol messages a client sends (docs/SIDECAR.md "Protocol"), built as the
// sidecar's own serde types serialize them: snake_case fields, `"v": 1`, hex signatures.
// test/vectors.json holds the sidecar's own encodings; the tests compare.

import { u8aToHex } from '@polkadot/util';
import { closePayload, voucherPayload, wrapBytes } from './payloads.js';

/** A signature as the protocol carries it: `0x` + 128 hex digits. */
function signatureHex(signature) {
  const hex = typeof signature === 'string' ? signature : u8aToHex(signature);
  if (!/^0x[0-9a-f]{128}$/i.test(hex)) throw new Error('a signature is 64 bytes');
  return hex.toLowerCase();
}

/**
 * The fields a voucher or close intent carries. `signer`: `voucher_key` (the session's page key,
 * what pages use) or `viewer`; `encoding`: `raw` or `wrapped` (`<Bytes>`, as wallets sign);
 * `crypto`: `sr25519` or `ed25519`.
 */
function signedFields({ sessionId, cumulativeSeconds, signature, signer = 'voucher_key', encoding = 'raw', crypto = 'sr25519' }) {
  return {
    session_id: Number(sessionId),
    cumulative_seconds: Number(cumulativeSeconds),
    encoding,
    crypto,
    signer,
    signature: signatureHex(signature),
  };
}

/** The `heartbeat` message: one voucher, sent every second while watching. */
export function heartbeatMessage(voucher) {
  return { v: 1, type: 'heartbeat', ...signedFields(voucher) };
}

/** The `close` message: the viewer's close intent (the sidecar settles, then refunds). */
export function closeMessage(intent) {
  return { v: 1, type: 'close', ...signedFields(intent) };
}

/** A close intent as the body of `POST /close` (the beacon a page sends as its tab closes). */
export function closeIntentFields(intent) {
  return signedFields(intent);
}

/** A voucher as the body of `POST /vouchers` (a WHEP player's; the watch token names the session). */
export function voucherBody(voucher) {
  const { session_id: _, ...body } = signedFields(voucher);
  return body;
}

/** The `auth` message answering the challenge (`session_id`: a page key's login). */
export function authMessage({ account, signature, crypto = 'sr25519', encoding = 'raw', sessionId }) {
  const msg = { v: 1, type: 'auth', account, crypto, signature: signatureHex(signature), encoding };
  if (sessionId !== undefined && sessionId !== null) msg.session_id = Number(sessionId);
  return msg;
}

/** The bytes to sign for `encoding` (`raw`: the payload; `wrapped`: `<Bytes>`-wrapped). */
function toSign(payload, encoding) {
  if (encoding === 'raw') return payload;
  if (encoding === 'wrapped') return wrapBytes(payload);
  throw new Error(`unknown encoding ${encoding}`);
}

/**
 * Signs the voucher for `cumulativeSeconds` of `sessionId` on the chain of `genesis` with
 * `sign(bytes) → signature` (a keyring pair's `sign`, a wallet's `signRaw`, sync or async) and
 * returns the fields `heartbeatMessage` and `voucherBody` take.
 */
export async function signVoucher(sign, { genesis, sessionId, cumulativeSeconds, signer, encoding = 'raw', crypto }) {
  const signature = await sign(toSign(voucherPayload(genesis, sessionId, cumulativeSeconds), encoding));
  return { sessionId, cumulativeSeconds, signature: signatureHex(signature), signer, encoding, crypto };
}

/** As `signVoucher`, for the close intent of `cumulativeSeconds`. */
export async function signCloseIntent(sign, { genesis, sessionId, cumulativeSeconds, signer, encoding = 'raw', crypto }) {
  const signature = await sign(toSign(closePayload(genesis, sessionId, cumulativeSeconds), encoding));
  return { sessionId, cumulativeSeconds, signature: signatureHex(signature), signer, encoding, crypto };
}
