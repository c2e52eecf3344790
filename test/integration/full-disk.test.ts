import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry } from '../helpers/app.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';

/**
 * A real full disk: a small tmpfs mounted for the test (root only; the tests are skipped, with the
 * reason, where mounting is not allowed).
 */
function mountTmpfs(options: string): { dir: string; unmount: () => void } | string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0] ?? ''}`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function errorLogs(logs: readonly string[]): string[] {
  return logs.filter((l) => l.includes('"level":"error"'));
}

const probe = mountTmpfs('size=64k');
const skip = typeof probe === 'string' ? probe : false;
if (typeof probe !== 'string') probe.unmount();

describe('a full disk (tmpfs)', { skip }, () => {
  const mounts: Array<() => void> = [];
  after(() => {
    for (const unmount of mounts) unmount();
  });

  it('ENOSPC mid-upload: 500 UNKNOWN with Connection: close, the log names ENOSPC, the registry keeps serving', async () => {
    const mount = mountTmpfs('size=1m');
    assert.ok(typeof mount !== 'string', typeof mount === 'string' ? mount : '');
    mounts.push(mount.unmount);
    const r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: join(mount.dir, 'root') }) });
    try {
      const start = await fetch(`${r.url}/v2/full/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const location = new URL(start.headers.get('location') ?? '', r.url);
      // 8 MiB announced into a 1 MiB file system: the write fails while the body is arriving.
      const outcome = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        const req = request(location, { method: 'PATCH', agent: false, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(8 * 1024 * 1024) } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: Buffer.concat(parts).toString() }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          // The server answers and closes while this client is still sending: a write may then hit
          // the closed socket (EPIPE, ECONNRESET) before the answer is read. The connection was
          // closed, which is the point; the status is then unknown (0) and the log says the rest.
          if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: 0, connection: 'close', body: '' });
          else reject(err);
        });
        const chunk = Buffer.alloc(256 * 1024, 5);
        let sent = 0;
        const pump = (): void => {
          while (sent < 32) {
            sent++;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      });
      assert.ok(outcome.status === 500 || outcome.status === 0, `status ${outcome.status}`);
      assert.equal(outcome.connection, 'close');
      assert.ok(!outcome.body.includes('ENOSPC'), 'internal details stay in the log');
      const errors = errorLogs(r.logs);
      assert.ok(errors.some((l) => l.includes('ENOSPC')), errors.join('\n'));
      assert.equal((await fetch(`${r.url}/v2/`)).status, 200, 'the registry keeps serving');
    } finally {
      await r.close();
    }
  });

  it('no inode left for a new directory: the log names ENOSPC, not "ENOENT … mkdir"', async () => {
    const mount = mountTmpfs('size=1m,nr_inodes=64');
    assert.ok(typeof mount !== 'string', typeof mount === 'string' ? mount : '');
    mounts.push(mount.unmount);
    const r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: join(mount.dir, 'root') }) });
    try {
      assert.equal((await fetch(`${r.url}/v2/first/blobs/uploads/`, { method: 'POST' })).status, 202);
      // Use up the inodes, then free one: the upload's temp file gets it, its new directory cannot.
      let filled = 0;
      for (;;) {
        try {
          writeFileSync(join(mount.dir, `fill-${filled}`), '');
          filled++;
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
          break;
        }
      }
      assert.ok(filled > 0);
      rmSync(join(mount.dir, 'fill-0'));
      const res = await fetch(`${r.url}/v2/second/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 500);
      const errors = errorLogs(r.logs);
      assert.ok(errors.some((l) => l.includes('ENOSPC') && l.includes('mkdir')), errors.join('\n'));
      assert.ok(!errors.some((l) => l.includes('ENOENT')), errors.join('\n'));
    } finally {
      await r.close();
    }
  });
});
