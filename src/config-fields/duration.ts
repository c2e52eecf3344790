/**
 * Go `time.Duration` values as Distribution's YAML carries them, converted to and from milliseconds.
 *
 * A string follows Go's `time.ParseDuration` grammar: an optional sign, then one or more
 * `<number><unit>` terms ("168h", "1h30m", "2m0s", "1.5s", ".5ms"), units ns, us (µs, μs), ms, s, m, h;
 * the bare string "0" is zero. A YAML integer is what go-yaml stores into a Duration directly:
 * a count of nanoseconds.
 */

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  '\u00b5s': 1_000n, // µ MICRO SIGN, what Go prints
  '\u03bcs': 1_000n, // μ GREEK SMALL LETTER MU, which Go also accepts
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const UNITS_HINT = 'ns, us, ms, s, m, h';
const MAX_NS = (1n << 63n) - 1n; // Go's Duration is an int64 of nanoseconds
const NS_PER_MS = 1_000_000n;

/**
 * Parses a Go duration into milliseconds (fractional below one millisecond, e.g. "1500ns" is 0.0015).
 * A number is taken as nanoseconds, as go-yaml does for an integer Duration.
 * Throws an Error naming the value for anything else: no unit ("100"), unknown unit ("7d"),
 * no digits ("h"), a non-integer or non-finite number, or a value beyond Go's ±292-year range.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`invalid duration ${value}: a number is a count of nanoseconds and must be an integer`);
    if (Math.abs(value) > Number(MAX_NS)) throw new Error(`invalid duration ${value}: out of range`);
    return value / 1e6;
  }
  if (typeof value !== 'string') throw new Error(`invalid duration ${String(value)}: expected a string or a number`);
  const ns = parseGoDuration(value);
  return nsToMs(ns);
}

function parseGoDuration(text: string): bigint {
  const quoted = JSON.stringify(text);
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw new Error(`invalid duration ${quoted}`);
  let total = 0n;
  while (rest !== '') {
    const term = /^(\d*)(?:\.(\d*))?([^\d.]*)/.exec(rest);
    const whole = term?.[1] ?? '';
    const frac = term?.[2] ?? '';
    const unit = term?.[3] ?? '';
    if (term === null || (whole === '' && frac === '')) throw new Error(`invalid duration ${quoted}`);
    if (unit === '') throw new Error(`missing unit in duration ${quoted} (units: ${UNITS_HINT})`);
    const unitNs = UNIT_NS[unit];
    if (unitNs === undefined) throw new Error(`unknown unit ${JSON.stringify(unit)} in duration ${quoted} (units: ${UNITS_HINT})`);
    let termNs = BigInt(whole === '' ? '0' : whole) * unitNs;
    if (frac !== '') termNs += (BigInt(frac) * unitNs) / 10n ** BigInt(frac.length); // truncated, as Go does
    total += termNs;
    if (total > MAX_NS + (negative ? 1n : 0n)) throw new Error(`invalid duration ${quoted}: out of range`);
    rest = rest.slice(term[0].length);
  }
  return negative ? -total : total;
}

function nsToMs(ns: bigint): number {
  return Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;
}

/**
 * Formats milliseconds the way Go's `Duration.String()` does, for logs and messages:
 * "0s", "500ms", "1.5µs", "10s", "2m0s", "1h30m0s", "168h0m0s". The result parses back with parseDuration.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  let u = ns < 0n ? -ns : ns;
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${withFraction(u, 3)}\u00b5s`;
  if (u < 1_000_000_000n) return `${sign}${withFraction(u, 6)}ms`;
  const seconds = withFraction(u % 60_000_000_000n, 9);
  u /= 60_000_000_000n;
  if (u === 0n) return `${sign}${seconds}s`;
  const minutes = u % 60n;
  const hours = u / 60n;
  return hours === 0n ? `${sign}${minutes}m${seconds}s` : `${sign}${hours}h${minutes}m${seconds}s`;
}

/** `value / 10^digits` printed with its fraction, trailing zeros (and a bare point) dropped. */
function withFraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const fraction = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  const whole = (value / scale).toString();
  return fraction === '' ? whole : `${whole}.${fraction}`;
}
