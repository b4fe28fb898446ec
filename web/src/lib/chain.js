// The Vilokanam node through polkadot.js: connection, the custom `vilokanam_*` JSON-RPC and
// transactions with readable errors (signed, or authorized general transactions). The payloads
// the page signs (docs/WALLET.md) come from @vilokanam/sdk.

import { ApiPromise, WsProvider } from '@polkadot/api';
import { compactAddLength, hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import { blake2AsHex } from '@polkadot/util-crypto';
import { delegatePayload } from '@vilokanam/sdk';
import { setToken } from './format.js';

/** Extrinsic format 5, general transaction (no signature: a call authorizes itself). */
export const GENERAL_EXTRINSIC_PREAMBLE = 0x45;
/** The version of the transaction extensions a general transaction carries. */
export const TRANSACTION_EXTENSION_VERSION = 0;

/**
 * The transaction extensions a general transaction carries, in metadata order: those listed for
 * extension version 0 when the metadata says (v16), else all of them.
 */
function generalExtensions(registry) {
  const { transactionExtensions, transactionExtensionsByVersion } = registry.metadata.extrinsic;
  for (const [version, indices] of transactionExtensionsByVersion ?? []) {
    if (version.toNumber() === TRANSACTION_EXTENSION_VERSION) {
      return indices.map((i) => transactionExtensions[i.toNumber()]);
    }
  }
  return [...transactionExtensions];
}

/**
 * The bytes of an extrinsic v5 general transaction of `call` (a `Call`, e.g. `tx.method`):
 * compact length ++ 0x45 ++ extension version 0 ++ every extension's explicit data ++ call.
 *
 * The explicit data of each extension is the default value of its type in the metadata: that is
 * exactly what an authorized call needs and nothing more — an immortal era (0x00), nonce 0 and
 * tip 0 (compact 0x00), the metadata hash check disabled (0x00), nothing for the others. Built
 * from the metadata rather than polkadot.js' table of known extensions, which skips the ones it
 * does not know and would then silently drop their bytes.
 */
export function generalExtrinsic(registry, call) {
  const explicit = generalExtensions(registry).map(({ type }) =>
    registry.createTypeUnsafe(registry.createLookupType(type), []).toU8a());
  return compactAddLength(u8aConcat(
    new Uint8Array([GENERAL_EXTRINSIC_PREAMBLE, TRANSACTION_EXTENSION_VERSION]),
    ...explicit,
    call.toU8a(),
  ));
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

  /** The account's allowance (amounts as decimal strings) or null. */
  allowance(account) {
    return this.rpc('vilokanam_allowance', account);
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

  /**
   * Submits `tx` (an unsigned `api.tx.…` of a call that authorizes itself, such as
   * `ticks.delegate` or `ticks.submitCloseIntent`) as a general transaction: no account signs
   * it, no nonce, no fee. Resolves and rejects like `send`.
   */
  submitAuthorized(tx, onStatus) {
    const bytes = generalExtrinsic(this.api.registry, tx.method);
    const hash = blake2AsHex(bytes);
    // Through the raw subscription: polkadot.js would decode and re-encode the extrinsic.
    const type = 'author_extrinsicUpdate';
    return new Promise((resolve, reject) => {
      let subId = null;
      let done = false;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        if (subId !== null) this.provider.unsubscribe(type, 'author_unwatchExtrinsic', subId).catch(() => {});
        fn(value);
      };
      onStatus?.('submitting…');
      this.provider.subscribe(type, 'author_submitAndWatchExtrinsic', [u8aToHex(bytes)], (err, status) => {
        if (err) return finish(reject, new TxError(err.message || String(err)));
        const block = status?.inBlock ?? status?.finalized;
        if (block) {
          this.extrinsicEvents(block, hash).then((r) => {
            onStatus?.('included in a block');
            finish(resolve, r);
          }, (e) => finish(reject, e));
        } else if (status === 'ready' || status?.broadcast) {
          onStatus?.('submitted, waiting for a block…');
        } else if (status === 'invalid' || status === 'dropped' || status?.usurped) {
          finish(reject, new TxError(`the transaction was ${typeof status === 'string' ? status : 'usurped'}`));
        }
      })
        .then((id) => {
          subId = id;
          if (done) this.provider.unsubscribe(type, 'author_unwatchExtrinsic', id).catch(() => {});
        })
        // The pool refuses an invalid transaction at once: "1010: Invalid Transaction: …".
        .catch((e) => finish(reject, new TxError(e?.message || String(e))));
    });
  }

  /**
   * `{blockHash, events}` of the extrinsic whose hash is `hash` in block `blockHash`; rejects
   * with a `TxError` if it failed.
   */
  async extrinsicEvents(blockHash, hash) {
    const { block } = await this.rpc('chain_getBlock', blockHash);
    const index = block.extrinsics.findIndex((x) => blake2AsHex(hexToU8a(x)) === hash);
    if (index < 0) throw new TxError(`the transaction is not in block ${blockHash}`);
    const records = await (await this.api.at(blockHash)).query.system.events();
    const events = records.filter(({ phase }) => phase.isApplyExtrinsic && phase.asApplyExtrinsic.eqn(index));
    const failed = events.find(({ event }) => this.api.events.system.ExtrinsicFailed.is(event));
    if (failed) throw this.describeError(failed.event.data.dispatchError);
    return { blockHash, events };
  }

  /**
   * A delegate call for `viewer` under `allowance` (from `allowance()`: its id and next nonce),
   * signed by `key` (the allowance's delegate, see pagekey.js): `op` is `{OpenSession: {…}}` or
   * `{TopUp: {…}}`. Resolves like `send`; rejects with the operation's error when
   * `DelegateCallExecuted` reports one (its fee is charged all the same).
   */
  async delegate(viewer, allowance, op, key, onStatus) {
    const opType = this.api.tx.ticks.delegate.meta.args.find((a) => a.name.toString() === 'op').type.toString();
    const opU8a = this.api.createType(opType, op).toU8a();
    const signature = key.sign(delegatePayload(this.genesis, viewer, allowance.id, allowance.nonce, opU8a));
    const tx = this.api.tx.ticks.delegate(viewer, allowance.id, allowance.nonce, op, 'Raw', { Sr25519: signature });
    const result = await this.submitAuthorized(tx, onStatus);
    const executed = this.findEvent(result.events, 'ticks', 'DelegateCallExecuted');
    if (!executed) throw new TxError('the delegate call reported nothing (no DelegateCallExecuted event)');
    if (executed.data.result.isErr) {
      const e = this.describeError(executed.data.result.asErr);
      e.message += ` (the call's fee, ${executed.data.fee.toString()} plancks, was charged)`;
      throw e;
    }
    return result;
  }

  /** What a delegate call doing `op` for `viewer` costs in fees, about (a signed call's fee). */
  async delegateFeeEstimate(viewer, op) {
    const tx = this.api.tx.ticks.delegate(viewer, 0, 0, op, 'Raw', { Sr25519: new Uint8Array(64) });
    return (await tx.paymentInfo(viewer)).partialFee.toBigInt();
  }

  /** The number of the best block. */
  async bestNumber() {
    return (await this.api.rpc.chain.getHeader()).number.toNumber();
  }

  /**
   * Resolves to `{blockHash, event}` for the first event `match(event)` accepts in the blocks
   * from number `from` on, every block read in turn as new heads arrive (none is skipped);
   * rejects after `timeoutMs`.
   */
  waitForEvent(match, { from, timeoutMs }) {
    return new Promise((resolve, reject) => {
      let next = from;
      let best = -1;
      let scanning = false;
      let done = false;
      let unsub = null;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsub?.();
        fn(value);
      };
      const timer = setTimeout(() => finish(reject, new Error('timed out waiting for the chain')), timeoutMs);
      const scan = async () => {
        if (scanning) return;
        scanning = true;
        try {
          while (!done && next <= best) {
            const hash = (await this.api.rpc.chain.getBlockHash(next)).toHex();
            const records = await (await this.api.at(hash)).query.system.events();
            const found = records.find(({ event }) => match(event));
            if (found) return finish(resolve, { blockHash: hash, event: found.event });
            next += 1;
          }
        } catch {
          // The node hiccuped: the next head scans again from `next`.
        } finally {
          scanning = false;
        }
      };
      this.subscribeHeads((n) => {
        best = Math.max(best, n);
        scan();
      }).then((u) => {
        unsub = u;
        if (done) u();
      }, (e) => finish(reject, e));
    });
  }

  /** The first event of `events` (from `send`) that is `section.method`, or null. */
  findEvent(events, section, method) {
    const type = this.api.events[section]?.[method];
    const found = events.find(({ event }) => type?.is(event));
    return found ? found.event : null;
  }
}
