/**
 * `requesttimeout` of the object-store drivers (Berth extension; `storage.s3` and `storage.azure`):
 * how long a request to the store may go without a byte in either direction before it fails, is
 * not retried, and the client gets 503 UNAVAILABLE.
 */

/** The default `requesttimeout`: how long a request to the store may go without a byte before it fails. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
