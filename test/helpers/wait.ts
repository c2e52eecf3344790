import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Polls `condition` until it holds. The deadline is a generous bound for a machine so slow (or code so
 * broken) that the condition never comes, never an expected duration: tests wait for facts, not times.
 */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Bytes stored so far by the uploads in progress of `repo` under the filesystem storage root `dir`. */
export async function uploadedBytes(dir: string, repo: string): Promise<number> {
  const uploads = join(dir, 'docker/registry/v2/repositories', repo, '_uploads');
  let total = 0;
  for (const id of await readdir(uploads).catch(() => [] as string[])) {
    total += await stat(join(uploads, id, 'data')).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}
