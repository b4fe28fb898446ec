// polkadot.js definitions of the node's `vilokanam_*` JSON-RPC (docs/API.md section 2), so that a
// dApp calls `api.rpc.vilokanam.stream(7)` and gets typed results instead of raw JSON:
//
//   const api = await ApiPromise.create({ provider, rpc: vilokanamRpc, types: vilokanamTypes });
//
// The type names start with `Vilokanam` so that they cannot clash with a chain's own types.
// This module imports nothing: it is plain data, usable beside any @polkadot/api version.

/** The JSON results, field for field (names as the node serializes them). */
export const vilokanamTypes = {
  VilokanamStreamStatus: { _enum: ['Scheduled', 'Live', 'Ended'] },
  VilokanamStream: {
    id: 'u64',
    creator: 'AccountId',
    title: 'Text',
    metadata: 'Text',
    category: 'u32',
    tags: 'Vec<Text>',
    pricePerSecond: 'Balance',
    status: 'VilokanamStreamStatus',
    createdAt: 'u64',
    startedAt: 'Option<u64>',
    endedAt: 'Option<u64>',
    endpoint: 'Option<Text>',
    relayer: 'Option<AccountId>',
    collaborators: 'Vec<(AccountId, u32)>',
    totalSeconds: 'u64',
    totalEarned: 'Balance',
    currentViewers: 'u32',
    peakViewers: 'u32',
    replayPrice: 'Option<Balance>',
  },
  VilokanamSession: {
    id: 'u64',
    viewer: 'AccountId',
    voucherKey: 'AccountId',
    streamId: 'u64',
    pricePerSecond: 'Balance',
    maxSeconds: 'u64',
    settledSeconds: 'u64',
    escrowRemaining: 'Balance',
    openedAt: 'u64',
    open: 'bool',
    closingSince: 'Option<u64>',
    refundAt: 'Option<u64>',
    allowance: 'Option<u64>',
    voucherCost: 'Option<Balance>',
    closed: 'Option<VilokanamSessionClosed>',
  },
  VilokanamSessionEnd: { _enum: ['Closed', 'Expired', 'WindowElapsed'] },
  VilokanamSessionClosed: {
    closedAt: 'u64',
    closedIn: 'u64',
    refunded: 'Balance',
    reason: 'VilokanamSessionEnd',
  },
  VilokanamAllowance: {
    id: 'u64',
    delegate: 'AccountId',
    amount: 'Balance',
    period: 'u64',
    expiresAt: 'u64',
    periodStart: 'u64',
    used: 'Balance',
    remaining: 'Balance',
    nonce: 'u32',
  },
  VilokanamStreamStats: {
    id: 'u64',
    block: 'Hash',
    status: 'VilokanamStreamStatus',
    currentViewers: 'u32',
    peakViewers: 'u32',
    totalSeconds: 'u64',
    totalEarned: 'Balance',
  },
};

const at = { name: 'at', type: 'BlockHash', isOptional: true };
const paging = [
  { name: 'offset', type: 'u32', isOptional: true },
  { name: 'limit', type: 'u32', isOptional: true },
];

/** `api.rpc.vilokanam.*`: one entry per method, in the order the node declares them. */
export const vilokanamRpc = {
  vilokanam: {
    liveStreams: {
      description: 'Live streams, optionally of one category, paged (limit 1–100).',
      params: [{ name: 'category', type: 'u32', isOptional: true }, ...paging, at],
      type: 'Vec<VilokanamStream>',
    },
    stream: {
      description: 'One stream, whatever its status; null if none is stored.',
      params: [{ name: 'id', type: 'u64' }, at],
      type: 'Option<VilokanamStream>',
    },
    searchStreams: {
      description: 'Streams whose title or a tag contains the query (ASCII case-insensitive, first 10,000 streams).',
      params: [{ name: 'query', type: 'Text' }, ...paging, at],
      type: 'Vec<VilokanamStream>',
    },
    streamsByCreator: {
      description: "A creator's streams, any status, paged.",
      params: [{ name: 'creator', type: 'AccountId' }, ...paging, at],
      type: 'Vec<VilokanamStream>',
    },
    session: {
      description: 'A stored session, and what a voucher for cumulativeSeconds would pay now.',
      params: [{ name: 'id', type: 'u64' }, { name: 'cumulativeSeconds', type: 'u64', isOptional: true }, at],
      type: 'Option<VilokanamSession>',
    },
    allowance: {
      description: "A viewer's allowance, renewed as of the block's timestamp; null if none.",
      params: [{ name: 'who', type: 'AccountId' }, at],
      type: 'Option<VilokanamAllowance>',
    },
    quote: {
      description: 'The price of a number of seconds of a stream.',
      params: [{ name: 'streamId', type: 'u64' }, { name: 'seconds', type: 'u64' }, at],
      type: 'Balance',
    },
    earnings: {
      description: 'Everything an account received through payouts.',
      params: [{ name: 'who', type: 'AccountId' }, at],
      type: 'Balance',
    },
    following: {
      description: 'The creators an account follows.',
      params: [{ name: 'who', type: 'AccountId' }, at],
      type: 'Vec<AccountId>',
    },
    subscribeStream: {
      description: "A stream's counters now and at every new best block.",
      params: [{ name: 'id', type: 'u64' }],
      pubsub: ['streamStats', 'subscribeStream', 'unsubscribeStream'],
      type: 'VilokanamStreamStats',
    },
  },
};
