import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * Checks the invariants of a Distribution-layout directory that must hold whatever happened to
 * the server (a crash included): every blob's content hashes to its name, and every link file
 * holds a complete digest whose blob exists. Returns the problems found (empty when sound).
 */
export async function checkLayout(rootdirectory: string): Promise<string[]> {
  const v2 = join(rootdirectory, 'docker', 'registry', 'v2');
  const problems: string[] = [];
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else files.push(full);
    }
  };
  await walk(v2);
  for (const file of files) {
    const rel = relative(v2, file);
    const parts = rel.split('/');
    if (parts[0] === 'blobs') {
      if (parts.length !== 5 || parts[4] !== 'data') {
        problems.push(`unexpected file in blobs: ${rel}`);
        continue;
      }
      const [, alg, , hex] = parts;
      if (alg !== 'sha256') continue;
      const actual = await sha256File(file);
      if (actual !== hex) problems.push(`blob ${hex} has content ${actual}`);
    } else if (parts.includes('_uploads')) {
      continue;
    } else if (parts[parts.length - 1] === 'link') {
      const content = (await readFile(file, 'utf8')).trim();
      const m = /^sha256:([a-f0-9]{64})$/.exec(content);
      if (m === null) {
        problems.push(`link ${rel} holds ${JSON.stringify(content.slice(0, 80))}`);
        continue;
      }
      const blob = join(v2, 'blobs', 'sha256', (m[1] as string).slice(0, 2), m[1] as string, 'data');
      if (!(await stat(blob).then(() => true, () => false))) problems.push(`link ${rel} points at missing blob ${content}`);
    } else {
      problems.push(`unexpected file: ${rel}`);
    }
  }
  return problems;
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
