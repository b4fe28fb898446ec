// @vilokanam/sdk: what a Vilokanam client needs beside @polkadot/api. See README.md.
export * from './payloads.js';
export * from './messages.js';
export * from './sidecar.js';
export * from './rpc.js';
export * from './whep.js';
