/**
 * The `notifications` configuration section, as Distribution writes it (configuration.Notifications):
 *
 *   notifications:
 *     events:
 *       includereferences: true
 *     endpoints:
 *       - name: alistener            # required: names the endpoint in logs and metrics
 *         disabled: false
 *         url: https://listener.example.com/event   # required unless disabled
 *         headers: { Authorization: [Bearer <token>] }
 *         timeout: 1s                # 0 or unset: 1s
 *         threshold: 10              # 0 or unset: 10
 *         backoff: 1s                # 0 or unset: 1s
 *         ignoredmediatypes: [application/octet-stream]
 *         ignore:
 *           mediatypes: [application/octet-stream]
 *           actions: [pull]
 *
 * Plugged into the root schema as `notifications: notificationsSchema`. Written with the field
 * helpers of src/config-fields/fields.ts (null means unset, scalars where strings are expected,
 * YAML 1.1 booleans, Go durations as milliseconds).
 */
import { z } from 'zod';
import { booleanField, durationField, headersField, integerField, isHttpUrl, listField, requiredString, section, stringField, stringListField, toStringList } from '../config-fields/fields.js';
import { EVENT_ACTIONS } from './event.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

/** An integer; 0 or less means `defaultValue` (Distribution's EndpointConfig.defaults()). */
function integerOrDefault(defaultValue: number) {
  return integerField(defaultValue, Number.MIN_SAFE_INTEGER).transform((n) => (n > 0 ? n : defaultValue));
}

/** A Go duration (string, or integer nanoseconds) as milliseconds; 0 or less means `defaultMs`. */
function durationOrDefault(defaultMs: number) {
  return durationField(defaultMs, { bound: 'any', examples: '500ms, 1s or 1m' }).transform((ms) => (ms > 0 ? ms : defaultMs));
}

const endpointSchema = section({
  name: requiredString('the endpoint name'),
  disabled: booleanField(false),
  url: stringField(''),
  headers: headersField(),
  timeout: durationOrDefault(1000),
  threshold: integerOrDefault(10),
  backoff: durationOrDefault(1000),
  ignoredmediatypes: stringListField(),
  ignore: section({
    mediatypes: stringListField(),
    actions: z.preprocess(
      toStringList,
      z.array(z.enum(EVENT_ACTIONS, { error: (iss) => `unknown action ${JSON.stringify(iss.input)} (actions: ${EVENT_ACTIONS.join(', ')})` })).default(() => []),
    ),
  }),
}).check(
  z.superRefine(
    (endpoint, ctx) => {
      // Distribution skips a disabled endpoint before looking at its URL. Also run when other keys
      // are invalid (so every problem is reported at once): the values may then be of any type.
      const { disabled, url } = endpoint as { disabled?: unknown; url?: unknown };
      if (disabled !== true && (typeof url !== 'string' || !isHttpUrl(url))) {
        const missing = url === undefined || url === '';
        ctx.addIssue({ code: 'custom', path: ['url'], message: `${missing ? 'required:' : 'must be'} an absolute http:// or https:// URL`, input: url });
      }
    },
    { when: () => true },
  ),
);

/** The `notifications` section. Output: `{ events: { includereferences }, endpoints: [...] }`, durations in ms. */
export const notificationsSchema = section({
  events: section({ includereferences: booleanField(false) }),
  endpoints: listField(endpointSchema).check(
      z.superRefine((endpoints, ctx) => {
        // Names label the metrics and logs of an endpoint: two with one name would be indistinguishable.
        const seen = new Set<string>();
        endpoints.forEach((endpoint, i) => {
          if (seen.has(endpoint.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate endpoint name ${JSON.stringify(endpoint.name)}` });
          seen.add(endpoint.name);
        });
      }),
    ),
});

/** The parsed `notifications` section. */
export type NotificationsConfig = z.output<typeof notificationsSchema>;

/** One parsed `notifications.endpoints[]` entry. */
export type EndpointConfig = z.output<typeof endpointSchema>;

/** What docs/configuration.md says of each key of `notifications` (relative key paths). */
export const notificationsKeyDocs: KeyDocs = {
  'events.includereferences': { type: 'boolean', default: '`false`', text: 'Add `target.references` (config, layers, index children) to manifest push and pull events.' },
  endpoints: { type: 'list of endpoints', default: '`[]`', text: 'Where events are sent. Each endpoint: `name` (required, unique), `url` (required unless `disabled`; `http://` or `https://`), `disabled` (`false`), `headers` (map of name to list of values), `timeout` (`1s`), `threshold` (`10`), `backoff` (`1s`), `ignoredmediatypes` (list), `ignore.mediatypes` (list), `ignore.actions` (list of `push`, `pull`, `delete`, `mount`). A `timeout`, `threshold` or `backoff` of 0 means its default.' },
};
