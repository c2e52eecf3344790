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
 * Plugged into the root schema as `notifications: notificationsSchema`. Follows the conventions of
 * src/config/schema.ts (null means unset, scalars where strings are expected, YAML 1.1 booleans,
 * Go durations as milliseconds); the small field helpers are repeated here because that file does
 * not export them.
 */
import { z } from 'zod';
import { booleanField, goDuration, headersField, isHttpUrl, scalarToString, section, stringListField, toStringList, unsetIfNull } from '../config/fields.js';
import { EVENT_ACTIONS } from './event.js';

/** An integer; 0 or less means `defaultValue` (Distribution's EndpointConfig.defaults()). */
function integerOrDefault(defaultValue: number) {
  return z.preprocess(unsetIfNull, z.number().int().max(Number.MAX_SAFE_INTEGER).default(defaultValue)).transform((n) => (n > 0 ? n : defaultValue));
}

/** A Go duration (string, or integer nanoseconds) as milliseconds; 0 or less means `defaultMs`. */
function durationOrDefault(defaultMs: number) {
  return z
    .preprocess(
        goDuration('500ms, 1s or 1m'),
      z.number().default(defaultMs),
    )
    .transform((ms) => (ms > 0 ? ms : defaultMs));
}

const endpointSchema = section({
  name: z.preprocess(scalarToString, z.string().min(1, { message: 'required: the endpoint name' })),
  disabled: booleanField(false),
  url: z.preprocess(scalarToString, z.string().default('')),
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
  endpoints: z
    .preprocess(unsetIfNull, z.array(endpointSchema).default(() => []))
    .check(
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
