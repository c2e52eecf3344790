/** The AWS SDK clients of the `s3` driver: one for ordinary calls, one with a longer timeout for slow server-side operations. */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

import { S3Client } from '@aws-sdk/client-s3';

import { s3RetryStrategy } from './retry.js';
import type { S3Parameters } from './parameters.js';

/** Sockets per endpoint: readers hold one each while a client downloads. */
const MAX_SOCKETS = 512;

/**
 * The timeout of server-side copies and multipart completions: a store answers them only when
 * it is done (Ceph RGW copying a 1 GiB blob sends nothing for many seconds), so they get at least
 * SLOW_OPERATION_TIMEOUT_MS of silence rather than `requesttimeout`.
 */
export const SLOW_OPERATION_TIMEOUT_MS = 300_000;

/** The socket timeout of the slow client: `requesttimeout`, at least SLOW_OPERATION_TIMEOUT_MS. */
export function slowOperationTimeout(p: S3Parameters): number {
  return Math.max(p.requestTimeoutMs, SLOW_OPERATION_TIMEOUT_MS);
}

/**
 * The SDK client for the parameters: static credentials or the default chain, the endpoint and
 * addressing style, keep-alive sockets (TLS verification off with `skipverify`). Checksums are
 * sent only where S3 requires them (as Distribution's SDK does), which S3-compatible stores accept.
 */
export function createS3Client(p: S3Parameters, timeoutMs = p.requestTimeoutMs): S3Client {
  return new S3Client({
    region: p.region,
    ...(p.endpoint !== undefined ? { endpoint: p.endpoint } : {}),
    // A copy: the SDK tags the credentials object it is given (and the parameters are frozen).
    ...(p.credentials !== undefined ? { credentials: { ...p.credentials } } : {}),
    forcePathStyle: p.forcePathStyle,
    useAccelerateEndpoint: p.accelerate,
    useDualstackEndpoint: p.useDualstack,
    useFipsEndpoint: p.useFips,
    ...(p.userAgent !== undefined ? { customUserAgent: p.userAgent } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A store that stops answering must fail the request (503), not hold it (and its client) for
    // minutes: a socket silent for requesttimeout fails the request, which is then not retried.
    retryStrategy: s3RetryStrategy(),
    requestHandler: {
      connectionTimeout: Math.min(10_000, p.requestTimeoutMs),
      socketTimeout: timeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, rejectUnauthorized: !p.skipVerify }),
    },
  });
}
