// What every page does first: read the configuration, connect to the node, show the connection
// state in the header, and decide whether development accounts may be offered.

import { Chain } from './chain.js';
import { keepQueryOnLinks, loadConfig } from './config.js';
import { byId, errorText, setStatus } from './dom.js';

/** Resolves to `{config, chain, dev}`; shows progress and failures in `#chain-status`. */
export async function startPage() {
  keepQueryOnLinks();
  const status = byId('chain-status');
  const config = await loadConfig();
  setStatus(status, `Connecting to the chain at ${config.nodeUrl}…`, 'busy');
  let chain;
  try {
    chain = await Chain.connect(config.nodeUrl, {
      onWaiting: () => setStatus(status, `Still trying to reach the chain node at ${config.nodeUrl}…`, 'error'),
    });
  } catch (e) {
    setStatus(status, `Cannot use the chain at ${config.nodeUrl}: ${errorText(e)}`, 'error');
    throw e;
  }
  let dev = config.dev;
  if (dev === null) {
    try {
      dev = await chain.isDevChain();
    } catch {
      dev = false;
    }
  }
  const chainName = (await chain.api.rpc.system.chain()).toString();
  setStatus(status, `Chain: ${chainName}${dev ? ' (development)' : ''}`, 'ok');
  chain.provider.on('disconnected', () => setStatus(status, 'Chain connection lost — reconnecting…', 'error'));
  chain.provider.on('connected', () => setStatus(status, `Chain: ${chainName}${dev ? ' (development)' : ''}`, 'ok'));
  document.body.dataset.chain = 'ready';
  return { config, chain, dev };
}

/** The categories as a Map; an empty map if they cannot be read. */
export async function loadCategories(chain) {
  try {
    return await chain.categories();
  } catch {
    return new Map();
  }
}
