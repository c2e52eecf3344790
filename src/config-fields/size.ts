/**
 * Sizes in bytes as configuration writes them (`limit: 10GiB`), pure: an integer count of bytes, or a
 * number followed by a unit, spelt exactly as here (case-sensitive, so `10gib` and `10Gb` are errors
 * rather than a guess between powers of 1000 and 1024):
 *
 *   B                      1
 *   KB, MB, GB, TB         powers of 1000 (SI)
 *   KiB, MiB, GiB, TiB     powers of 1024 (IEC)
 *
 * The number may have a fraction (`1.5GiB`) when the result is a whole number of bytes; a space
 * before the unit is allowed (`10 GiB`). A YAML integer, or a string of digits, is bytes.
 */
import { z } from 'zod';

const UNIT_BYTES: Readonly<Record<string, bigint>> = {
  B: 1n,
  KB: 1000n,
  MB: 1000n ** 2n,
  GB: 1000n ** 3n,
  TB: 1000n ** 4n,
  KiB: 1024n,
  MiB: 1024n ** 2n,
  GiB: 1024n ** 3n,
  TiB: 1024n ** 4n,
};

/** The units a size may carry, in the order messages list them. */
export const SIZE_UNITS: readonly string[] = Object.keys(UNIT_BYTES);

const SIZE = /^\s*(\d+)(?:\.(\d+))?\s*([A-Za-z]*)\s*$/;

/**
 * Parses a size into bytes. Throws an Error naming the value for anything else: a negative or
 * non-integer number, an unknown unit (`10G`, `10gib`: the message names the unit meant when only the
 * case differs), a fraction of a byte (`1.5B`), or more than Number.MAX_SAFE_INTEGER bytes.
 */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`invalid size ${value}: a number is a count of bytes and must be a non-negative integer`);
    return value;
  }
  const quoted = JSON.stringify(value);
  const m = SIZE.exec(value);
  if (m === null) throw new Error(`invalid size ${quoted}`);
  const [, whole = '', fraction = '', unit = ''] = m;
  const unitBytes = unit === '' ? 1n : UNIT_BYTES[unit];
  if (unitBytes === undefined) {
    const meant = SIZE_UNITS.find((u) => u.toLowerCase() === unit.toLowerCase());
    throw new Error(`unknown unit ${JSON.stringify(unit)} in size ${quoted}${meant !== undefined ? ` (units are case-sensitive: did you mean ${meant}?)` : ''} (units: ${SIZE_UNITS.join(', ')})`);
  }
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * unitBytes;
  if (scaled % scale !== 0n) throw new Error(`invalid size ${quoted}: not a whole number of bytes`);
  const bytes = scaled / scale;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`invalid size ${quoted}: too large`);
  return Number(bytes);
}

/** Bytes in the largest IEC unit that divides them exactly (`10GiB`, `1500B`), for messages and docs; parses back with parseSize. */
export function formatSize(bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    const size = Number(UNIT_BYTES[unit]);
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/**
 * A required size in bytes (see the module comment); null is not set, so `required`. A malformed value
 * is an issue whose message suggests `examples`.
 */
export function sizeField(examples = '500MB, 10GiB or 1073741824') {
  return z.preprocess((value: unknown, ctx: z.RefinementCtx): unknown => {
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') return value;
    try {
      return parseSize(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a size such as ${examples}`, input: value });
      return undefined;
    }
  }, z.number().int().min(0));
}
