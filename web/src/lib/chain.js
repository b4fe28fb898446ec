// The Vilokanam node through polkadot.js: connection, the custom `vilokanam_*` JSON-RPC,
// transactions with readable errors, and the voucher / authentication payloads.

import { ApiPromise, WsProvider } from '@polkadot/api';
import { bnToU8a, hexToU8a, stringToU8a, u8aConcat } from '@polkadot/util';
import { setToken } from './format.js';

/** `(*b"vilokanam/tick/v1", genesis, session_id: u64, cumulative_seconds: u64)`, SCALE. */
export const VOUCHER_TAG = stringToU8a('vilokanam/tick/v1');
/** `(*b"vilokanam/auth/v1", genesis, nonce)`, SCALE. */
export const AUTH_TAG = stringToU8a('vilokanam/auth/v1');

function u64le(n) {
  return bnToU8a(BigInt(n), { bitLength: 64, isLe: true });
}

/** The payload of a voucher (`pallet_ticks::Pallet::voucher_payload`), 65 bytes. */
export function voucherPayload(genesis, sessionId, cumulativeSeconds) {
  return u8aConcat(VOUCHER_TAG, hexToU8a(genesis), u64le(sessionId), u64le(cumulativeSeconds));
}

/** The payload answering the sidecar's challenge, 81 bytes. */
export function authPayload(genesis, nonce) {
  return u8aConcat(AUTH_TAG, hexToU8a(genesis), hexToU8a(nonce));
}

/** A transaction that failed: `message` is readable ("ticks.Banned: The stream's creator…"). */
export class TxError extends Error {
  constructor(message, { section, name } = {}) {
    super(message);
    this.name = 'TxError';
    this.section = section;
    this.errorName = name;
  }
}

/** A connected chain: `api`, the custom RPC, categories and token metadata. */
export class Chain {
  constructor(api, provider, url) {
    this.api = api;
    this.provider = provider;
    this.url = url;
    this.genesis = api.genesisHash.toHex();
  }

  /**
   * Connects (retrying in the background until the node answers). `onWaiting` is called once
   * if the node has not answered after `waitingMs`.
   */
  static async connect(url, { onWaiting, waitingMs = 4000 } = {}) {
    const provider = new WsProvider(url, 2500);
    const timer = setTimeout(() => onWaiting?.(), waitingMs);
    try {
      const api = await ApiPromise.create({ provider, noInitWarn: true });
      const chain = new Chain(api, provider, url);
      const decimals = api.registry.chainDecimals?.[0];
      const symbol = api.registry.chainTokens?.[0];
      setToken(decimals, symbol);
      return chain;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the node says it is a development or local chain. */
  async isDevChain() {
    const type = await this.api.rpc.system.chainType();
    return type.isDevelopment || type.isLocal;
  }

  /** Calls a custom JSON-RPC method (`vilokanam_*`). */
  rpc(method, ...params) {
    return this.provider.send(method, params);
  }

  liveStreams(category = null, offset = 0, limit = 100) {
    return this.rpc('vilokanam_liveStreams', category, offset, limit);
  }

  searchStreams(query, offset = 0, limit = 100) {
    return this.rpc('vilokanam_searchStreams', query, offset, limit);
  }

  stream(id) {
    return this.rpc('vilokanam_stream', Number(id));
  }

  streamsByCreator(account, offset = 0, limit = 100) {
    return this.rpc('vilokanam_streamsByCreator', account, offset, limit);
  }

  session(id, cumulativeSeconds = null) {
    return this.rpc('vilokanam_session', Number(id), cumulativeSeconds);
  }

  quote(streamId, seconds) {
    return this.rpc('vilokanam_quote', Number(streamId), Number(seconds));
  }

  earnings(account) {
    return this.rpc('vilokanam_earnings', account);
  }

  following(account) {
    return this.rpc('vilokanam_following', account);
  }

  /** Calls `cb(stats)` now and at every new best block; resolves to an unsubscribe function. */
  async subscribeStream(id, cb) {
    const type = 'vilokanam_streamStats';
    const subId = await this.provider.subscribe(type, 'vilokanam_subscribeStream', [Number(id)], (err, value) => {
      if (!err) cb(value);
    });
    return () => this.provider.unsubscribe(type, 'vilokanam_unsubscribeStream', subId).catch(() => {});
  }

  /** Calls `cb(number)` at every new best head; resolves to an unsubscribe function. */
  subscribeHeads(cb) {
    return this.api.rpc.chain.subscribeNewHeads((header) => cb(header.number.toNumber()));
  }

  /** `Map<id, name>` of the categories (`Streams::Categories`). */
  async categories() {
    const entries = await this.api.query.streams.categories.entries();
    const map = new Map();
    for (const [key, name] of entries) {
      map.set(key.args[0].toNumber(), name.unwrap().toUtf8());
    }
    return new Map([...map.entries()].sort((a, b) => a[0] - b[0]));
  }

  /** The free balance of `address`, subscribed: resolves to an unsubscribe function. */
  subscribeFree(address, cb) {
    return this.api.query.system.account(address, (info) => cb(info.data.free.toBigInt()));
  }

  /** A readable message for a `DispatchError`. */
  describeError(dispatchError) {
    if (dispatchError.isModule) {
      try {
        const { section, name, docs } = this.api.registry.findMetaError(dispatchError.asModule);
        return new TxError(`${section}.${name}: ${docs.join(' ').trim()}`, { section, name });
      } catch {
        // fall through
      }
    }
    return new TxError(dispatchError.toString());
  }

  /**
   * Signs `tx` with `account` (see wallet.js), submits it and resolves when it is in a block:
   * `{blockHash, events}` (the events of this extrinsic). Rejects with a `TxError` on a
   * dispatch error (also inside `sudo`), an invalid or dropped transaction, or a refusal to sign.
   * `onStatus(text)` follows the progress.
   */
  async send(tx, account, onStatus) {
    onStatus?.('waiting for signature…');
    const { signer, options } = await account.txSigner();
    return new Promise((resolve, reject) => {
      let unsub = null;
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        if (unsub) unsub();
        fn(value);
      };
      tx.signAndSend(signer, { ...options, nonce: -1 }, (result) => {
        const { status, dispatchError, events } = result;
        if (status.isReady || status.isBroadcast) onStatus?.('submitted, waiting for a block…');
        if (status.isInBlock || status.isFinalized) {
          const blockHash = (status.isInBlock ? status.asInBlock : status.asFinalized).toHex();
          if (dispatchError) return finish(reject, this.describeError(dispatchError));
          for (const { event } of events) {
            if (this.api.events.sudo?.Sudid?.is(event) && event.data[0].isErr) {
              return finish(reject, this.describeError(event.data[0].asErr));
            }
          }
          onStatus?.('included in a block');
          finish(resolve, { blockHash, events });
        } else if (status.isInvalid || status.isDropped || status.isUsurped) {
          finish(reject, new TxError(`the transaction was ${status.type.toLowerCase()}`));
        }
      })
        .then((u) => {
          unsub = u;
          if (done) u();
        })
        .catch((e) => finish(reject, e instanceof TxError ? e : new TxError(e?.message || String(e))));
    });
  }

  /** The first event of `events` (from `send`) that is `section.method`, or null. */
  findEvent(events, section, method) {
    const type = this.api.events[section]?.[method];
    const found = events.find(({ event }) => type?.is(event));
    return found ? found.event : null;
  }

  /** `MultiSignature` for `close_session`'s final voucher. */
  finalVoucher(cumulativeSeconds, crypto, signature) {
    const key = crypto === 'ed25519' ? 'Ed25519' : 'Sr25519';
    return { cumulativeSeconds, encoding: 'Wrapped', signature: { [key]: signature } };
  }
}

