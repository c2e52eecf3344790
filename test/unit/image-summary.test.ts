/** Issue 14: what the management API reads of stored manifests and image configs (pure, lenient). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { platformOf, readFootprint, readImageConfig, storedBlobs } from '../../src/oci/image-summary.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

describe('platformOf', () => {
  const cases: Array<[unknown, string | undefined]> = [
    [{ os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, 'linux/arm64/v8'],
    [{ os: 'linux', architecture: 'arm', variant: '' }, 'linux/arm'],
    [{ os: 'windows', architecture: 'amd64', 'os.version': '10.0' }, 'windows/amd64'],
    [{ os: 'unknown', architecture: 'unknown' }, undefined], // buildx attestation entries
    [{ os: 'linux' }, undefined],
    ['linux/amd64', undefined],
    [undefined, undefined],
  ];
  for (const [value, expected] of cases) it(JSON.stringify(value) ?? 'undefined', () => assert.equal(platformOf(value), expected));
});

describe('readFootprint', () => {
  it('reads an image manifest: config, layers, artifact type from the config, subject', () => {
    const body = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 10 },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('1'), size: 100 },
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: D('2'), size: 200, urls: ['https://example.com/l'] },
        { mediaType: 'x', digest: 'not-a-digest', size: 1 },
      ],
      subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('e'), size: 5 },
    });
    const f = readFootprint(body);
    assert.equal(f.size, body.byteLength);
    assert.equal(f.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(f.artifactType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(f.subject, D('e'));
    assert.deepEqual(f.layers.map((l) => l.size), [100, 200], 'an unreadable descriptor is left out');
    assert.deepEqual(storedBlobs(f).map((b) => b.digest), [D('c'), D('1')], 'a foreign layer is not stored here');
  });

  it('reads an index (declared or inferred) with each entry’s platform', () => {
    const manifests = [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('b'), size: 2, platform: { os: 'unknown', architecture: 'unknown' } },
    ];
    for (const body of [json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }), json({ schemaVersion: 2, manifests })]) {
      const f = readFootprint(body);
      assert.equal(f.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(f.children.map((c) => [c.digest, c.platform]), [[D('a'), 'linux/amd64'], [D('b'), undefined]]);
      assert.deepEqual(storedBlobs(f), []);
    }
  });

  it('never throws on content it cannot read', () => {
    for (const body of [Buffer.from('not json'), json([1, 2]), json({ layers: 'x', config: 3 })]) {
      const f = readFootprint(body);
      assert.deepEqual([f.layers, f.children], [[], []]);
    }
  });
});

describe('readImageConfig', () => {
  it('reads what the UI shows, in its own names', () => {
    const config = readImageConfig(
      json({
        architecture: 'arm64',
        variant: 'v8',
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        config: { Entrypoint: ['/app'], Cmd: null, Env: ['A=1'], Labels: { a: 'b', n: 1 }, WorkingDir: '/srv', User: '' },
        history: [{ created_by: 'RUN x', empty_layer: true }, { comment: 'c' }],
      }),
    );
    assert.deepEqual(config, {
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
      created: '2024-01-01T00:00:00Z',
      workingDir: '/srv',
      entrypoint: ['/app'],
      env: ['A=1'],
      labels: { a: 'b' },
      history: [{ createdBy: 'RUN x', emptyLayer: true }, { comment: 'c' }],
    });
    assert.equal(platformOf(config), 'linux/arm64/v8');
    assert.deepEqual(readImageConfig(Buffer.from('{')), {});
  });
});
