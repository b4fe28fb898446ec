// Types of @vilokanam/sdk. The module documentation is in README.md and in the sources.

/** Hex strings are `0x`-prefixed; a genesis hash and a nonce are 32 bytes. */
export type Hex = `0x${string}`;
/** A u64 as JavaScript carries it: a number below 2^53, else a bigint (or a decimal string). */
export type U64 = number | bigint | string;
/** An account: SS58 or `0x` + 64 hex digits. */
export type Address = string;

export declare const VOUCHER_TAG: Uint8Array;
export declare const CLOSE_TAG: Uint8Array;
export declare const DELEGATE_TAG: Uint8Array;
export declare const AUTH_TAG: Uint8Array;
export declare const WRAP_PREFIX: Uint8Array;
export declare const WRAP_SUFFIX: Uint8Array;

/** `pallet_ticks::Pallet::voucher_payload`: 65 bytes. */
export declare function voucherPayload(genesis: Hex, sessionId: U64, cumulativeSeconds: U64): Uint8Array;
/** `pallet_ticks::Pallet::close_payload`: 66 bytes. */
export declare function closePayload(genesis: Hex, sessionId: U64, cumulativeSeconds: U64): Uint8Array;
/** `pallet_ticks::Pallet::delegate_payload`: 97 bytes then the op's SCALE encoding. */
export declare function delegatePayload(
  genesis: Hex, viewer: Address, allowanceId: U64, nonce: number | bigint, opU8a: Uint8Array,
): Uint8Array;
/** The sidecar's login payload, bound to its `audience` (HTTP origin). */
export declare function authPayload(genesis: Hex, audience: string, nonce: Hex): Uint8Array;
/** `<Bytes>` ++ payload ++ `</Bytes>`: what a wallet's `signRaw` signs (`encoding: "wrapped"`). */
export declare function wrapBytes(payload: Uint8Array): Uint8Array;

export type DelegateOp =
  | { openSession: { streamId: U64; maxSeconds: U64; maxPricePerSecond: U64; voucherKey: Address } }
  | { topUp: { sessionId: U64; extraSeconds: U64 } };
/** The SCALE encoding of a `DelegateOp`. */
export declare function delegateOp(op: DelegateOp): Uint8Array;

export type Signer = 'voucher_key' | 'viewer';
export type Encoding = 'raw' | 'wrapped';
export type Crypto = 'sr25519' | 'ed25519';
/** Signs bytes: a keyring pair's `sign`, a wallet's `signRaw`, a WebCrypto wrapper… */
export type SignFn = (bytes: Uint8Array) => Uint8Array | Hex | Promise<Uint8Array | Hex>;

/** A signed voucher or close intent, as `signVoucher` returns it. */
export interface Signed {
  sessionId: U64;
  cumulativeSeconds: U64;
  signature: Hex | Uint8Array;
  signer?: Signer;
  encoding?: Encoding;
  crypto?: Crypto;
}

export declare function signVoucher(
  sign: SignFn,
  args: { genesis: Hex; sessionId: U64; cumulativeSeconds: U64; signer?: Signer; encoding?: Encoding; crypto?: Crypto },
): Promise<Signed & { signature: Hex }>;
export declare function signCloseIntent(
  sign: SignFn,
  args: { genesis: Hex; sessionId: U64; cumulativeSeconds: U64; signer?: Signer; encoding?: Encoding; crypto?: Crypto },
): Promise<Signed & { signature: Hex }>;

export interface SignedFields {
  session_id: number;
  cumulative_seconds: number;
  encoding: Encoding;
  crypto: Crypto;
  signer: Signer;
  signature: Hex;
}
export declare function heartbeatMessage(voucher: Signed): SignedFields & { v: 1; type: 'heartbeat' };
export declare function closeMessage(intent: Signed): SignedFields & { v: 1; type: 'close' };
export declare function closeIntentFields(intent: Signed): SignedFields;
export declare function voucherBody(voucher: Signed): Omit<SignedFields, 'session_id'>;

export interface LoginFields {
  account: Address;
  signature: Hex | Uint8Array;
  crypto?: Crypto;
  encoding?: Encoding;
  sessionId?: U64;
}
export declare function authMessage(fields: LoginFields): {
  v: 1; type: 'auth'; account: Address; crypto: Crypto; signature: Hex; encoding: Encoding; session_id?: number;
};

/** The sidecars a stream's on-chain endpoint names: its ws(s) URLs, space-separated, the origin first. */
export declare function streamEndpoints(endpoint: string | null | undefined): string[];
/** The sidecar a viewer watches at: one of `streamEndpoints(endpoint)`, the same for the same seed; `null` if none. */
export declare function pickEndpoint(endpoint: string | null | undefined, seed: string): string | null;
/** A login: turns the challenge's payload into the `auth` message's fields. */
export type Login = (payload: Uint8Array) => Promise<LoginFields>;
export declare function accountLogin(account: {
  address: Address; crypto: Crypto; signBytes(payload: Uint8Array): Promise<Hex | Uint8Array>;
}): Login;
export declare function sessionLogin(key: { publicKey: Hex; sign(payload: Uint8Array): Hex | Uint8Array | Promise<Hex | Uint8Array> }, sessionId: U64): Login;
export declare function sidecarHttpOrigin(sidecarUrl: string): string;

export declare const ERROR_TEXT: Record<string, string>;

export declare class SidecarError extends Error {
  code: string;
  request?: string;
  constructor(code: string, message: string, request?: string);
}

/** A server message: `{v: 1, type, …}` (docs/SIDECAR.md "Protocol"). */
export type ServerMessage = { v: 1; type: string; [field: string]: unknown };

/** A STUN/TURN server as RTCIceServer takes it; the sidecar's carry a TURN REST credential. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export declare class SidecarClient {
  constructor(url: string);
  readonly url: string;
  genesis: Hex | null;
  account: string | null;
  closed: boolean;
  readonly open: boolean;
  /** Every server message by its `type`, `*` for all, `close` when the connection ends. */
  on(type: string, fn: (message: ServerMessage) => void): () => void;
  /** Connects and logs in; refuses a challenge for another chain or another sidecar. */
  connect(login: Login, options: { genesis: Hex; timeoutMs?: number }): Promise<ServerMessage>;
  send(message: Record<string, unknown>): void;
  request(message: Record<string, unknown>, replyTypes: string[], options?: { timeoutMs?: number }): Promise<ServerMessage>;
  heartbeat(voucher: Signed): void;
  closeSession(intent: Signed, options?: { timeoutMs?: number }): Promise<ServerMessage>;
  watch(streamId: U64, sessionId: U64, options?: { timeoutMs?: number }): Promise<ServerMessage>;
  publish(streamId: U64, options?: { timeoutMs?: number }): Promise<ServerMessage>;
  leave(): void;
  chat(text: string): void;
  /** `{token, whep_url, …}`, with TURN also `ice_servers` and `ice_expires_at` (unix seconds). */
  watchToken(options?: { timeoutMs?: number }): Promise<ServerMessage>;
  publishToken(streamId: U64, options?: { rotate?: boolean; timeoutMs?: number }): Promise<ServerMessage>;
  /** Fresh TURN credentials for a member of a room; `[]` and `null` without TURN. */
  iceServers(options?: { timeoutMs?: number }): Promise<ServerMessage & { ice_servers: IceServer[]; ice_expires_at: number | null }>;
  close(): void;
}

export interface WhepPlayerOptions {
  whepUrl: string;
  token: string;
  sign: SignFn;
  genesis: Hex;
  sessionId: U64;
  startSeconds?: number;
  watchedSeconds?: () => number;
  intervalMs?: number;
  /** The `ice_servers` of the `watch_token` reply. */
  iceServers?: IceServer[];
  /** `'relay'`: media through a TURN relay only. */
  iceTransportPolicy?: 'all' | 'relay';
  fetch?: typeof fetch;
  RTCPeerConnection?: unknown;
}
export declare class WhepPlayer {
  constructor(options: WhepPlayerOptions);
  start(): Promise<RTCPeerConnection>;
  target(): number;
  tick(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The ICE servers of RFC 9725 `Link` header values (one, or several comma-joined): one
 * `{urls: [url], username?, credential?}` per `rel="ice-server"` link.
 */
export declare function parseIceServerLinks(headerValue: string | null | undefined): IceServer[];

/** polkadot.js `types` for `ApiPromise.create`. */
export declare const vilokanamTypes: Record<string, unknown>;
/** polkadot.js `rpc` for `ApiPromise.create`: `api.rpc.vilokanam.*`. */
export declare const vilokanamRpc: { vilokanam: Record<string, unknown> };
