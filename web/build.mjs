// Builds the pages into dist/: the static files of public/ as they are, and one ES module per
// page under dist/assets/ (shared code split into chunks), bundled and minified by esbuild.
//
//   node build.mjs            build once
//   node build.mjs --watch    rebuild on change (development)
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const watch = process.argv.includes('--watch');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
cpSync(join(root, 'public'), dist, { recursive: true });

// @vilokanam/sdk is linked from ../sdk (file:../sdk), which has its own node_modules for its
// tests: its imports of @polkadot/* would resolve there and bundle a second copy. Resolve every
// @polkadot/* import from the pages' own node_modules instead: one copy, the pages' versions.
const onePolkadot = {
  name: 'one-polkadot',
  setup(build) {
    build.onResolve({ filter: /^@polkadot\// }, (args) => {
      if (args.pluginData === 'one-polkadot' || args.resolveDir.startsWith(join(root, 'node_modules'))) return undefined;
      return build.resolve(args.path, { kind: args.kind, resolveDir: root, pluginData: 'one-polkadot' });
    });
  },
};

const options = {
  absWorkingDir: root,
  plugins: [onePolkadot],
  entryPoints: {
    home: 'src/pages/home.js',
    stream: 'src/pages/stream.js',
    creator: 'src/pages/creator.js',
  },
  outdir: 'dist/assets',
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  // BigInt literals and top-level await: every current Chromium, Firefox and Safari.
  target: ['chrome111', 'firefox115', 'safari16.4'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'info',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
