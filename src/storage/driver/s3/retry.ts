import type { S3ClientConfig } from '@aws-sdk/client-s3';

type RetryStrategyV2 = Extract<NonNullable<S3ClientConfig['retryStrategy']>, { acquireInitialRetryToken: unknown }>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<RetryStrategyV2['refreshRetryTokenForRetry']>[1];

/** Attempts of one S3 request in all (the SDK's default). */
export const MAX_ATTEMPTS = 3;
const BASE_DELAY_MS = 100;
const THROTTLING_BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 20_000;

/**
 * The SDK's retry policy (3 attempts, exponential backoff with full jitter, throttling backing off
 * longer) with one difference: a request that timed out (the store sent nothing for
 * `requesttimeout`) is not retried, so a store that stopped answering costs a client one
 * timeout, not three plus backoff. Client errors (4xx) are never retried.
 */
export function s3RetryStrategy(random: () => number = Math.random): RetryStrategyV2 {
  const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (previous: RetryToken, info: RetryErrorInfo) => {
      const count = previous.getRetryCount() + 1;
      if (count >= MAX_ATTEMPTS || info.errorType === 'CLIENT_ERROR' || info.error?.name === 'TimeoutError') {
        throw info.error ?? new Error('no more retries');
      }
      const base = info.errorType === 'THROTTLING' ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS;
      let delay = Math.floor(random() * Math.min(MAX_DELAY_MS, base * 2 ** count));
      if (info.retryAfterHint !== undefined) delay = Math.max(delay, Math.min(MAX_DELAY_MS, info.retryAfterHint.getTime() - Date.now()));
      return token(count, delay);
    },
    recordSuccess: () => undefined,
  };
}
