// Accounts that can sign: a browser wallet extension (polkadot.js extension API) when present,
// and — on development chains only — the well-known development accounts (//Alice, //Bob, …).
//
// Every account has the same shape:
//   { id, address, name, source: 'extension' | 'dev', crypto: 'sr25519' | 'ed25519',
//     signBytes(u8a) → '0x…' (64-byte signature of `<Bytes>` ++ u8a ++ `</Bytes>`, i.e. the
//                            "wrapped" encoding both the sidecar and the chain accept),
//     txSigner() → { signer, options } for `tx.signAndSend(signer, options)` }

import { Keyring } from '@polkadot/keyring';
import { hexToU8a, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';

export const DEV_NAMES = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'];
export const APP_NAME = 'Vilokanam';

let devCache = null;

/** The development accounts (sr25519 keys derived from the well-known dev phrase). */
export async function devAccounts() {
  if (devCache) return devCache;
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  devCache = DEV_NAMES.map((name) => {
    const pair = keyring.createFromUri(`//${name}`);
    return {
      id: `//${name}`,
      address: pair.address,
      name: `//${name}`,
      source: 'dev',
      crypto: 'sr25519',
      async signBytes(payload) {
        return u8aToHex(pair.sign(u8aWrapBytes(payload)));
      },
      async txSigner() {
        return { signer: pair, options: {} };
      },
    };
  });
  return devCache;
}

/** Whether a wallet extension injected itself into the page. */
export function hasExtension() {
  return Boolean(window.injectedWeb3 && Object.keys(window.injectedWeb3).length > 0);
}

/** A signature from `signRaw`, as 64 bytes (some wallets prefix the MultiSignature type byte). */
function plainSignature(hex) {
  const bytes = hexToU8a(hex);
  if (bytes.length === 65 && bytes[0] <= 2) return u8aToHex(bytes.subarray(1));
  return u8aToHex(bytes);
}

/**
 * Asks the wallet extensions for access (the wallet shows a prompt the first time) and returns
 * their sr25519 / ed25519 accounts.
 */
export async function extensionAccounts() {
  const { web3Enable, web3Accounts, web3FromSource } = await import('@polkadot/extension-dapp');
  const extensions = await web3Enable(APP_NAME);
  if (extensions.length === 0) return [];
  const accounts = await web3Accounts({ ss58Format: 42 });
  return accounts
    .filter((a) => a.type === 'sr25519' || a.type === 'ed25519')
    .map((a) => {
      const injector = () => web3FromSource(a.meta.source);
      return {
        id: `ext:${a.meta.source}:${a.address}`,
        address: a.address,
        name: `${a.meta.name ?? 'account'} (${a.meta.source})`,
        source: 'extension',
        crypto: a.type,
        async signBytes(payload) {
          const { signer } = await injector();
          if (!signer?.signRaw) throw new Error('this wallet cannot sign raw bytes');
          const { signature } = await signer.signRaw({
            address: a.address,
            data: u8aToHex(payload),
            type: 'bytes',
          });
          return plainSignature(signature);
        },
        async txSigner() {
          const { signer } = await injector();
          return { signer: a.address, options: { signer } };
        },
      };
    });
}
