/**
 * The `health` configuration section, as Distribution writes it (configuration.Health):
 *
 *   health:
 *     storagedriver: { enabled: true, interval: 10s, threshold: 3 }
 *     file:
 *       - { file: /etc/berth/maintenance, interval: 10s }      # fails while the file exists
 *     http:
 *       - { uri: http://db.local/health, headers: {...}, statuscode: 200, timeout: 3s, interval: 10s, threshold: 3 }
 *     tcp:
 *       - { addr: redis.local:6379, timeout: 3s, interval: 10s, threshold: 3 }
 *
 * An interval of 0 (or unset) is Distribution's 10 s; a threshold of 0 means the first failure
 * counts; statuscode 0 (or unset) is 200; a timeout of 0 (or unset) means the check's interval.
 * Plugged into the root schema as `health: healthSchema`. Follows the conventions of
 * src/config-fields/fields.ts, whose helpers it uses.
 */
import { z } from 'zod';
import { booleanField, durationField, headersField, integerField, isHttpUrl, listField, requiredString, section } from '../config-fields/fields.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

/** Distribution's defaultCheckInterval. */
export const DEFAULT_CHECK_INTERVAL_MS = 10_000;

/** A non-negative Go duration (string, or integer nanoseconds) as milliseconds; unset is 0. */
const timeoutField = () => durationField(0, { examples: '500ms, 10s or 1m' });

/** The check interval: 0 or unset is Distribution's 10 s. */
function intervalField() {
  return timeoutField().transform((ms) => (ms > 0 ? ms : DEFAULT_CHECK_INTERVAL_MS));
}

const fileCheckSchema = section({
  file: requiredString('the path of the file'),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

const httpCheckSchema = section({
  uri: requiredString('the URI to check').refine(isHttpUrl, { message: 'must be an absolute http:// or https:// URL' }),
  headers: headersField(),
  statuscode: integerField(200, 0, 599).transform((code) => (code === 0 ? 200 : code)),
  timeout: timeoutField(),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

const tcpCheckSchema = section({
  addr: requiredString('host:port to connect to').refine((v) => /^(\[[0-9A-Fa-f:.]+\]|[^:[\]\s]*):\d{1,5}$/.test(v), { message: 'expected host:port' }),
  timeout: timeoutField(),
  interval: intervalField(),
  threshold: integerField(0, 0),
});

/** The `health` section. Output durations are milliseconds. */
export const healthSchema = section({
  storagedriver: section({
    enabled: booleanField(false),
    interval: intervalField(),
    threshold: integerField(0, 0),
  }),
  file: listField(fileCheckSchema),
  http: listField(httpCheckSchema),
  tcp: listField(tcpCheckSchema),
}).check(
  z.superRefine((health, ctx) => {
    // Checks are named by their file, URI or address, and names must be unique (Distribution panics).
    const seen = new Set<string>();
    const lists = [
      ['file', health.file.map((c) => c.file)],
      ['http', health.http.map((c) => c.uri)],
      ['tcp', health.tcp.map((c) => c.addr)],
    ] as const;
    for (const [key, names] of lists) {
      names.forEach((name, i) => {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [key, i], message: `duplicate health check ${JSON.stringify(name)}` });
        seen.add(name);
      });
    }
  }),
);

/** The parsed `health` section. */
export type HealthConfig = z.output<typeof healthSchema>;

/** What docs/configuration.md says of each key of `health` (relative key paths). */
export const healthKeyDocs: KeyDocs = {
  'storagedriver.enabled': { type: 'boolean', default: '`false`', text: 'Check the storage backend (a stat of its root) periodically.' },
  'storagedriver.interval': { type: 'duration', default: '`10s`', text: 'Time between checks (`0` means 10s).' },
  'storagedriver.threshold': { type: 'integer ≥ 0', default: '`0`', text: 'Consecutive failures before the check reports failing (`0` and `1`: the first).' },
  file: { type: 'list of `{file, interval, threshold}`', default: '`[]`', text: 'Fail while `file` exists (e.g. a maintenance flag). `interval` defaults to 10s.' },
  http: { type: 'list of `{uri, headers, statuscode, timeout, interval, threshold}`', default: '`[]`', text: 'Fail unless a `HEAD` of `uri` answers `statuscode` (default 200). `timeout` defaults to the interval, `interval` to 10s.' },
  tcp: { type: 'list of `{addr, timeout, interval, threshold}`', default: '`[]`', text: 'Fail unless a TCP connection to `addr` (`host:port`) opens. `timeout` defaults to the interval, `interval` to 10s.' },
};
