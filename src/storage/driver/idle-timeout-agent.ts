import { Agent as HttpAgent, type AgentOptions } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';

/** The `code` of the error a silent socket is destroyed with (not one an SDK retries). */
export const SOCKET_SILENT = 'BERTH_STORAGE_SILENT';

/** The error a request to a store fails with when its socket stays silent too long. */
export function silentSocketError(ms: number): Error {
  // No "timeout" in the message: SDKs retry errors whose text says so, and a store that stopped
  // answering would then cost several timeouts (plus backoff) instead of one.
  return Object.assign(new Error(`the store sent nothing for ${ms} ms`), { code: SOCKET_SILENT });
}

/** True for the error of {@link silentSocketError}, also when an SDK has wrapped it (it keeps the code). */
export function isSilentSocketError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === SOCKET_SILENT;
}

function watch(socket: Socket, ms: number): void {
  // A socket destroyed while idle in the pool has no request to report to: never an uncaught error.
  socket.on('error', () => undefined);
  // The agent's `timeout` keeps the socket's idle timer set (Node resets it to that value whenever
  // a socket returns to the pool); the agent only destroys free sockets on it, this in-use ones.
  socket.on('timeout', () => socket.destroy(silentSocketError(ms)));
}

/**
 * An HTTP(S) agent for an object store whose sockets fail after `ms` without a byte in either
 * direction: connecting, sending a body, waiting for the answer or reading it. A store that stops
 * answering fails the request instead of holding it for minutes; a long transfer that keeps moving
 * is never cut.
 */
export function idleTimeoutAgent(protocol: 'http:' | 'https:', ms: number, options: AgentOptions & { rejectUnauthorized?: boolean } = {}): HttpAgent {
  const base = { keepAlive: true, ...options, timeout: ms };
  const agent: HttpAgent = protocol === 'https:' ? new HttpsAgent(base) : new HttpAgent(base);
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (opts, callback) => {
    const socket = create(opts, callback);
    if (socket instanceof Socket) watch(socket, ms);
    return socket;
  };
  return agent;
}
