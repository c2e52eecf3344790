import type { Writable } from 'node:stream';

import { sinkClosed, type ByteSink } from '../storage/driver/driver.js';

/**
 * Adapts a response (an HTTP/1 ServerResponse, HTTP/2's compatibility response, or any Writable)
 * to the ByteSink a blob is sent into, so that what each protocol reports stays here: HTTP/2's
 * compatibility response has neither `writableNeedDrain` nor `destroyed`, and once closed emits
 * nothing more, so only events and the request's `signal` (which aborts when the client goes
 * away) tell that the client is gone.
 */
export function responseSink(dest: Writable, signal?: AbortSignal): ByteSink {
  return {
    get closed(): boolean {
      return signal?.aborted === true || dest.destroyed === true || dest.writableEnded;
    },
    write: (chunk, written) => dest.write(chunk, written),
    drained: () => drained(dest, signal),
  };
}

/**
 * Resolves when `dest`, whose write() just returned false, wants more data; rejects when it
 * closes or fails first, or when `signal` aborts.
 */
function drained(dest: Writable, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(sinkClosed());
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      dest.off('error', onError);
      signal?.removeEventListener('abort', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(sinkClosed());
    const onError = (err: Error): void => done(err);
    dest.once('drain', onDrain);
    dest.once('close', onClose);
    dest.once('error', onError);
    signal?.addEventListener('abort', onClose, { once: true });
  });
}
