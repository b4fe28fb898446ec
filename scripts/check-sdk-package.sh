#!/usr/bin/env bash
# @vilokanam/sdk as npm publishes it: `npm pack` lists only the package's own files, and the
# packed tarball installs (with its peer dependencies, from the registry) and imports in an
# empty folder, types included, and its PAPI descriptors work with polkadot-api there. Run by
# scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$ROOT/sdk"
npm pack --silent --json --ignore-scripts --pack-destination "$work" > "$work/pack.json"
node --input-type=module - "$work/pack.json" <<'JS'
import { readFileSync } from 'node:fs';
const [pack] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const files = pack.files.map((f) => f.path).sort();
const allowed = /^(package\.json|README\.md|index\.d\.ts|src\/[a-z]+\.js|papi\/dist\/[\w-]+\.(js|d\.ts))$/;
const stray = files.filter((f) => !allowed.test(f));
if (stray.length) throw new Error(`npm pack would publish files that are not the package's: ${stray.join(', ')}`);
for (const f of ['package.json', 'README.md', 'index.d.ts', 'src/index.js', 'papi/dist/index.js', 'papi/dist/index.d.ts']) {
  if (!files.includes(f)) throw new Error(`npm pack misses ${f}`);
}
console.log(`${pack.filename}: ${files.length} files (${files.join(', ')})`);
JS
tarball="$work/$(node -e "console.log(JSON.parse(require('fs').readFileSync('$work/pack.json'))[0].filename)")"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$tarball" polkadot-api@2.2.2
METADATA="$ROOT/chain-specs/metadata.scale" node --input-type=module -e "
import * as sdk from '@vilokanam/sdk';
import { vilokanamRpc } from '@vilokanam/sdk/rpc';
import { vilokanam } from '@vilokanam/sdk/papi';
import { createClient } from 'polkadot-api';
import { existsSync, readFileSync } from 'node:fs';
const genesis = '0x' + '01'.repeat(32);
if (sdk.voucherPayload(genesis, 1, 2).length !== 65) throw new Error('voucherPayload');
if (!vilokanamRpc.vilokanam.stream || typeof sdk.SidecarClient !== 'function') throw new Error('exports');
if (!existsSync('node_modules/@vilokanam/sdk/index.d.ts')) throw new Error('types');
if (!existsSync('node_modules/@vilokanam/sdk/papi/dist/index.d.ts')) throw new Error('PAPI types');
// The descriptors carry the checked-in metadata byte for byte and know our calls, and a PAPI
// client takes them.
const metadata = readFileSync(process.env.METADATA);
if (!Buffer.from(await vilokanam.getMetadata()).equals(metadata)) throw new Error('PAPI metadata');
if ((await vilokanam.descriptors).tx.Ticks?.settle_batch === undefined) throw new Error('PAPI calls');
const client = createClient(() => ({ send() {}, disconnect() {} }));
client.getTypedApi(vilokanam);
client.destroy();
console.log('the packed @vilokanam/sdk installs and imports in an empty folder');
"
