// The general (authorized) transaction the page submits for delegate calls and close intents:
// extrinsic format 5, preamble 0x45, extension version 0, then each transaction extension's
// explicit data in metadata order, then the call — checked against the extension list of real
// metadata (polkadot.js' bundled Substrate metadata), not against a hard-coded byte string.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metadata, TypeRegistry, expandMetadata } from '@polkadot/types';
import { GeneralExtrinsic } from '@polkadot/types/extrinsic/v5/GeneralExtrinsic';
import { compactFromU8a, u8aConcat, u8aToHex } from '@polkadot/util';
import staticMetadata from '@polkadot/types-support/metadata/static-substrate';
import { generalExtrinsic } from '../../src/lib/chain.js';

/**
 * The explicit data an authorized call carries, per extension: immortal era, nonce 0, tip 0 (and
 * no fee asset), metadata hash check disabled; nothing for the others. An extension missing here
 * fails the test: decide what it must carry.
 */
const EXPLICIT = {
  AuthorizeCall: [],
  CheckNonZeroSender: [],
  CheckSpecVersion: [],
  CheckTxVersion: [],
  CheckGenesis: [],
  CheckMortality: [0x00],
  CheckEra: [0x00],
  CheckNonce: [0x00],
  CheckWeight: [],
  ChargeTransactionPayment: [0x00],
  ChargeAssetTxPayment: [0x00, 0x00],
  CheckMetadataHash: [0x00],
  WeightReclaim: [],
};

function substrate() {
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, staticMetadata);
  registry.setMetadata(metadata);
  return { registry, tx: expandMetadata(registry, metadata).tx };
}

test('length prefix, 0x45, extension version 0, explicit data in metadata order, then the call', () => {
  const { registry, tx } = substrate();
  const call = tx.system.remark('0x0102030405');
  const bytes = generalExtrinsic(registry, call);

  const [offset, length] = compactFromU8a(bytes);
  assert.equal(offset + length.toNumber(), bytes.length, 'the compact prefix is the length of the rest');
  const body = bytes.subarray(offset);
  assert.equal(body[0], 0x45, 'extrinsic version 5, general transaction');
  assert.equal(body[1], 0x00, 'transaction extension version 0');

  const names = registry.signedExtensions;
  assert.ok(names.length > 3, `the metadata lists the extensions (${names})`);
  for (const name of names) assert.ok(name in EXPLICIT, `no expectation for extension ${name}`);
  const explicit = Uint8Array.from(names.flatMap((name) => EXPLICIT[name]));
  assert.equal(u8aToHex(body), u8aToHex(u8aConcat([0x45, 0x00], explicit, call.toU8a())));
});

test('the same bytes as polkadot.js\' own GeneralExtrinsic (where it knows every extension)', () => {
  const { registry, tx } = substrate();
  const call = tx.balances.transferKeepAlive('5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY', 12_345n);
  const theirs = new GeneralExtrinsic(registry, { payload: { method: call }, transactionExtensionVersion: 0 });
  assert.equal(u8aToHex(generalExtrinsic(registry, call)), u8aToHex(theirs.toU8a()));
});
