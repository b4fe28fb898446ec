// The sidecar's relaying terms (/config.json `relayer_terms`, see docs/SIDECAR.md "Which streams
// a sidecar serves"): a stream it relays costs at least a price per second and gives the
// relayer account at least a share of the creator's part. The creator page applies them before
// registering, so that the stream is not refused by the sidecar it names.

/**
 * The split (`[[address, ppm], …]`) a stream needs to be relayed by `relayer` on `terms`: the
 * relayer's entry is added, or raised, to the lowest share. Throws if the price is below the
 * floor or the shares would pass 100 %. `same(a, b)` says whether two addresses are one account.
 */
export function applyRelayerTerms({ split, price, relayer, terms, same }) {
  if (!relayer || !terms) return split;
  const minPrice = BigInt(terms.min_price_per_second ?? '0');
  if (BigInt(price) < minPrice) {
    throw new Error(`this sidecar relays streams priced from ${minPrice} plancks per second`);
  }
  const minShare = Number(terms.min_relayer_share_ppm ?? 0);
  if (minShare <= 0) return split;
  let found = false;
  const out = split.map(([address, ppm]) => {
    if (!same(address, relayer)) return [address, ppm];
    found = true;
    return [address, Math.max(ppm, minShare)];
  });
  if (!found) out.push([relayer, minShare]);
  if (out.reduce((t, [, p]) => t + p, 0) > 1_000_000) {
    throw new Error(`this sidecar's relayer takes ${minShare / 10_000} % of the revenue: the shares add up to more than 100 %`);
  }
  return out;
}
