import { readFileSync } from 'node:fs';
import type { Redis, Cluster, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSettings } from './redis-schema.js';
import type { Circuit } from './circuit.js';

/** A connected client, single node or cluster, as ioredis gives it. */
export type RedisClient = Redis | Cluster;

function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
  if (m === null) throw new Error(`redis.addr: expected host:port, got ${JSON.stringify(addr)}`);
  return { host: (m[1] ?? m[2]) as string, port: Number(m[3]) };
}

/**
 * Connects to Redis as the `redis` section says (ioredis is loaded only when Redis is configured).
 * Commands fail at once while Redis is unreachable instead of queueing (no offline queue, no
 * retries of a command), so a cache outage costs a storage lookup, not a hung request. With a
 * `circuit`, a lost connection opens it (the circuit logs the outage, once) and its probe is a
 * PING; without one, the first connection error is logged.
 */
export async function connectRedis(settings: RedisSettings, logger: Logger, circuit?: Circuit): Promise<RedisClient> {
  const { Redis, Cluster } = await import('ioredis');
  const tls = settings.tls.enabled
    ? {
        ...(settings.tls.certificate !== '' ? { cert: readFileSync(settings.tls.certificate) } : {}),
        ...(settings.tls.key !== '' ? { key: readFileSync(settings.tls.key) } : {}),
        ...(settings.tls.clientcas.length > 0 ? { ca: settings.tls.clientcas.map((f) => readFileSync(f)) } : {}),
        rejectUnauthorized: !settings.tls.insecureskipverify,
      }
    : undefined;
  const options: RedisOptions = {
    ...(settings.username !== '' ? { username: settings.username } : {}),
    ...(settings.password !== '' ? { password: settings.password } : {}),
    db: settings.db,
    connectTimeout: settings.dialtimeout,
    commandTimeout: Math.max(settings.readtimeout, settings.writetimeout),
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
    ...(tls !== undefined ? { tls } : {}),
  };
  const addrs = settings.addrs.length > 0 ? settings.addrs : [settings.addr];
  let client: RedisClient;
  if (addrs.length > 1) {
    client = new Cluster(addrs.map(parseAddr), { redisOptions: options, enableOfflineQueue: false });
  } else {
    const { host, port } = parseAddr(addrs[0] ?? '');
    client = new Redis({ ...options, host, port });
  }
  let reported = false;
  client.on('error', (err: Error) => {
    if (circuit !== undefined) circuit.trip(err);
    else if (!reported) logger.error({ err: err.message }, 'redis connection error');
    reported = true;
  });
  client.on('close', () => circuit?.trip(new Error('connection closed')));
  client.on('ready', () => {
    if (reported && circuit === undefined) logger.info('redis connection restored');
    reported = false;
  });
  await client.connect().catch((err: unknown) => {
    // Start anyway: the cache is an optimisation and reconnects on its own.
    if (circuit !== undefined) circuit.trip(err);
    else logger.error({ err: err instanceof Error ? err.message : String(err) }, 'redis not reachable at start-up; serving from storage until it is');
  });
  return client;
}

/** The PING a circuit in front of `client` probes with; reconnects a client that gave up. */
export async function pingRedis(client: RedisClient): Promise<void> {
  if (client.status === 'end' || client.status === 'wait') await client.connect();
  const answer = await client.ping();
  if (answer !== 'PONG') throw new Error(`redis answered PING with ${answer}`);
}
