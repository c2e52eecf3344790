// The `proxy` section: both forms parse into the one upstream list, every wrong value is refused naming
// its key (never echoing a URL or a password), and REGISTRY_PROXY_* variables reach it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';
import { DEFAULT_UPSTREAM_TTL_MS, DISTRIBUTION_PROXY_TTL_MS, proxyUpstreams, type Upstream } from '../../src/proxy/schema.js';

const minimal = (proxy: unknown): Record<string, unknown> => ({ version: '0.1', storage: { inmemory: {} }, proxy });

function configError(tree: unknown): ConfigError {
  try {
    parseConfig(tree);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

const hub = { name: 'dockerhub', url: 'https://registry-1.docker.io', namespaces: ['docker.io'] };

describe('proxy config: values', () => {
  it('absent, null, empty: no upstream', () => {
    for (const proxy of [undefined, null, '', {}]) {
      const config = parseConfig(minimal(proxy));
      assert.equal(config.proxy, undefined);
      assert.deepEqual(proxyUpstreams(config.proxy), []);
    }
  });

  it("Distribution's form: one whole-registry upstream, ttl 168h by default, tags asked every time", () => {
    const [remote, ...rest] = proxyUpstreams(parseConfig(minimal({ remoteurl: 'https://registry-1.docker.io/', username: 'alice', password: 's3cret' })).proxy);
    assert.deepEqual(rest, []);
    assert.deepEqual(remote, {
      name: 'remote',
      url: 'https://registry-1.docker.io',
      namespaces: [],
      prefix: '',
      credentials: { username: 'alice', password: 's3cret' },
      tagTtl: 0,
      contentTtl: DISTRIBUTION_PROXY_TTL_MS,
      ca: undefined,
      insecure: false,
      dockerHub: true,
    } satisfies Upstream);
    assert.equal(DISTRIBUTION_PROXY_TTL_MS, 168 * 3600_000);
    assert.equal(proxyUpstreams(parseConfig(minimal({ remoteurl: 'http://mirror.local:5000', ttl: '24h' })).proxy)[0]?.contentTtl, 24 * 3600_000);
    assert.equal(proxyUpstreams(parseConfig(minimal({ remoteurl: 'http://mirror.local:5000', ttl: 0 })).proxy)[0]?.credentials, undefined);
  });

  it("Berth's form: defaults (prefix = name, ttl 1h, anonymous), namespaces lowercased", () => {
    const upstreams = proxyUpstreams(
      parseConfig(
        minimal({
          upstreams: [
            { ...hub, namespaces: ['Docker.IO', 'index.docker.io'] },
            { name: 'ghcr', url: 'https://ghcr.io', prefix: 'mirrors/ghcr', username: 'bot', password: 'tok', ttl: '5m', ca: '/etc/ca.pem', insecure: 'yes' },
          ],
        }),
      ).proxy,
    );
    assert.deepEqual(upstreams, [
      { name: 'dockerhub', url: 'https://registry-1.docker.io', namespaces: ['docker.io', 'index.docker.io'], prefix: 'dockerhub', credentials: undefined, tagTtl: DEFAULT_UPSTREAM_TTL_MS, contentTtl: 0, ca: undefined, insecure: false, dockerHub: true },
      { name: 'ghcr', url: 'https://ghcr.io', namespaces: [], prefix: 'mirrors/ghcr', credentials: { username: 'bot', password: 'tok' }, tagTtl: 300_000, contentTtl: 0, ca: '/etc/ca.pem', insecure: true, dockerHub: false },
    ]);
  });
});

describe('proxy config: errors', () => {
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ['neither form', { username: 'a' }, 'config: proxy: set proxy.remoteurl (the whole registry caches one upstream) or proxy.upstreams\nconfig: proxy.username: applies to proxy.remoteurl; give each upstream its own under proxy.upstreams'],
    ['both forms', { remoteurl: 'https://a.example', upstreams: [hub] }, 'config: proxy.upstreams: cannot be combined with proxy.remoteurl (remoteurl makes the whole registry a cache of one upstream)'],
    ['ttl without remoteurl', { upstreams: [hub], ttl: '1h' }, 'config: proxy.ttl: applies to proxy.remoteurl; give each upstream its own under proxy.upstreams'],
    ['remoteurl not http(s)', { remoteurl: 'ftp://a.example' }, 'config: proxy.remoteurl: must be an absolute http:// or https:// URL'],
    ['remoteurl relative', { remoteurl: 'registry-1.docker.io' }, 'config: proxy.remoteurl: must be an absolute http:// or https:// URL'],
    ['credentials in the URL, never echoed', { remoteurl: 'https://alice:Hunter2@a.example' }, 'config: proxy.remoteurl: must not carry credentials; set username and password instead'],
    ['a query in the URL', { upstreams: [{ ...hub, url: 'https://a.example/?x=1' }] }, 'config: proxy.upstreams[0].url: must not have a query or a fragment'],
    ['a bad remoteurl ttl', { remoteurl: 'https://a.example', ttl: '7d' }, 'config: proxy.ttl: unknown unit "d" in duration "7d" (units: ns, us, ms, s, m, h); expected a duration such as 24h or 168h'],
    ['an upstream without name and url', { upstreams: [{}] }, 'config: proxy.upstreams[0].name: required\nconfig: proxy.upstreams[0].url: required'],
    ['an upstream that is no mapping', { upstreams: ['dockerhub'] }, 'config: proxy.upstreams[0]: expected mapping, got string "dockerhub"'],
    ['a bad name', { upstreams: [{ ...hub, name: 'Docker Hub' }] }, 'config: proxy.upstreams[0].name: must be lowercase letters and digits, separated by single ".", "_" or "-"'],
    ['duplicate names', { upstreams: [hub, { ...hub, namespaces: [], prefix: 'other' }] }, 'config: proxy.upstreams[1].name: duplicate upstream name "dockerhub" (also upstreams[0])'],
    ['a prefix that is no repository path', { upstreams: [{ ...hub, prefix: 'Docker/Hub' }] }, 'config: proxy.upstreams[0].prefix: "Docker/Hub" is not a repository name path (components of lowercase letters and digits, separated by "/")'],
    ['a prefix with an empty component', { upstreams: [{ ...hub, prefix: 'a//b' }] }, 'config: proxy.upstreams[0].prefix: "a//b" is not a repository name path (components of lowercase letters and digits, separated by "/")'],
    ['duplicate prefixes (one defaulted)', { upstreams: [hub, { name: 'quay', url: 'https://quay.io', prefix: 'dockerhub' }] }, 'config: proxy.upstreams[1].prefix: prefix "dockerhub" overlaps the prefix "dockerhub" of upstreams[0]'],
    ['nested prefixes', { upstreams: [{ ...hub, prefix: 'mirrors' }, { name: 'quay', url: 'https://quay.io', prefix: 'mirrors/quay' }] }, 'config: proxy.upstreams[1].prefix: prefix "mirrors/quay" overlaps the prefix "mirrors" of upstreams[0]'],
    ['a namespace routed twice', { upstreams: [hub, { name: 'hub2', url: 'https://mirror.gcr.io', namespaces: ['DOCKER.IO'] }] }, 'config: proxy.upstreams[1].namespaces[0]: namespace "docker.io" is already routed to upstreams[0]'],
    ['a namespace that is no host', { upstreams: [{ ...hub, namespaces: ['https://docker.io'] }] }, 'config: proxy.upstreams[0].namespaces[0]: "https://docker.io" is not a registry host (host or host:port)'],
    ['a negative ttl', { upstreams: [{ ...hub, ttl: '-1m' }] }, 'config: proxy.upstreams[0].ttl: must not be negative'],
    ['an unknown key', { upstreams: [{ ...hub, mirror: true }] }, 'config: proxy.upstreams[0].mirror: unknown key (known keys: name, url, namespaces, prefix, username, password, ttl, ca, insecure)'],
    ['an unknown section key', { remoteurl: 'https://a.example', remoteURL: 'x' }, 'config: proxy.remoteURL: unknown key (did you mean "remoteurl"?)'],
  ];
  for (const [name, proxy, message] of cases) {
    it(name, () => {
      const err = configError(minimal(proxy));
      assert.equal(err.message, message);
      assert.doesNotMatch(err.message, /Hunter2/);
    });
  }

  it('accepts namespaces with a port and IP literals', () => {
    const [u] = proxyUpstreams(parseConfig(minimal({ upstreams: [{ ...hub, namespaces: ['registry.local:5000', '10.0.0.1:443', '[::1]:5000'] }] })).proxy);
    assert.deepEqual(u?.namespaces, ['registry.local:5000', '10.0.0.1:443', '[::1]:5000']);
  });
});

describe('proxy config: environment overrides', () => {
  it("REGISTRY_PROXY_REMOTEURL, _USERNAME, _PASSWORD and _TTL make Distribution's form", async () => {
    const config = await loadConfig({
      env: { REGISTRY_PROXY_REMOTEURL: 'https://registry-1.docker.io', REGISTRY_PROXY_USERNAME: 'alice', REGISTRY_PROXY_PASSWORD: '12345', REGISTRY_PROXY_TTL: '72h' },
    });
    const [remote] = proxyUpstreams(config.proxy);
    assert.equal(remote?.url, 'https://registry-1.docker.io');
    assert.deepEqual(remote?.credentials, { username: 'alice', password: '12345' }, 'a numeric password is its text');
    assert.equal(remote?.contentTtl, 72 * 3600_000);
  });

  it('REGISTRY_PROXY_UPSTREAMS_0_* builds an upstream, and a whole list as YAML works too', async () => {
    const one = await loadConfig({
      env: { REGISTRY_PROXY_UPSTREAMS_0_NAME: 'dockerhub', REGISTRY_PROXY_UPSTREAMS_0_URL: 'https://registry-1.docker.io', REGISTRY_PROXY_UPSTREAMS_0_NAMESPACES: '[docker.io]', REGISTRY_PROXY_UPSTREAMS_0_PASSWORD: 'pw' },
    });
    assert.deepEqual(proxyUpstreams(one.proxy).map((u) => [u.name, u.prefix, u.namespaces, u.credentials]), [['dockerhub', 'dockerhub', ['docker.io'], { username: '', password: 'pw' }]]);
    const list = await loadConfig({ env: { REGISTRY_PROXY_UPSTREAMS: '[{name: quay, url: "https://quay.io"}]' } });
    assert.deepEqual(proxyUpstreams(list.proxy).map((u) => u.name), ['quay']);
  });

  it('a bad value from the environment names the variable, not the password', async () => {
    await assert.rejects(
      loadConfig({ env: { REGISTRY_PROXY_REMOTEURL: 'https://bob:Hunter2@mirror.example' } }),
      (err: unknown) => err instanceof ConfigError && err.message === 'config: proxy.remoteurl: must not carry credentials; set username and password instead (from the environment variable REGISTRY_PROXY_REMOTEURL)',
    );
  });
});

describe('proxy config: serve', () => {
  it('refuses to start with a valid proxy section until the cache is served', async () => {
    const { startRegistry } = await import('../../src/cli/serve.js');
    await assert.rejects(startRegistry(parseConfig(minimal({ remoteurl: 'https://registry-1.docker.io' }))), (err: unknown) => err instanceof ConfigError && /^config: proxy: the pull-through cache is not served/.test(err.message));
  });
});
