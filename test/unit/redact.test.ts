import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { redactRequestUri, stripUserinfo, stripUserinfoDeep } from '../../src/log/redact.js';
import { createLogger } from '../../src/log/logger.js';
import { buildEvent } from '../../src/notifications/event.js';
import { Notifier } from '../../src/notifications/notifier.js';
import { notificationsSchema } from '../../src/notifications/schema.js';
import { startDebugServer } from '../../src/http/debug-server.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { startTestRegistry } from '../helpers/app.js';

describe('stripUserinfo', () => {
  const cases: Array<[string, string]> = [
    ['https://user:pass@hooks.example.com/x', 'https://hooks.example.com/x'],
    ['http://user@host:8080', 'http://host:8080'],
    ['http://u:p@ss@host/p?q=a@b', 'http://host/p?q=a@b'],
    ['see http://a:b@c/ and https://d:e@f/g', 'see http://c/ and https://f/g'],
    ['https://host/path@x', 'https://host/path@x'],
    ['mailto-like user@example.com', 'mailto-like user@example.com'],
    ['no url here', 'no url here'],
  ];
  for (const [input, expected] of cases) it(input, () => assert.equal(stripUserinfo(input), expected));
  it('walks nested records', () => {
    assert.deepEqual(stripUserinfoDeep({ a: { url: 'https://u:p@h/' }, list: ['http://x:y@z/'], n: 1 }), { a: { url: 'https://h/' }, list: ['http://z/'], n: 1 });
  });
});

describe('redactRequestUri', () => {
  const cases: Array<[string, string]> = [
    ['/v2/a/blobs/uploads/u?_state=abc', '/v2/a/blobs/uploads/u?_state=…'],
    ['/v2/a/blobs/uploads/u?%5Fstate=abc', '/v2/a/blobs/uploads/u?%5Fstate=…'],
    ['/v2/a/blobs/uploads/u?_st%61te=abc&digest=sha256:00', '/v2/a/blobs/uploads/u?_st%61te=…&digest=sha256:00'],
    ['/u?_state=one&x=1&_state=two', '/u?_state=…&x=1&_state=…'],
    ['/u?%5fstate=one&%5Fstate=two', '/u?%5fstate=…&%5Fstate=…'],
    ['/u?_state', '/u?_state=…'],
    ['/u?my_state=keep&state=keep', '/u?my_state=keep&state=keep'],
    ['/u?%zz=keep&_state=x', '/u?%zz=keep&_state=…'],
    ['http://u:p@host/v2/?_state=x', 'http://host/v2/?_state=…'],
    ['/v2/', '/v2/'],
  ];
  for (const [input, expected] of cases) it(input, () => assert.equal(redactRequestUri(input), expected));
});

describe('secrets never reach logs or /debug/vars', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it('a webhook URL with user:pass@ is used for delivery but logged and shown without its credentials', async () => {
    const seen: Array<string | undefined> = [];
    const receiver = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume();
      res.writeHead(503).end();
    });
    servers.push(receiver);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', formatter: 'text', destination: { write: (l: string) => lines.push(l) } });
    const config = notificationsSchema.parse({ endpoints: [{ name: 'hook', url: `http://hook-user:S3cr3t-pw@127.0.0.1:${port}/events`, threshold: 1, backoff: '1h' }] });
    const notifier = Notifier.fromConfig(config, { logger });
    const debug = await startDebugServer({ addr: '127.0.0.1:0', health: new HealthMonitor([]), notifications: notifier, logger });
    try {
      notifier.emit(buildEvent({ action: 'push', target: { repository: 'r', mediaType: 'application/octet-stream' }, request: { id: 'i', method: 'PUT', useragent: 't' }, source: {} }));
      const deadline = Date.now() + 10_000;
      while (!lines.some((l) => l.includes('endpoint failing')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(lines.some((l) => l.includes('endpoint failing')), 'the failure is logged (warn)');
      assert.ok(lines.some((l) => l.includes('configuring endpoint') && l.includes(`http://127.0.0.1:${port}/events`)), 'the configuration line (info) shows the URL');
      assert.equal(seen[0], `Basic ${Buffer.from('hook-user:S3cr3t-pw').toString('base64')}`, 'delivery still uses the credentials');
      const vars = await (await fetch(`http://127.0.0.1:${debug.address.port}/debug/vars`)).text();
      assert.ok(vars.includes(`http://127.0.0.1:${port}/events`), vars);
      for (const text of [...lines, vars]) {
        assert.ok(!text.includes('S3cr3t-pw'), `password leaked: ${text}`);
        assert.ok(!text.includes('hook-user'), `user name leaked: ${text}`);
      }
    } finally {
      await debug.close();
      await notifier.close(100);
    }
  });

  it('any log field or message holding a URL with credentials is stripped (json and text)', () => {
    for (const formatter of ['json', 'text'] as const) {
      const lines: string[] = [];
      const logger = createLogger({ level: 'info', formatter, destination: { write: (l: string) => lines.push(l) } });
      logger.info({ target: { remote: 'https://bob:Hunter2@mirror.example/v2/' } }, 'proxying to http://alice:Pa55@up.example/');
      assert.equal(lines.length, 1);
      assert.ok(!/Hunter2|Pa55|bob|alice/.test(lines[0] ?? ''), lines[0]);
      assert.ok(lines[0]?.includes('mirror.example/v2/') && lines[0].includes('http://up.example/'), lines[0]);
    }
  });

  it('the access log redacts every _state, however spelled', async () => {
    const r = await startTestRegistry();
    try {
      const start = await fetch(`${r.url}/v2/logs/repo/blobs/uploads/`, { method: 'POST' });
      const state = new URL(start.headers.get('location') ?? '', r.url).searchParams.get('_state') ?? '';
      assert.ok(state.length > 20);
      const path = new URL(start.headers.get('location') ?? '', r.url).pathname;
      const encoded = encodeURIComponent(state);
      const res = await fetch(`${r.url}${path}?%5Fstate=${encoded}&_state=${encoded}&_st%61te=${encoded}`);
      await res.arrayBuffer();
      const access = r.logs.filter((l) => l.includes('response completed') && l.includes(path));
      assert.equal(access.length, 1, 'the GET was logged');
      for (const line of r.logs) {
        assert.ok(!line.includes(encoded) && !line.includes(state.slice(0, 20)), `state leaked: ${line}`);
      }
    } finally {
      await r.close();
    }
  });
});
