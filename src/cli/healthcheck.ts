import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { effectiveListenAddress, parseListenAddress } from '../http/listen-address.js';

/** How long the probe waits for an answer before it reports the registry unhealthy. */
const PROBE_TIMEOUT_MS = 3000;

/**
 * `berth healthcheck [config.yml]`: asks the registry this configuration describes for `GET /v2/` on the
 * loopback interface (HTTPS without certificate checks when `http.tls` is set) and exits 0 on an answer
 * of 200 or 401, 1 otherwise. The container image's HEALTHCHECK: it needs no curl in the image.
 */
export async function healthcheckCommand(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Flags are ignored: the configuration file is the first operand.
  const path = parseArgs({ args: [...args], strict: false, allowPositionals: true }).positionals[0];
  const config = await loadConfig(path === undefined ? { env } : { path, env });
  const tls = config.http.tls !== undefined;
  const address = parseListenAddress(effectiveListenAddress(config.http.addr, tls), config.http.net);
  const prefix = config.http.prefix.replace(/\/+$/, '');
  const target =
    address.kind === 'unix'
      ? { socketPath: address.path, path: `${prefix}/v2/` }
      : { host: address.host === undefined || address.host === '0.0.0.0' || address.host === '::' ? '127.0.0.1' : address.host, port: address.port, path: `${prefix}/v2/` };
  const status = await probe(tls, target);
  if (status === 200 || status === 401) return 0;
  process.stderr.write(`berth healthcheck: ${typeof status === 'number' ? `GET /v2/ answered ${status}` : status}\n`);
  return 1;
}

function probe(tls: boolean, target: { host?: string; port?: number; socketPath?: string; path: string }): Promise<number | string> {
  return new Promise((resolve) => {
    const send = tls ? httpsRequest : httpRequest;
    const req = send({ ...target, method: 'GET', timeout: PROBE_TIMEOUT_MS, rejectUnauthorized: false, headers: { 'user-agent': 'berth-healthcheck' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}
