// The retention planner: rule selection, every keep clause, ties, immutable tags, untagged manifests,
// index children, referrers following their subject, and that a dry run plans the same.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSection } from '../../src/config-fields/issues.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { lifecycleSchema } from '../../src/lifecycle/schema.js';
import { describeManifestDecision, describeTagDecision, planRetention, type ManifestState, type RetentionPlan, type TagState } from '../../src/lifecycle/retention-plan.js';

const H = 3600_000;
const NOW = new Date('2026-06-01T12:00:00Z');
const ago = (hours: number): Date => new Date(NOW.getTime() - hours * H);

// Manifests are named in the tests; digests are those names' sha256, mapped back for readable plans.
const digests = new Map<string, Digest>();
const names = new Map<Digest, string>();
function dg(name: string): Digest {
  let digest = digests.get(name);
  if (digest === undefined) {
    digest = digestOf(Buffer.from(name));
    digests.set(name, digest);
    names.set(digest, name);
  }
  return digest;
}
const nameOf = (digest: Digest): string => names.get(digest) ?? digest;

/** A tag: [name, manifest, pushed hours ago, pulled hours ago]. */
type TagRow = readonly [string, string, number, number?];
/** A manifest: name, pushed hours ago (absent: unknown), children, subject. */
interface ManifestRow {
  readonly name: string;
  readonly age?: number;
  readonly children?: readonly string[];
  readonly subject?: string;
}

const tagsOf = (rows: readonly TagRow[]): TagState[] => rows.map(([tag, manifest, pushed, pulled]) => ({ tag, digest: dg(manifest), pushedAt: ago(pushed), ...(pulled !== undefined ? { pulledAt: ago(pulled) } : {}) }));
const manifestsOf = (rows: readonly ManifestRow[]): ManifestState[] =>
  rows.map((m) => ({
    digest: dg(m.name),
    mediaType: (m.children ?? []).length > 0 ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json',
    ...(m.age !== undefined ? { pushedAt: ago(m.age) } : {}),
    children: (m.children ?? []).map(dg),
    ...(m.subject !== undefined ? { subject: dg(m.subject) } : {}),
  }));

/** The lifecycle section from its YAML form, checked by the real schema (durations as written: '168h'). */
function lifecycle(section: unknown): NonNullable<ReturnType<typeof parseLifecycle>> {
  const parsed = parseLifecycle(section);
  assert.ok(parsed !== undefined);
  return parsed;
}
const parseLifecycle = (section: unknown) => parseSection(lifecycleSchema, ['lifecycle'], section);

/** A plan in words: tag → why kept or deleted, manifest name → why deleted. */
interface Summary {
  rule: number | undefined;
  kept: Record<string, string>;
  deleted: Record<string, string>;
  manifests: Record<string, string>;
}

function summary(plan: RetentionPlan): Summary {
  const kept: Record<string, string> = {};
  for (const { tag, reason } of plan.keptTags) {
    if (reason.kind === 'kept') kept[tag] = `kept:${reason.clauses.join('+')}`;
    else if (reason.kind === 'immutable') kept[tag] = `immutable:${reason.immutable}`;
    else kept[tag] = reason.kind;
  }
  const deleted: Record<string, string> = Object.fromEntries(plan.deletedTags.map(({ tag, reason }) => [tag, `rank:${reason.rank}`]));
  const manifests: Record<string, string> = {};
  for (const { digest, reason } of plan.deletedManifests) {
    if (reason.kind === 'referrer') manifests[nameOf(digest)] = `referrer:${nameOf(reason.subject)}`;
    else if (reason.kind === 'index-child') manifests[nameOf(digest)] = `index-child:${nameOf(reason.index)}`;
    else manifests[nameOf(digest)] = 'untagged';
  }
  return { rule: plan.rule, kept, deleted, manifests };
}

interface Case {
  readonly name: string;
  readonly repository?: string;
  /** The lifecycle section (YAML form). */
  readonly config: unknown;
  readonly tags: readonly TagRow[];
  readonly manifests?: readonly ManifestRow[];
  readonly want: Partial<Summary>;
}

const ci = (rule: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ retention: { rules: [{ repositories: ['ci/**'], ...rule }] }, ...extra });

const cases: readonly Case[] = [
  // 1. which rule
  {
    name: 'no rule matches the repository: nothing is touched',
    repository: 'prod/app',
    config: ci({ tags: ['**'] }),
    tags: [['v1', 'm1', 1000]],
    manifests: [{ name: 'm1', age: 1000 }, { name: 'old', age: 1000 }],
    want: { rule: undefined, kept: { v1: 'no-rule' }, deleted: {}, manifests: {} },
  },
  {
    name: 'the first matching rule applies, alone (a later rule that would delete more is not consulted)',
    config: {
      retention: {
        rules: [
          { repositories: ['other/**'], tags: ['**'] },
          { repositories: ['ci/**'], tags: ['**'], keep: { latest: 1 } },
          { repositories: ['**'], tags: ['**'] },
        ],
      },
    },
    tags: [['a', 'm1', 1], ['b', 'm2', 2]],
    want: { rule: 1, kept: { a: 'kept:latest' }, deleted: { b: 'rank:2' } },
  },
  // 2. which tags the rule may delete
  {
    name: 'a tag the rule\'s tags do not match is not touched, whatever its age',
    config: ci({ tags: ['pr-*'] }),
    tags: [['main', 'm1', 9000], ['pr-1', 'm2', 10], ['pr-2', 'm3', 20]],
    want: { kept: { main: 'not-matched' }, deleted: { 'pr-1': 'rank:1', 'pr-2': 'rank:2' } },
  },
  {
    name: 'a rule with untagged only deletes no tag',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v1', 'm1', 9000]],
    manifests: [{ name: 'm1', age: 9000 }],
    want: { kept: { v1: 'not-matched' }, deleted: {}, manifests: {} },
  },
  {
    name: 'without keep clauses every matched tag goes',
    config: ci({ tags: ['**'] }),
    tags: [['a', 'm1', 0], ['b', 'm1', 1]],
    want: { kept: {}, deleted: { a: 'rank:1', b: 'rank:2' } },
  },
  // 3. keep clauses
  {
    name: 'keep.latest keeps the N most recently pushed matched tags',
    config: ci({ tags: ['**'], keep: { latest: 2 } }),
    tags: [['t3', 'm3', 3], ['t1', 'm1', 1], ['t5', 'm5', 5], ['t2', 'm2', 2], ['t4', 'm4', 4]],
    want: { kept: { t1: 'kept:latest', t2: 'kept:latest' }, deleted: { t3: 'rank:3', t4: 'rank:4', t5: 'rank:5' } },
  },
  {
    name: 'keep.latest ranks only the matched tags (untouched ones do not take a place)',
    config: ci({ tags: ['pr-*'], keep: { latest: 1 } }),
    tags: [['main', 'm0', 0], ['pr-2', 'm2', 2], ['pr-1', 'm1', 1]],
    want: { kept: { main: 'not-matched', 'pr-1': 'kept:latest' }, deleted: { 'pr-2': 'rank:2' } },
  },
  {
    name: 'keep.latest: a tie in push time is broken by tag name, the first by code unit ranking first',
    config: ci({ tags: ['**'], keep: { latest: 2 } }),
    tags: [['c', 'm3', 5], ['B', 'm2', 5], ['a', 'm1', 5], ['new', 'm4', 1]],
    want: { kept: { new: 'kept:latest', B: 'kept:latest' }, deleted: { a: 'rank:3', c: 'rank:4' } },
  },
  {
    name: 'keep.latest: 0 keeps nothing',
    config: ci({ tags: ['**'], keep: { latest: 0 } }),
    tags: [['a', 'm1', 1]],
    want: { kept: {}, deleted: { a: 'rank:1' } },
  },
  {
    name: 'keep.latest larger than the tag count keeps them all',
    config: ci({ tags: ['**'], keep: { latest: 10 } }),
    tags: [['a', 'm1', 1], ['b', 'm1', 900]],
    want: { kept: { a: 'kept:latest', b: 'kept:latest' }, deleted: {} },
  },
  {
    name: 'keep.pushedwithin keeps tags pushed at most that long ago (the boundary is within)',
    config: ci({ tags: ['**'], keep: { pushedwithin: '168h' } }),
    tags: [['fresh', 'm1', 1], ['edge', 'm2', 168], ['stale', 'm3', 168.001], ['future', 'm4', -5]],
    want: { kept: { fresh: 'kept:pushedwithin', edge: 'kept:pushedwithin', future: 'kept:pushedwithin' }, deleted: { stale: 'rank:4' } },
  },
  {
    name: 'keep.pulledwithin keeps tags pulled recently; never pulled is not within',
    config: ci({ tags: ['**'], keep: { pulledwithin: '24h' } }),
    tags: [['pulled', 'm1', 900, 10], ['edge', 'm2', 900, 24], ['long-ago', 'm3', 900, 30], ['never', 'm4', 1]],
    want: { kept: { pulled: 'kept:pulledwithin', edge: 'kept:pulledwithin' }, deleted: { never: 'rank:1', 'long-ago': 'rank:3' } },
  },
  {
    name: 'keep.tags keeps the tags its patterns match',
    config: ci({ tags: ['**'], keep: { tags: ['release-*', 'latest'] } }),
    tags: [['latest', 'm1', 900], ['release-1.0', 'm2', 900], ['Latest', 'm3', 900], ['dev', 'm4', 900]],
    want: { kept: { latest: 'kept:tags', 'release-1.0': 'kept:tags' }, deleted: { Latest: 'rank:1', dev: 'rank:2' } },
  },
  {
    name: 'a tag kept by several clauses names them all; ANY clause keeps',
    config: ci({ tags: ['**'], keep: { latest: 1, pushedwithin: '24h', pulledwithin: '24h', tags: ['v*'] } }),
    tags: [['v2', 'm2', 1, 1], ['v1', 'm1', 48, 2], ['dev', 'm3', 30, 100], ['old', 'm4', 50]],
    want: { kept: { v2: 'kept:latest+pushedwithin+pulledwithin+tags', v1: 'kept:pulledwithin+tags' }, deleted: { dev: 'rank:2', old: 'rank:4' } },
  },
  // immutable
  {
    name: 'an immutable tag is never deleted; one a keep clause keeps is reported as kept',
    repository: 'ci/prod',
    config: ci({ tags: ['**'], keep: { tags: ['v1'] } }, { immutable: [{ repositories: ['other/**'], tags: ['**'] }, { repositories: ['ci/prod'], tags: ['v*'] }] }),
    tags: [['v1', 'm1', 900], ['v2', 'm2', 900], ['dev', 'm3', 900]],
    want: { kept: { v1: 'kept:tags', v2: 'immutable:1' }, deleted: { dev: 'rank:1' } },
  },
  {
    name: 'an immutable rule of another repository does not protect the tag',
    repository: 'ci/app',
    config: ci({ tags: ['**'] }, { immutable: [{ repositories: ['ci/prod'], tags: ['**'] }] }),
    tags: [['v1', 'm1', 900]],
    want: { kept: {}, deleted: { v1: 'rank:1' } },
  },
  // 4. untagged manifests
  {
    name: 'untagged.olderthan deletes manifests no tag reaches, pushed longer ago (the boundary and unknown times stay)',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v1', 'tagged', 900]],
    manifests: [{ name: 'tagged', age: 900 }, { name: 'old', age: 30 }, { name: 'young', age: 10 }, { name: 'edge', age: 24 }, { name: 'unknown' }],
    want: { manifests: { old: 'untagged' } },
  },
  {
    name: 'without untagged no manifest is deleted, even one whose tag the rule deletes',
    config: ci({ tags: ['**'] }),
    tags: [['v1', 'm1', 900]],
    manifests: [{ name: 'm1', age: 900 }, { name: 'loose', age: 900 }],
    want: { deleted: { v1: 'rank:1' }, manifests: {} },
  },
  {
    name: 'a manifest whose tags the plan deletes is untagged, and goes when old enough',
    config: ci({ tags: ['**'], keep: { latest: 1 }, untagged: { olderthan: '24h' } }),
    tags: [['new', 'm-new', 1], ['old', 'm-old', 100], ['old-young-manifest', 'm-young', 50], ['alias', 'm-new', 60]],
    manifests: [{ name: 'm-new', age: 100 }, { name: 'm-old', age: 100 }, { name: 'm-young', age: 2 }],
    want: { kept: { new: 'kept:latest' }, deleted: { alias: 'rank:3', old: 'rank:4', 'old-young-manifest': 'rank:2' }, manifests: { 'm-old': 'untagged' } },
  },
  {
    name: 'a manifest kept tags share is reached through any of them',
    config: ci({ tags: ['dev-*'], untagged: { olderthan: '1h' } }),
    tags: [['dev-1', 'm1', 100], ['stable', 'm1', 100]],
    manifests: [{ name: 'm1', age: 100 }],
    want: { deleted: { 'dev-1': 'rank:1' }, manifests: {} },
  },
  // index children
  {
    name: 'the children of a tagged index are reached, however old',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v1', 'index', 900]],
    manifests: [{ name: 'index', age: 900, children: ['amd64', 'arm64'] }, { name: 'amd64', age: 900 }, { name: 'arm64' }],
    want: { manifests: {} },
  },
  {
    name: 'an old untagged index goes with its children, even children of unknown age',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [],
    manifests: [{ name: 'index', age: 900, children: ['amd64', 'arm64'] }, { name: 'amd64', age: 900 }, { name: 'arm64' }],
    want: { manifests: { index: 'untagged', amd64: 'index-child:index', arm64: 'index-child:index' } },
  },
  {
    name: 'nested indexes go together',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [],
    manifests: [{ name: 'outer', age: 900, children: ['inner'] }, { name: 'inner', children: ['leaf'] }, { name: 'leaf' }],
    want: { manifests: { outer: 'untagged', inner: 'index-child:outer', leaf: 'index-child:inner' } },
  },
  {
    name: 'a child another surviving index lists stays: a young untagged one, or a tagged one',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v2', 'tagged-index', 900]],
    manifests: [
      { name: 'old-index', age: 900, children: ['shared-young', 'shared-tagged', 'own'] },
      { name: 'young-index', age: 1, children: ['shared-young'] },
      { name: 'tagged-index', age: 900, children: ['shared-tagged'] },
      { name: 'shared-young', age: 900 },
      { name: 'shared-tagged', age: 900 },
      { name: 'own', age: 900 },
    ],
    want: { manifests: { 'old-index': 'untagged', own: 'index-child:old-index' } },
  },
  {
    name: 'an old child of a young untagged index stays with it',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [],
    manifests: [{ name: 'young-index', age: 1, children: ['old-child'] }, { name: 'old-child', age: 900 }],
    want: { manifests: {} },
  },
  // referrers
  {
    name: 'a referrer of a reached manifest is reached, however old',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v1', 'image', 900]],
    manifests: [{ name: 'image', age: 900 }, { name: 'signature', age: 900, subject: 'image' }, { name: 'sig-of-sig', age: 900, subject: 'signature' }],
    want: { manifests: {} },
  },
  {
    name: 'a referrer of an index child is reached through the tagged index',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [['v1', 'index', 900]],
    manifests: [{ name: 'index', age: 900, children: ['amd64'] }, { name: 'amd64', age: 900 }, { name: 'sbom', age: 900, subject: 'amd64' }],
    want: { manifests: {} },
  },
  {
    name: 'referrers go with their deleted subject, however young, and referrers of referrers too',
    config: ci({ tags: ['**'], untagged: { olderthan: '24h' } }),
    tags: [['v1', 'image', 900]],
    manifests: [
      { name: 'image', age: 900 },
      { name: 'signature', age: 1, subject: 'image' },
      { name: 'sbom', subject: 'image' },
      { name: 'sbom-signature', age: 1, subject: 'sbom' },
    ],
    want: { deleted: { v1: 'rank:1' }, manifests: { image: 'untagged', signature: 'referrer:image', sbom: 'referrer:image', 'sbom-signature': 'referrer:sbom' } },
  },
  {
    name: 'a referrer stays when a keep clause keeps one of its tags; one whose tag is not kept goes with its subject',
    config: ci({ tags: ['**'], keep: { tags: ['*.sig'] }, untagged: { olderthan: '24h' } }),
    tags: [['v1', 'image', 900], ['image.sig', 'signature', 900], ['image.att', 'attestation', 900]],
    manifests: [{ name: 'image', age: 900 }, { name: 'signature', age: 1, subject: 'image' }, { name: 'attestation', age: 1, subject: 'image' }],
    want: { kept: { 'image.sig': 'kept:tags' }, deleted: { 'image.att': 'rank:1', v1: 'rank:3' }, manifests: { image: 'untagged', attestation: 'referrer:image' } },
  },
  {
    name: 'a referrer whose subject is not in the repository goes only when old, like any untagged manifest',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [],
    manifests: [{ name: 'early-old', age: 900, subject: 'absent' }, { name: 'early-young', age: 1, subject: 'absent' }],
    want: { manifests: { 'early-old': 'untagged' } },
  },
  {
    name: 'a referrer of a young untagged manifest goes only when old itself',
    config: ci({ untagged: { olderthan: '24h' } }),
    tags: [],
    manifests: [{ name: 'young', age: 1 }, { name: 'old-sig', age: 900, subject: 'young' }, { name: 'young-sig', age: 1, subject: 'young' }],
    want: { manifests: { 'old-sig': 'untagged' } },
  },
  {
    name: 'the worked example of docs/lifecycle.md',
    config: ci({ tags: ['**'], keep: { latest: 2, pushedwithin: '168h', pulledwithin: '720h', tags: ['latest'] } }),
    tags: [['b-100', 'm1', 4 * 24], ['b-99', 'm2', 8 * 24], ['b-98', 'm3', 12 * 24], ['b-97', 'm4', 16 * 24, 20 * 24], ['b-96', 'm5', 20 * 24, 33 * 24], ['latest', 'm6', 80 * 24]],
    want: {
      kept: { 'b-100': 'kept:latest+pushedwithin', 'b-99': 'kept:latest', 'b-97': 'kept:pulledwithin', latest: 'kept:tags' },
      deleted: { 'b-98': 'rank:3', 'b-96': 'rank:5' },
    },
  },
  {
    name: 'the issue example',
    config: {
      retention: {
        rules: [
          {
            repositories: ['ci/**'],
            tags: ['**'],
            keep: { latest: 2, pushedwithin: '168h', pulledwithin: '720h', tags: ['release-*', 'latest'] },
            untagged: { olderthan: '24h' },
          },
        ],
      },
      immutable: [{ repositories: ['ci/**'], tags: ['v*'] }],
    },
    tags: [
      ['latest', 'm9', 2000],
      ['release-1', 'm8', 2000],
      ['v1', 'm7', 2000],
      ['b-100', 'm6', 100],
      ['b-99', 'm5', 200],
      ['b-98', 'm4', 300],
      ['b-97', 'm3', 400, 500],
      ['b-96', 'm2', 500, 800],
    ],
    manifests: ['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'].map((name) => ({ name, age: 2000 })).concat([{ name: 'm1', age: 2000 }]),
    want: {
      kept: { latest: 'kept:tags', 'release-1': 'kept:tags', v1: 'immutable:0', 'b-100': 'kept:latest+pushedwithin', 'b-99': 'kept:latest', 'b-97': 'kept:pulledwithin' },
      deleted: { 'b-98': 'rank:3', 'b-96': 'rank:5' },
      manifests: { m1: 'untagged', m2: 'untagged', m4: 'untagged' },
    },
  },
];

describe('planRetention', () => {
  for (const c of cases) {
    it(c.name, () => {
      const config = lifecycle(c.config);
      const plan = planRetention({
        repository: c.repository ?? 'ci/app',
        rules: config.retention.rules,
        immutable: config.immutable,
        tags: tagsOf(c.tags),
        manifests: manifestsOf(c.manifests ?? []),
        now: NOW,
      });
      const got = summary(plan);
      const want = { ...got, ...c.want };
      assert.deepEqual(got, want);
      // Every tag is in exactly one list.
      assert.deepEqual([...plan.keptTags, ...plan.deletedTags].map((t) => t.tag).sort(), c.tags.map((t) => t[0]).sort());
    });
  }

  it('plans the same whatever the order of its input', () => {
    const c = cases.find((x) => x.name === 'the issue example');
    assert.ok(c !== undefined);
    const config = lifecycle(c.config);
    const input = { repository: 'ci/app', rules: config.retention.rules, immutable: config.immutable, now: NOW };
    const forward = planRetention({ ...input, tags: tagsOf(c.tags), manifests: manifestsOf(c.manifests ?? []) });
    const backward = planRetention({ ...input, tags: tagsOf([...c.tags].reverse()), manifests: manifestsOf([...(c.manifests ?? [])].reverse()) });
    assert.deepEqual(backward, forward);
  });

  it('is the same plan for a dry run: dryrun is not an input, only whether the caller applies it', () => {
    const section = (dryrun: boolean) => lifecycle({ retention: { dryrun, rules: [{ repositories: ['**'], tags: ['**'], keep: { latest: 1 }, untagged: { olderthan: '1h' } }] } });
    const plan = (dryrun: boolean) => {
      const config = section(dryrun);
      assert.equal(config.retention.dryrun, dryrun);
      return planRetention({ repository: 'a', rules: config.retention.rules, immutable: config.immutable, tags: tagsOf([['x', 'm1', 5], ['y', 'm2', 9]]), manifests: manifestsOf([{ name: 'm1', age: 5 }, { name: 'm2', age: 9 }]), now: NOW });
    };
    assert.deepEqual(plan(true), plan(false));
    assert.equal(plan(true).deletedTags.length, 1);
  });

  it('refuses input that breaks its contract', () => {
    const base = { repository: 'ci/app', rules: [], immutable: [], manifests: [], now: NOW };
    assert.throws(() => planRetention({ ...base, tags: tagsOf([['a', 'm', 1], ['a', 'n', 2]]) }), /tag "a" listed twice/);
    assert.throws(() => planRetention({ ...base, tags: [{ tag: 'a', digest: dg('m'), pushedAt: new Date(NaN) }] }), /tag "a" has an invalid time/);
    assert.throws(() => planRetention({ ...base, tags: [], now: new Date('nonsense') }), /now is not a valid Date/);
  });

  it('describes each decision in one line for the log and --dry-run', () => {
    const config = lifecycle(ci({ tags: ['b-*'], keep: { latest: 1, tags: ['keep-*'] }, untagged: { olderthan: '24h' } }, { immutable: [{ repositories: ['ci/**'], tags: ['v*'] }] }));
    const plan = planRetention({
      repository: 'ci/app',
      rules: config.retention.rules,
      immutable: config.immutable,
      tags: tagsOf([['b-2', 'm2', 1], ['b-1', 'm1', 48], ['main', 'm3', 1]]),
      manifests: manifestsOf([{ name: 'm1', age: 48 }, { name: 'sig', age: 1, subject: 'm1' }]),
      now: NOW,
    });
    const lines = [...plan.keptTags, ...plan.deletedTags].map((d) => describeTagDecision('ci/app', d));
    assert.deepEqual(lines, ['ci/app:b-2 kept (rules[0] keep.latest)', 'ci/app:main kept (rules[0].tags does not match it)', 'ci/app:b-1 deleted (rules[0]: no keep clause keeps it; push rank 2)']);
    assert.deepEqual(
      plan.deletedManifests.map((d) => describeManifestDecision('ci/app', d)).sort(),
      [
        `ci/app@${dg('m1')} deleted (rules[0] untagged.olderthan: untagged, pushed ${ago(48).toISOString()})`,
        `ci/app@${dg('sig')} deleted (rules[0]: a referrer of ${dg('m1')}, which is deleted)`,
      ].sort(),
    );
    const noRule = planRetention({ repository: 'x', rules: [], immutable: [], tags: tagsOf([['t', 'm', 1]]), manifests: [], now: NOW });
    assert.equal(describeTagDecision('x', noRule.keptTags[0] ?? assert.fail()), 'x:t kept (no retention rule matches the repository)');
  });
});
