// The page key: an sr25519 key this page generates and keeps, one per (chain, account). It signs
// what would otherwise need a wallet prompt every second — vouchers, close intents, delegate calls
// under the daily allowance, the sidecar login — and each of those payloads names its session or
// its allowance and nonce, so a signature is good for nothing else (docs/WALLET.md). Its seed
// stays in this origin's localStorage and is never sent anywhere; only the public key is.

import { Keyring } from '@polkadot/keyring';
import { hexToU8a, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, randomAsU8a } from '@polkadot/util-crypto';

const SEED = /^0x[0-9a-f]{64}$/i;

/** The localStorage item holding the seed of the page key of `address` on chain `genesis`. */
export function pageKeyName(genesis, address) {
  return `vilokanam.pagekey.${genesis}.${address}`;
}

/**
 * The page key of `address` on chain `genesis`: the stored one, or a new one from 32 random
 * bytes. `{address (SS58), publicKey (0x hex), sign(u8a) → 0x 64-byte signature of the bytes as
 * they are}`. `storage` is a `localStorage`-like object (a stand-in in tests).
 */
export async function pageKey(genesis, address, storage = globalThis.localStorage) {
  await cryptoWaitReady();
  const name = pageKeyName(genesis, address);
  let seed = storage.getItem(name);
  if (!SEED.test(seed ?? '')) {
    seed = u8aToHex(randomAsU8a(32));
    storage.setItem(name, seed);
  }
  const pair = new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromSeed(hexToU8a(seed));
  return {
    address: pair.address,
    publicKey: u8aToHex(pair.publicKey),
    sign: (payload) => u8aToHex(pair.sign(payload)),
  };
}
