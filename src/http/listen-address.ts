/** Where to listen, parsed from `http.addr` / `http.net` (pure). */
export type ListenAddress = { readonly kind: 'tcp'; readonly host?: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

/**
 * Parses Distribution's `http.addr` (`:5000`, `0.0.0.0:5000`, `[::1]:5000`, `localhost:5000`)
 * or, with net `unix`, a socket path. Throws an Error naming the bad value.
 */
export function parseListenAddress(addr: string, net: 'tcp' | 'unix' = 'tcp'): ListenAddress {
  if (net === 'unix') {
    if (addr === '') throw new Error('http.addr: a unix socket path is required');
    return { kind: 'unix', path: addr };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  if (m === null) throw new Error(`http.addr: expected host:port or :port, got ${JSON.stringify(addr)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`http.addr: port out of range in ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2];
  return host === undefined || host === '' ? { kind: 'tcp', port } : { kind: 'tcp', host, port };
}

/**
 * The address to listen on: `http.addr`, or when it is empty (`REGISTRY_HTTP_ADDR=`, as registry:2's
 * users set it for TLS) `:443` with TLS and `:5000` without.
 */
export function effectiveListenAddress(addr: string, tls: boolean): string {
  if (addr !== '') return addr;
  return tls ? ':443' : ':5000';
}

export function formatListenAddress(addr: ListenAddress): string {
  if (addr.kind === 'unix') return addr.path;
  const host = addr.host === undefined ? '[::]' : addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return `${host}:${addr.port}`;
}
