import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, startDistribution, type RegistryHandle } from '../helpers/registries.js';
import { assertStatus, pushImage, sha256 } from '../helpers/oci-client.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

interface Seen {
  readonly status: number;
  readonly digest: string | null;
  readonly type: string | null;
  readonly code: string | undefined;
}

/** The same content in a registry: an OCI index over an OCI image, a Docker list over a schema 2 image. */
async function seed(url: string): Promise<Record<string, string>> {
  const oci = await pushImage(url, 'parity/app', 'oci-image', { mediaType: OCI });
  const v2 = await pushImage(url, 'parity/app', 'v2-image', { mediaType: V2 });
  const index = JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [{ mediaType: OCI, digest: oci.digest, size: oci.body.length, platform: { os: 'linux', architecture: 'amd64' } }] });
  const list = JSON.stringify({ schemaVersion: 2, mediaType: LIST, manifests: [{ mediaType: V2, digest: v2.digest, size: v2.body.length, platform: { os: 'linux', architecture: 'amd64' } }] });
  assertStatus(await fetch(`${url}/v2/parity/app/manifests/oci-index`, { method: 'PUT', headers: { 'Content-Type': INDEX }, body: index }), 201);
  assertStatus(await fetch(`${url}/v2/parity/app/manifests/v2-list`, { method: 'PUT', headers: { 'Content-Type': LIST }, body: list }), 201);
  return { 'oci-image': oci.digest, 'v2-image': v2.digest, 'oci-index': sha256(index), 'v2-list': sha256(list) };
}

/**
 * Manifest content negotiation compared with Distribution 2.8 (Debian's docker-registry), request
 * by request. The one deliberate difference: asked by tag for schema 2 content by a client that
 * does not accept schema 2, Distribution 2.8 tries its schema 1 rewrite, which is disabled, and
 * answers 400 MANIFEST_INVALID; Berth serves the schema 2 manifest as Distribution 3 does, and
 * for a manifest list whose image the client cannot take answers 404 MANIFEST_UNKNOWN, as for an
 * OCI type the client does not accept.
 */
describe('manifest Accept negotiation: Berth and Distribution 2.8 answer alike', { timeout: 5 * 60_000 }, () => {
  let dir: string;
  let distribution: RegistryHandle;
  let berth: RegistryHandle;
  const digests: Record<'distribution' | 'berth', Record<string, string>> = { distribution: {}, berth: {} };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-accept-parity-'));
    distribution = await startDistribution({ rootdirectory: join(dir, 'distribution') });
    berth = await startBerth();
    digests.distribution = await seed(distribution.url);
    digests.berth = await seed(berth.url);
  });
  after(async () => {
    await distribution?.stop();
    await berth?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const accepts = [OCI, INDEX, V2, LIST, `${OCI}, ${INDEX}`, `${V2}, ${LIST}`, `${V2}, ${OCI}`];
  for (const name of ['oci-image', 'oci-index', 'v2-image', 'v2-list']) {
    for (const byTag of [true, false]) {
      it(`${name} by ${byTag ? 'tag' : 'digest'}`, async () => {
        const results: string[] = [];
        for (const accept of accepts) {
          const ask = async (kind: 'distribution' | 'berth', url: string): Promise<Seen> => {
            const ref = byTag ? name : (digests[kind][name] ?? '');
            const res = await fetch(`${url}/v2/parity/app/manifests/${ref}`, { headers: { Accept: accept } });
            const body = Buffer.from(await res.arrayBuffer());
            const code = res.status >= 400 && res.headers.get('content-type')?.includes('json') === true ? (JSON.parse(body.toString()) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code : undefined;
            const digest = res.headers.get('docker-content-digest');
            // Name the answer by what it is, as digests differ between the two registries (random configs).
            const which = Object.entries(digests[kind]).find(([, d]) => d === digest)?.[0] ?? digest;
            return { status: res.status, digest: which, type: res.headers.get('content-type'), code };
          };
          const want = await ask('distribution', distribution.url);
          const got = await ask('berth', berth.url);
          if (byTag && name.startsWith('v2-') && want.status === 400 && want.code === 'MANIFEST_INVALID') {
            // Distribution 2.8's disabled schema 1 rewrite (see above).
            if (name === 'v2-list') assert.deepEqual([got.status, got.code], [404, 'MANIFEST_UNKNOWN'], accept);
            else assert.deepEqual([got.status, got.digest, got.type], [200, name, V2], accept);
            results.push(`${accept} → 400 MANIFEST_INVALID (Distribution 2.8) / ${got.status} ${String(got.digest ?? got.code)} (Berth)`);
            continue;
          }
          assert.deepEqual(got, want, `Accept: ${accept}`);
          results.push(`${accept} → ${want.status} ${String(want.digest)}`);
        }
        // The table, for the record (node --test prints diagnostics).
        for (const line of results) console.log(`# ${name} by ${byTag ? 'tag' : 'digest'}: ${line}`);
      });
    }
  }
});
