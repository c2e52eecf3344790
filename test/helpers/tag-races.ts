import { randomBytes } from 'node:crypto';
import { assertStatus, pushBlob, sha256 } from './oci-client.js';

/** What one round of {@link raceTagAndDelete} left behind, as seen through one registry URL. */
export interface RoundState {
  readonly round: number;
  readonly url: string;
  readonly listed: boolean;
  readonly byTag: number;
  readonly byDigest: number;
}

/** The rounds of a race, counted. */
export interface RaceResult {
  readonly rounds: number;
  /** A tag listed but not resolvable by GET, or resolvable but not listed. */
  readonly inconsistent: readonly RoundState[];
  /** How the races ended: `tag+digest`, `digest` (tag removed), `none`. */
  readonly outcomes: Readonly<Record<string, number>>;
}

const MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/**
 * Issue 10 item 5: per round, pushes a fresh manifest by digest, then races `PUT` of the same
 * manifest by tag (through `urls[0]`) against `DELETE` by digest (through the last URL), and
 * checks through every URL that the tag is either listed and resolvable, or neither. Each round
 * has its own tag, so rounds are independent.
 */
export async function raceTagAndDelete(urls: readonly string[], repo: string, rounds: number): Promise<RaceResult> {
  const putUrl = urls[0] as string;
  const deleteUrl = urls[urls.length - 1] as string;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  assertStatus(await pushBlob(putUrl, repo, config), 201);
  const layer = randomBytes(512);
  assertStatus(await pushBlob(putUrl, repo, layer), 201);
  const inconsistent: RoundState[] = [];
  const outcomes: Record<string, number> = {};
  for (let round = 0; round < rounds; round++) {
    const body = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.byteLength },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.byteLength }],
        annotations: { round: String(round), nonce: randomBytes(4).toString('hex') },
      }),
    );
    const digest = sha256(body);
    const tag = `r${round}`;
    const first = await fetch(`${putUrl}/v2/${repo}/manifests/${digest}`, { method: 'PUT', headers: { 'Content-Type': MEDIA_TYPE }, body });
    assertStatus(first, 201);
    const [put, del] = await Promise.all([
      fetch(`${putUrl}/v2/${repo}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': MEDIA_TYPE }, body }),
      fetch(`${deleteUrl}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' }),
    ]);
    await put.arrayBuffer();
    await del.arrayBuffer();
    if (put.status !== 201 || (del.status !== 202 && del.status !== 404)) throw new Error(`round ${round}: PUT ${put.status}, DELETE ${del.status}`);
    let outcome = '';
    for (const url of urls) {
      const list = await fetch(`${url}/v2/${repo}/tags/list?n=10000`);
      assertStatus(list, 200);
      const listed = ((await list.json()) as { tags: string[] | null }).tags?.includes(tag) === true;
      const byTag = (await fetch(`${url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: MEDIA_TYPE } })).status;
      const byDigest = (await fetch(`${url}/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { Accept: MEDIA_TYPE } })).status;
      if (listed !== (byTag === 200) || (byTag === 200 && byDigest !== 200)) inconsistent.push({ round, url, listed, byTag, byDigest });
      outcome = listed ? 'tag+digest' : byDigest === 200 ? 'digest' : 'none';
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return { rounds, inconsistent, outcomes };
}
