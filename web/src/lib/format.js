// Balances (plancks as BigInt) to text and back, addresses, times.

export const DEFAULT_DECIMALS = 12;
export const DEFAULT_SYMBOL = 'VLK';

let decimals = DEFAULT_DECIMALS;
let symbol = DEFAULT_SYMBOL;

/** Use the chain's token decimals and symbol (from system_properties). */
export function setToken(d, s) {
  if (Number.isInteger(d) && d >= 0 && d <= 30) decimals = d;
  if (typeof s === 'string' && s) symbol = s;
}

export function tokenSymbol() {
  return symbol;
}

/** Exact decimal text of `plancks` in whole tokens, trailing zeros trimmed: "0.0125". */
export function formatUnits(plancks) {
  let v = BigInt(plancks);
  const negative = v < 0n;
  if (negative) v = -v;
  const base = 10n ** BigInt(decimals);
  const whole = v / base;
  let frac = (v % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  const text = frac ? `${whole}.${frac}` : `${whole}`;
  return negative ? `-${text}` : text;
}

/** "0.0125 VLK". */
export function formatBalance(plancks) {
  return `${formatUnits(plancks)} ${symbol}`;
}

/** Whole tokens as typed by a person ("1.5", "0.001") to plancks; throws on anything else. */
export function parseUnits(text) {
  const s = String(text).trim();
  const m = /^(\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) throw new Error(`"${text}" is not an amount (use digits and an optional decimal point)`);
  const frac = m[2] ?? '';
  if (frac.length > decimals) throw new Error(`at most ${decimals} decimals`);
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
}

/** "5GrwvaEF…utQY". */
export function shortAddress(address) {
  const a = String(address);
  return a.length > 14 ? `${a.slice(0, 8)}…${a.slice(-4)}` : a;
}

/** "12:03:44" local time of a Unix-millisecond timestamp. */
export function clockTime(ms) {
  return new Date(Number(ms)).toLocaleTimeString([], { hour12: false });
}

/** "1 h 02 min 05 s" / "2 min 05 s" / "5 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, '0')} min ${String(r).padStart(2, '0')} s`;
  if (m) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}
