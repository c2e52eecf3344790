// From what storage reports to the planner's input: manifests as the planner sees them, and tag pull
// times that reach through an index to its images.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { parseManifest, type ParsedManifest } from '../../src/oci/manifest.js';
import { repositoryState, type StoredRevision } from '../../src/lifecycle/retention-input.js';

const dg = (name: string): Digest => digestOf(Buffer.from(name));
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const descriptor = (mediaType: string, name: string, size: number) => ({ mediaType, digest: dg(name), size });

function image(options: { layers?: string[]; subject?: string; foreign?: string } = {}): ParsedManifest {
  const body = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor('application/vnd.oci.image.config.v1+json', 'config', 100),
    layers: [
      ...(options.layers ?? ['layer']).map((l) => descriptor('application/vnd.oci.image.layer.v1.tar+gzip', l, 1000)),
      ...(options.foreign !== undefined ? [{ ...descriptor('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', options.foreign, 5000), urls: ['https://example.com/x'] }] : []),
    ],
    ...(options.subject !== undefined ? { subject: descriptor(OCI_MANIFEST, options.subject, 10) } : {}),
  };
  return parseManifest(Buffer.from(JSON.stringify(body)), OCI_MANIFEST);
}

function index(children: string[]): ParsedManifest {
  const body = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c) => ({ ...descriptor(OCI_MANIFEST, c, 500), platform: { os: 'linux', architecture: c } })) };
  return parseManifest(Buffer.from(JSON.stringify(body)), OCI_INDEX);
}

describe('repositoryState', () => {
  const revisions: StoredRevision[] = [
    { digest: dg('idx'), manifest: index(['amd64', 'arm64']), pushedAt: new Date(1000) },
    { digest: dg('amd64'), manifest: image() },
    { digest: dg('arm64'), manifest: image() },
    { digest: dg('sig'), manifest: image({ subject: 'idx' }), pushedAt: new Date(3000) },
    { digest: dg('solo'), manifest: image() },
  ];
  const tags = [
    { tag: 'multi', digest: dg('idx'), pushedAt: new Date(1000) },
    { tag: 'solo', digest: dg('solo'), pushedAt: new Date(2000) },
    { tag: 'dangling', digest: dg('absent'), pushedAt: new Date(2500) },
  ];

  it('maps revisions to manifests: media type, push time if known, children, subject, own pull time', () => {
    const { manifests } = repositoryState(tags, revisions, new Map([[dg('amd64'), 77]]));
    assert.deepEqual(manifests[0], { digest: dg('idx'), mediaType: OCI_INDEX, pushedAt: new Date(1000), children: [dg('amd64'), dg('arm64')] });
    assert.deepEqual(manifests[1], { digest: dg('amd64'), mediaType: OCI_MANIFEST, children: [], pulledAt: new Date(77) });
    assert.deepEqual(manifests[3], { digest: dg('sig'), mediaType: OCI_MANIFEST, pushedAt: new Date(3000), children: [], subject: dg('idx') });
  });

  // [what, pulls, the tags' pulledAt in ms (undefined: never)]
  const cases: Array<[string, Array<[string, number]>, Record<string, number | undefined>]> = [
    ['never pulled', [], { multi: undefined, solo: undefined, dangling: undefined }],
    ['a tag\'s own manifest pulled', [['solo', 50], ['idx', 60]], { multi: 60, solo: 50, dangling: undefined }],
    ['an index tag is pulled when one of its images is, the latest counting', [['idx', 10], ['arm64', 90], ['amd64', 40]], { multi: 90, solo: undefined, dangling: undefined }],
    ['a referrer\'s pull does not count for its subject\'s tag', [['sig', 99]], { multi: undefined, solo: undefined, dangling: undefined }],
    ['a tag whose manifest is not listed takes its digest\'s pull', [['absent', 5]], { multi: undefined, solo: undefined, dangling: 5 }],
  ];
  for (const [what, pulls, want] of cases) {
    it(what, () => {
      const state = repositoryState(tags, revisions, new Map(pulls.map(([n, at]) => [dg(n), at])));
      assert.deepEqual(Object.fromEntries(state.tags.map((t) => [t.tag, t.pulledAt?.getTime()])), want);
      assert.deepEqual(state.tags.map((t) => t.pushedAt.getTime()), [1000, 2000, 2500]);
    });
  }
});
