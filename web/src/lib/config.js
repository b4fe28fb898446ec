// Where the chain node and the sidecar are, and whether development accounts may be offered.
//
// Sources, later ones winning:
//   1. defaults: node ws://127.0.0.1:9944, sidecar at the same origin under /ws;
//   2. GET /config.json, served by the sidecar next to the pages:
//      {"node_url": "ws://…", "ws_path": "/ws", "dev": true, "relayer": "5…" | null, …};
//   3. query parameters, for development against separately served pages:
//      ?node=ws://127.0.0.1:9944  ?sidecar=ws://127.0.0.1:7070/ws  ?dev=1|0
//      Only where the pages are not a production deployment: a /config.json that says
//      `"dev": false` makes the pages ignore them, so that a link cannot point a visitor's
//      page (and its wallet's signatures) at another node or sidecar, or offer dev accounts.
// When neither /config.json nor ?dev= says whether the chain is a development chain, the chain
// itself is asked (system_chainType: Development or Local).

import { pickEndpoint } from '@vilokanam/sdk';

/** The query parameters carried over to every link between the pages. */
export const KEPT_PARAMS = ['node', 'sidecar', 'dev'];

const DEFAULT_NODE_URL = 'ws://127.0.0.1:9944';
const DEFAULT_WS_PATH = '/ws';

/** The WebSocket URL of `path` on the page's own origin. */
export function sameOriginWs(path) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/**
 * The configuration: `{nodeUrl, sidecarUrl, sidecarFromQuery, dev, served, file}` where `dev` is
 * `true`, `false` or `null` (unknown: ask the chain), `served` tells whether /config.json was
 * found and `file` is its content (e.g. `relayer`, the sidecar's relayer account) or null.
 */
export async function loadConfig() {
  const query = new URLSearchParams(window.location.search);
  let file = null;
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (res.ok && (res.headers.get('content-type') ?? '').includes('json')) file = await res.json();
  } catch {
    // No config.json (pages served by something else than the sidecar): defaults apply.
  }
  return resolveConfig(file, query, sameOriginWs);
}

/**
 * The configuration from `/config.json` (`file`, or null) and the page's query parameters;
 * `sameOrigin(path)` is the page's own WebSocket URL for `path`. Query overrides count only
 * when `file` does not declare a production deployment (`dev: false`).
 */
export function resolveConfig(file, query, sameOrigin) {
  const overrides = file?.dev !== false;
  const param = (key) => (overrides ? query.get(key) : null);
  const nodeUrl = param('node') || file?.node_url || DEFAULT_NODE_URL;
  const sidecarUrl = param('sidecar') || sameOrigin(file?.ws_path || DEFAULT_WS_PATH);
  let dev = typeof file?.dev === 'boolean' ? file.dev : null;
  if (overrides && query.has('dev')) dev = ['1', 'true', 'yes'].includes(query.get('dev'));
  const sidecarFromQuery = overrides && query.has('sidecar');
  return { nodeUrl, sidecarUrl, sidecarFromQuery, dev, served: file !== null, file };
}

/** `path` (e.g. `/stream.html`) with `params` and the kept query parameters of this page. */
export function pageUrl(path, params = {}) {
  const current = new URLSearchParams(window.location.search);
  // (Carried even where ignored: harmless, and the link stays what the visitor was given.)
  const url = new URL(path, window.location.origin);
  for (const key of KEPT_PARAMS) {
    if (current.has(key)) url.searchParams.set(key, current.get(key));
  }
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.pathname + url.search;
}

/** Rewrites the links marked `data-keep-query` so that they carry the kept parameters. */
export function keepQueryOnLinks(root = document) {
  for (const a of root.querySelectorAll('a[data-keep-query]')) {
    a.setAttribute('href', pageUrl(a.getAttribute('href')));
  }
}

/**
 * The sidecar a viewer of `stream` connects to: a `?sidecar=` override, else one of the
 * WebSocket URLs its registered endpoint names (an origin and its edges, picked by `seed`:
 * `pickEndpoint` of @vilokanam/sdk), else the configured (same-origin) one.
 */
export function sidecarForStream(config, stream, seed = '') {
  if (config.sidecarFromQuery) return config.sidecarUrl;
  return pickEndpoint(stream?.endpoint, seed) ?? config.sidecarUrl;
}

/** The longest endpoint the chain stores (`MaxEndpointLen`), in bytes. */
export const MAX_ENDPOINT_BYTES = 256;

/**
 * The endpoint a creator registers for a stream published at `sidecarUrl`: that URL, then the
 * edges its /config.json lists (`edge_urls`), space-separated, as many as fit in
 * `MAX_ENDPOINT_BYTES`. Viewers' pages pick one of them (`sidecarForStream`).
 */
export function streamEndpointFor(sidecarUrl, edgeUrls = []) {
  let endpoint = sidecarUrl;
  for (const url of edgeUrls ?? []) {
    if (!/^wss?:\/\/\S+$/i.test(url) || url === sidecarUrl) continue;
    const next = `${endpoint} ${url}`;
    if (new TextEncoder().encode(next).length > MAX_ENDPOINT_BYTES) break;
    endpoint = next;
  }
  return endpoint;
}

/** This browser's seed for `pickEndpoint`: random once, then kept, so a viewer stays on one
 * sidecar of a stream across reloads. `storage`: a `localStorage`-like object. */
export function endpointSeed(storage = globalThis.localStorage) {
  const key = 'vilokanam.endpointSeed';
  let seed = storage?.getItem(key);
  if (!seed) {
    seed = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
    storage?.setItem(key, seed);
  }
  return seed;
}
