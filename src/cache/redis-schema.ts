/** The shape of the `redis` configuration section, as the rest of Berth reads it. */
export interface RedisSettings {
  /** host:port of one Redis server. */
  readonly addr: string;
  /** Several host:port addresses: a Redis Cluster. */
  readonly addrs: readonly string[];
  readonly username: string;
  readonly password: string;
  readonly db: number;
  readonly dialtimeout: number;
  readonly readtimeout: number;
  readonly writetimeout: number;
  readonly tls: { readonly enabled: boolean; readonly certificate: string; readonly key: string; readonly clientcas: readonly string[]; readonly insecureskipverify: boolean };
  /** How long cached entries live (Berth extension; Distribution's entries never expire). */
  readonly ttl: number;
}
