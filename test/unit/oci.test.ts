import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDigest, tryParseDigest, digestOf, Digester } from '../../src/oci/digest.js';
import { isRepositoryName, isTag, parseManifestReference } from '../../src/oci/reference.js';
import { parseContentRange, parseRangeHeader } from '../../src/oci/ranges.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { OciError } from '../../src/oci/errors.js';
import { baseMediaType } from '../../src/oci/media-types.js';
import { defaultPlatformChild, isAcceptable, negotiateManifest } from '../../src/oci/accept.js';

const HEX64 = 'a'.repeat(64);

describe('digests', () => {
  const cases: Array<[string, boolean]> = [
    [`sha256:${HEX64}`, true],
    [`sha512:${'0'.repeat(128)}`, true],
    [`sha256:${'A'.repeat(64)}`, false],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha512:${HEX64}`, false],
    [`md5:${'a'.repeat(32)}`, false],
    ['sha256', false],
    ['', false],
    [`sha256:${HEX64}/../x`, false],
  ];
  for (const [input, valid] of cases) {
    it(`${valid ? 'accepts' : 'rejects'} ${input.slice(0, 24)}…`, () => {
      assert.equal(tryParseDigest(input) !== undefined, valid);
    });
  }
  it('parseDigest throws DIGEST_INVALID, naming an unsupported algorithm', () => {
    assert.throws(() => parseDigest('md5:abc'), (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID' && /unsupported/.test(e.message));
    assert.throws(() => parseDigest('garbage'), (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID');
  });
  it('the streaming digester equals the one-shot digest and can be copied', () => {
    const d = new Digester();
    d.update(Buffer.from('hello '));
    const snapshot = d.copy();
    d.update(Buffer.from('world'));
    assert.equal(d.digest(), digestOf(Buffer.from('hello world')));
    assert.equal(snapshot.digest(), digestOf(Buffer.from('hello ')));
    assert.equal(d.size, 11);
  });
});

describe('names and references', () => {
  const names: Array<[string, boolean]> = [
    ['library/ubuntu', true],
    ['a', true],
    ['a/b/c/d', true],
    ['foo_bar', true],
    ['foo__bar', true],
    ['foo---bar', true],
    ['foo.bar', true],
    ['Foo', false],
    ['foo/', false],
    ['/foo', false],
    ['foo//bar', false],
    ['foo/../bar', false],
    ['_foo', false],
    ['foo___bar', false],
    ['foo.-bar', false],
    ['a'.repeat(256), false],
    ['', false],
  ];
  for (const [name, valid] of names) {
    it(`name ${JSON.stringify(name.slice(0, 30))} is ${valid ? 'valid' : 'invalid'}`, () => assert.equal(isRepositoryName(name), valid));
  }
  const tags: Array<[string, boolean]> = [
    ['latest', true],
    ['v1.2.3-rc.1_x', true],
    ['_x', true],
    ['.x', false],
    ['-x', false],
    ['a'.repeat(128), true],
    ['a'.repeat(129), false],
    ['a/b', false],
  ];
  for (const [tag, valid] of tags) {
    it(`tag ${JSON.stringify(tag.slice(0, 30))} is ${valid ? 'valid' : 'invalid'}`, () => assert.equal(isTag(tag), valid));
  }
  it('a manifest reference is a digest when it has a colon', () => {
    assert.deepEqual(parseManifestReference('v1'), { kind: 'tag', tag: 'v1' });
    assert.equal(parseManifestReference(`sha256:${HEX64}`).kind, 'digest');
    assert.throws(() => parseManifestReference('sha256:short'), (e: unknown) => e instanceof OciError && e.code === 'DIGEST_INVALID');
    assert.throws(() => parseManifestReference('.bad'), (e: unknown) => e instanceof OciError && e.code === 'TAG_INVALID');
  });
});

describe('ranges', () => {
  const cases: Array<[string | undefined, number, unknown]> = [
    [undefined, 100, { kind: 'none' }],
    ['bytes=0-9', 100, { kind: 'range', range: { start: 0, end: 9 } }],
    ['bytes=90-', 100, { kind: 'range', range: { start: 90, end: 99 } }],
    ['bytes=90-200', 100, { kind: 'range', range: { start: 90, end: 99 } }],
    ['bytes=-10', 100, { kind: 'range', range: { start: 90, end: 99 } }],
    ['bytes=-200', 100, { kind: 'range', range: { start: 0, end: 99 } }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=5-1', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', 100, { kind: 'none' }],
    ['items=0-1', 100, { kind: 'none' }],
  ];
  for (const [header, size, expected] of cases) {
    it(`Range ${String(header)} of ${size}`, () => assert.deepEqual(parseRangeHeader(header, size), expected));
  }
  const contentRanges: Array<[string, unknown]> = [
    ['0-1023', { start: 0, end: 1023 }],
    ['bytes 0-9/10', { start: 0, end: 9 }],
    ['bytes=10-19', { start: 10, end: 19 }],
    ['5-1', undefined],
    ['abc', undefined],
    ['-5', undefined],
    ['0-99999999999999999', undefined],
  ];
  for (const [header, expected] of contentRanges) {
    it(`Content-Range ${header}`, () => assert.deepEqual(parseContentRange(header), expected));
  }
});

describe('manifest parsing', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${HEX64}`, size: 10 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'b'.repeat(64)}`, size: 20 };
  const parse = (obj: unknown, type: string) => parseManifest(Buffer.from(JSON.stringify(obj)), type);
  it('an OCI image manifest lists config and layers as blobs', () => {
    const m = parse({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(m.blobs.map((b) => b.digest), [config.digest, layer.digest]);
    assert.equal(m.artifactType, config.mediaType);
  });
  it('infers the media type when the body omits it', () => {
    assert.equal(parse({ schemaVersion: 2, config, layers: [] }, 'application/vnd.oci.image.manifest.v1+json').mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(parse({ schemaVersion: 2, manifests: [] }, '').mediaType, 'application/vnd.oci.image.index.v1+json');
  });
  it('skips foreign layers with URLs', () => {
    const foreign = { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: `sha256:${'c'.repeat(64)}`, size: 5, urls: ['https://example.com/x'] };
    const m = parse({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config, layers: [foreign] }, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(m.blobs.map((b) => b.digest), [config.digest]);
  });
  it('reads the subject', () => {
    const m = parse({ schemaVersion: 2, config, layers: [], subject: layer }, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(m.subject?.digest, layer.digest);
  });
  const invalid: Array<[string, unknown, string]> = [
    ['schema 1', { schemaVersion: 1 }, 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['wrong schemaVersion', { schemaVersion: 3, config, layers: [] }, 'application/vnd.oci.image.manifest.v1+json'],
    ['negative size', { schemaVersion: 2, config: { ...config, size: -1 }, layers: [] }, 'application/vnd.oci.image.manifest.v1+json'],
    ['header mismatch', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] }, 'application/vnd.docker.distribution.manifest.v2+json'],
    ['index without manifests', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json' }, 'application/vnd.oci.image.index.v1+json'],
    ['unknown type', { schemaVersion: 2, mediaType: 'application/x-foo' }, 'application/x-foo'],
    ['a string', 'hello', 'application/vnd.oci.image.manifest.v1+json'],
  ];
  for (const [label, obj, type] of invalid) {
    it(`refuses ${label} with MANIFEST_INVALID`, () => {
      assert.throws(() => parse(obj, type), (e: unknown) => e instanceof OciError && e.code === 'MANIFEST_INVALID');
    });
  }
  it('baseMediaType strips parameters', () => {
    assert.equal(baseMediaType('Application/JSON; charset=utf-8'), 'application/json');
    assert.equal(baseMediaType(undefined), '');
  });
});

describe('manifest content negotiation', () => {
  const OCI = 'application/vnd.oci.image.manifest.v1+json';
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  const V2 = 'application/vnd.docker.distribution.manifest.v2+json';
  const LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
  // [Accept, stored type, requested by tag, expected]
  const cases: Array<[string | undefined, string, boolean, string]> = [
    [undefined, OCI, true, 'serve'],
    ['*/*', INDEX, false, 'serve'],
    ['application/json', V2, true, 'serve'],
    [`${OCI}, ${INDEX}`, OCI, false, 'serve'],
    [`${V2};q=0.9`, V2, true, 'serve'],
    [V2, OCI, true, 'not-acceptable'],
    [`${V2}, */*`, OCI, false, 'serve'],
    [V2, LIST, true, 'default-platform'],
    [OCI, LIST, true, 'default-platform'],
    // By digest, a digest's answer is its own content: never a child.
    [V2, LIST, false, 'serve'],
    // An OCI index is never swapped for a child (oras asks for an index by digest with the
    // child's media type and would see a digest mismatch).
    [OCI, INDEX, false, 'not-acceptable'],
    [OCI, INDEX, true, 'not-acceptable'],
    [V2, INDEX, true, 'not-acceptable'],
    // Distribution serves a Docker schema 2 manifest whatever the client names.
    [OCI, V2, true, 'serve'],
    [INDEX, V2, false, 'serve'],
  ];
  for (const [accept, stored, byTag, expected] of cases) {
    it(`Accept ${String(accept)} for ${stored.split('.').slice(-2).join('.')} by ${byTag ? 'tag' : 'digest'} → ${expected}`, () => {
      assert.equal(negotiateManifest(accept, stored as Parameters<typeof negotiateManifest>[1], byTag).kind, expected);
    });
  }
  it('isAcceptable: named types, wildcards, and no manifest type at all', () => {
    assert.equal(isAcceptable(V2, V2), true);
    assert.equal(isAcceptable(OCI, V2), false);
    assert.equal(isAcceptable(`${OCI}, application/*`, V2), true);
    assert.equal(isAcceptable(['text/plain', `${LIST}`], LIST), true);
    assert.equal(isAcceptable(undefined, OCI), true);
  });
  it('finds the linux/amd64 child of an index', () => {
    const amd = `sha256:${'1'.repeat(64)}`;
    const body = Buffer.from(JSON.stringify({ manifests: [{ digest: `sha256:${'2'.repeat(64)}`, platform: { os: 'linux', architecture: 'arm64' } }, { digest: amd, platform: { os: 'linux', architecture: 'amd64' } }] }));
    assert.equal(defaultPlatformChild(body), amd);
    assert.equal(defaultPlatformChild(Buffer.from('{}')), undefined);
  });
});
