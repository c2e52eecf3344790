/**
 * Writes a registry's storage directly on disk, in Distribution's layout (the one
 * src/storage/paths.ts draws), much faster than pushing through the API: `repos`
 * repositories each holding one image tagged `latest`, and one more repository holding the
 * same image under `tags` tags. The three blobs exist once; each repository links the layer and
 * config (`_layers`: Distribution 2.8's catalog knows a repository by that directory), the
 * manifest revision and, per tag, the `current` and `index` links, as a push leaves them. The
 * same arguments always write the same files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachConcurrently } from '../pool.js';
import { tinyImage, type Blob } from './content.js';

/** What {@link writeScalingLayout} wrote. */
export interface ScalingLayout {
  /** Every repository name, byte-wise sorted (what a full catalog walk lists). */
  readonly repositories: readonly string[];
  /** The repository with `tags` tags. */
  readonly tagsRepository: string;
}

/** The name of the i-th generated repository (zero-padded so name order is number order). */
export function scalingRepoName(i: number): string {
  return `scale/repo-${String(i).padStart(6, '0')}`;
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

/**
 * Writes the layout under `rootDir` (the storage.filesystem.rootdirectory) and resolves with
 * the repository names. Rejects on any file system error.
 */
export async function writeScalingLayout(rootDir: string, repos: number, tags: number): Promise<ScalingLayout> {
  const v2 = join(rootDir, 'docker', 'registry', 'v2');
  const image = tinyImage(4096, Buffer.alloc(4096, 7)); // fixed content: the same digests every time
  const { manifest } = image;

  for (const b of [image.layer, image.config, manifest] satisfies Blob[]) {
    const hex = hexOf(b.digest);
    const blobDir = join(v2, 'blobs', 'sha256', hex.slice(0, 2), hex);
    await mkdir(blobDir, { recursive: true });
    await writeFile(join(blobDir, 'data'), b.bytes);
  }

  // Each directory is made once, parent first, with a plain mkdir: metadata operations are what
  // this costs, and a recursive mkdir of a fresh path probes every level first.
  const writeRepo = async (name: string, tagNames: readonly string[]): Promise<void> => {
    const repo = join(v2, 'repositories', ...name.split('/'));
    const layers = join(repo, '_layers', 'sha256');
    const revisions = join(repo, '_manifests', 'revisions', 'sha256');
    const dirs = [repo, join(repo, '_layers'), layers, join(repo, '_manifests'), join(repo, '_manifests', 'revisions'), revisions, join(repo, '_manifests', 'tags')];
    const links: [string, string][] = [
      [join(layers, hexOf(image.layer.digest)), image.layer.digest],
      [join(layers, hexOf(image.config.digest)), image.config.digest],
      [join(revisions, hexOf(manifest.digest)), manifest.digest],
    ];
    for (const tag of tagNames) {
      const tagDir = join(repo, '_manifests', 'tags', tag);
      dirs.push(tagDir, join(tagDir, 'index'), join(tagDir, 'index', 'sha256'));
      links.push([join(tagDir, 'current'), manifest.digest], [join(tagDir, 'index', 'sha256', hexOf(manifest.digest)), manifest.digest]);
    }
    for (const dir of dirs) await mkdir(dir);
    for (const [dir, digest] of links) {
      await mkdir(dir);
      await writeFile(join(dir, 'link'), digest);
    }
  };

  const names = Array.from({ length: repos }, (_, i) => scalingRepoName(i));
  const tagsRepository = 'scale-tags/app';
  for (const parent of new Set([...names, tagsRepository].map((n) => n.split('/').slice(0, -1).join('/')))) {
    await mkdir(join(v2, 'repositories', ...parent.split('/')), { recursive: true });
  }
  await forEachConcurrently(names, 4, (name) => writeRepo(name, ['latest']));
  const tagNames = Array.from({ length: tags }, (_, i) => `v${String(i).padStart(5, '0')}`);
  await writeRepo(tagsRepository, tagNames);
  return { repositories: [...names, tagsRepository].sort(), tagsRepository };
}
