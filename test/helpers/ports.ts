import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where free ports are looked for: below the kernel's ephemeral range (see below). */
const LOWEST = 20_000;
/** scripts/ceph.sh's default ports (monitor, OSD, radosgw), kept for the cluster it may start later. */
const CEPH_PORTS = { from: 26_700, to: 27_599 };
const SLICES = 8;

/**
 * The first port of Linux's ephemeral range (32768 by default). Ports the kernel hands out by
 * itself (to every outgoing connection, and to `listen(0)`) come from that range, so a port taken
 * from it and bound a moment later by a child process may meanwhile have become the local port of
 * some connection: the child then fails with EADDRINUSE. A busy test run makes thousands of
 * connections a second; ports below the range are never handed out that way.
 */
function ephemeralStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const value = Number(low);
    if (Number.isInteger(value) && value > 0) return value;
  } catch {
    // Not Linux: fall through to the usual start of the range.
  }
  return 32_768;
}

const HIGHEST = ephemeralStart() - 1;

/**
 * Finds a TCP port that is free on 127.0.0.1 right now, for a server a test starts in a child
 * process: a random port below the ephemeral range that a probe can bind, released again.
 *
 * The port is only probably still free when the child binds it; outside the ephemeral range only
 * another explicit bind (another test file picking the same random port within the same second)
 * can take it. When the machine's range leaves no room below it, asks the kernel for a port
 * instead. Rejects after many failed attempts.
 */
export async function freePort(): Promise<number> {
  if (HIGHEST - LOWEST < 8_000) return probe(0);
  // Test files run in parallel processes: each draws from its own slice of the range (by pid), so
  // two of them rarely pick the same port within the moment between probe and bind.
  const width = Math.floor((HIGHEST - LOWEST + 1) / SLICES);
  const sliceStart = LOWEST + (process.pid % SLICES) * width;
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = sliceStart + Math.floor(Math.random() * width);
    if (candidate >= CEPH_PORTS.from && candidate <= CEPH_PORTS.to) continue;
    try {
      return await probe(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' && (err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
    }
  }
  throw new Error(`freePort: no free port found in ${String(LOWEST)}-${String(HIGHEST)} after 50 attempts`);
}

function probe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)}`));
        return;
      }
      const bound = address.port;
      server.close((err) => (err ? reject(err) : resolve(bound)));
    });
  });
}
