/**
 * `requesttimeout` of the object-store drivers (Berth extension; `storage.s3` and
 * `storage.azure`): how long a request to the store may go without a byte in either direction
 * before it fails, is not retried, and the client gets 503 UNAVAILABLE. Pure (no SDK).
 */
import { z } from 'zod';

import { parseDuration } from '../../config/duration.js';

/** The default `requesttimeout`: how long a request to the store may go without a byte before it fails. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** A positive Go duration ("10s", "500ms"), or a number of nanoseconds, as milliseconds. */
export const requestTimeoutField = () =>
  z.preprocess(
    (v) => (v === null || v === '' ? undefined : v),
    z
      .union([z.string(), z.number()])
      .transform((v, ctx) => {
        try {
          const ms = parseDuration(v);
          if (ms > 0) return ms;
          ctx.addIssue({ code: 'custom', message: 'must be a positive duration, e.g. 10s' });
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        }
        return z.NEVER;
      })
      .optional(),
  );

