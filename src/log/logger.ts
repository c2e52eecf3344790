import { pino, type Logger, type DestinationStream } from 'pino';
import { stripUserinfo, stripUserinfoDeep } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly formatter: 'text' | 'json';
  readonly fields?: Readonly<Record<string, string | number | boolean>>;
  /** Where lines go (default: standard error, as Distribution's logrus does). */
  readonly destination?: { write(line: string): unknown };
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };

/** Keys whose values are never written to a log line, whatever logs them. */
export const REDACTED_KEYS = ['password', 'secret', 'authorization', 'token', 'accountkey', 'secretkey'];

/**
 * The registry's logger. `json` writes pino's JSON lines; `text` writes Distribution's logrus
 * style (`time="..." level=info msg="..." key=value`), so log processors built for it keep working.
 */
export function createLogger(options: LoggerOptions): Logger {
  const out = options.destination ?? process.stderr;
  const destination: DestinationStream =
    options.formatter === 'json' ? { write: (line: string) => out.write(line) } : { write: (line: string) => out.write(formatText(line)) };
  return pino(
    {
      level: options.level,
      base: { ...(options.fields ?? {}) },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      // URL credentials (a webhook's https://user:pass@host/) never reach a line, in fields or messages.
      formatters: { level: (label) => ({ level: label === 'warn' ? 'warning' : label }), log: (record) => stripUserinfoDeep(record) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? stripUserinfo(a) : a)) as Parameters<typeof method>);
        },
      },
      redact: { paths: REDACTED_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '[redacted]' },
    },
    destination,
  );
}

/** Converts one pino JSON line into logrus text format. */
export function formatText(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, ...rest } = record;
  const parts = [`time=${quote(scalar(time ?? new Date().toISOString()))}`, `level=${typeof level === 'number' ? (LEVEL_NAMES[level] ?? level) : String(level)}`, `msg=${quote(scalar(msg ?? ''))}`];
  appendFields(parts, '', rest);
  return `${parts.join(' ')}\n`;
}

/** Nested objects become dotted keys (`http.request.method=GET`), as Distribution's logs read. */
function appendFields(parts: string[], prefix: string, fields: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && !Array.isArray(value)) appendFields(parts, name, value as Record<string, unknown>);
    else parts.push(`${name}=${formatValue(value)}`);
  }
}

/** A field printed as one value: objects as JSON rather than `[object Object]`. */
function scalar(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[A-Za-z0-9._\-/:@+]+$/.test(value) ? value : quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return quote(JSON.stringify(value));
}

function quote(value: string): string {
  return JSON.stringify(value);
}
