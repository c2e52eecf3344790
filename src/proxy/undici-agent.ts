/**
 * undici's Agent and request(), loaded without undici's entry point. `import 'undici'` installs an
 * undici 7 Agent as the process-wide dispatcher when none is set yet, and Node 20's built-in fetch (its
 * own undici 6) then sends through it and fails on requests it used to make (an explicit Content-Length,
 * for one). Berth gives every upstream its own Agent and needs nothing global, so this module loads the
 * two pieces alone (undici has no exports map; both paths are exercised by the upstream client's tests)
 * and leaves global fetch as it was.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

/** undici's Agent class (a connection pool per origin). */
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export type Agent = UndiciAgent;

const requestOn = require('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/** `dispatcher.request(options)`, which undici's entry point would have put on every dispatcher. */
export function request(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestOn.call(dispatcher, options);
}
