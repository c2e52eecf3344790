// The `lifecycle` configuration section: tag globs, sizes, the schema (issue #14's keys), its errors,
// REGISTRY_LIFECYCLE_* overrides, and the commented example in config.example.yml.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { applyEnvOverrides } from '../../src/config/env.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { formatSize, parseSize } from '../../src/config-fields/size.js';
import { compileTagGlob, matchTagGlob, tagGlobProblem } from '../../src/lifecycle/tag-glob.js';
import type { LifecycleConfig } from '../../src/lifecycle/schema.js';

const H = 3600_000;
const GiB = 1024 ** 3;

/** The parsed lifecycle section of a minimal configuration with `lifecycle` set to `section`. */
function lifecycleOf(section: unknown, env: Record<string, string> = {}): LifecycleConfig {
  return parseConfig(applyEnvOverrides({ version: '0.1', storage: { inmemory: {} }, lifecycle: section }, env)).lifecycle;
}

function issuesOf(section: unknown, env: Record<string, string> = {}): string[] {
  try {
    lifecycleOf(section, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  assert.fail('expected a ConfigError');
}

/** The issue's example, as YAML would give it. */
const ISSUE_EXAMPLE = {
  retention: {
    interval: '1h',
    dryrun: false,
    rules: [
      {
        repositories: ['ci/**'],
        tags: ['**'],
        keep: { latest: 5, pushedwithin: '168h', pulledwithin: '720h', tags: ['release-*', 'latest'] },
        untagged: { olderthan: '24h' },
      },
    ],
  },
  immutable: [{ repositories: ['prod/**'], tags: ['v*'] }],
  quotas: [{ repositories: ['team-a/**'], limit: '10GiB' }],
};

const ISSUE_EXAMPLE_PARSED: LifecycleConfig = {
  retention: {
    interval: H,
    dryrun: false,
    rules: [
      {
        repositories: ['ci/**'],
        tags: ['**'],
        keep: { latest: 5, pushedwithin: 168 * H, pulledwithin: 720 * H, tags: ['release-*', 'latest'] },
        untagged: { olderthan: 24 * H },
      },
    ],
  },
  immutable: [{ repositories: ['prod/**'], tags: ['v*'] }],
  quotas: [{ repositories: ['team-a/**'], limit: 10 * GiB }],
};

describe('tag globs', () => {
  // [pattern, tag, matches]
  const cases: Array<[string, string, boolean]> = [
    ['latest', 'latest', true],
    ['latest', 'Latest', false],
    ['latest', 'latest2', false],
    ['**', 'anything', true],
    ['**', 'v1.2.3', true],
    ['*', 'x', true],
    ['release-*', 'release-1.2', true],
    ['release-*', 'release-', true],
    ['release-*', 'prerelease-1', false],
    ['v*', 'v1', true],
    ['v*', 'V1', false],
    ['*-rc*', '1.0-rc2', true],
    ['*-rc*', '1.0', false],
    ['1.0', '1x0', false], // "." is literal
    ['sha256-*.sig', 'sha256-abc.sig', true],
    ['sha256-*.sig', 'sha256-abc.att', false],
  ];
  for (const [pattern, tag, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${tag}`, () => assert.equal(matchTagGlob(pattern, tag), expected));
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty pattern/],
    ['a/b', /a tag has no "\/"/],
    ['v**', /must be the whole pattern/],
    ['v?', /invalid character/],
    ['tag with space', /invalid character/],
  ];
  for (const [pattern, problem] of invalid) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.match(tagGlobProblem(pattern) ?? '', problem);
      assert.throws(() => compileTagGlob(pattern), TypeError);
    });
  }
});

describe('sizes', () => {
  // [value, bytes]
  const valid: Array<[string | number, number]> = [
    [0, 0],
    [1073741824, GiB],
    ['1073741824', GiB],
    ['512B', 512],
    ['1KB', 1000],
    ['1MB', 1000 ** 2],
    ['1GB', 1000 ** 3],
    ['2TB', 2 * 1000 ** 4],
    ['1KiB', 1024],
    ['1MiB', 1024 ** 2],
    ['10GiB', 10 * GiB],
    ['1TiB', 1024 ** 4],
    ['1.5GiB', 1.5 * GiB],
    ['0.5KB', 500],
    ['10 GiB', 10 * GiB],
  ];
  for (const [value, bytes] of valid) it(`${JSON.stringify(value)} is ${bytes} bytes`, () => assert.equal(parseSize(value), bytes));

  const invalid: Array<[string | number, RegExp]> = [
    [-1, /non-negative integer/],
    [1.5, /non-negative integer/],
    ['10gib', /unknown unit "gib".*did you mean GiB\?/],
    ['10Gb', /unknown unit "Gb".*did you mean GB\?/],
    ['10G', /unknown unit "G" in size "10G" \(units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB\)/],
    ['1.5B', /not a whole number of bytes/],
    ['0.0001KB', /not a whole number of bytes/],
    ['lots', /invalid size "lots"/],
    ['-1GiB', /invalid size/],
    ['99999999TiB', /too large/],
  ];
  for (const [value, problem] of invalid) it(`refuses ${JSON.stringify(value)}`, () => assert.throws(() => parseSize(value), problem));

  it('formats in the largest exact IEC unit, parsing back', () => {
    for (const [bytes, text] of [
      [10 * GiB, '10GiB'],
      [1536, '1536B'],
      [2048, '2KiB'],
      [1000, '1000B'],
      [0, '0B'],
    ] as const) {
      assert.equal(formatSize(bytes), text);
      assert.equal(parseSize(text), bytes);
    }
  });
});

describe('lifecycle schema', () => {
  it('parses the example of issue #14 (durations in ms, the limit in bytes)', () => {
    assert.deepEqual(lifecycleOf(ISSUE_EXAMPLE), ISSUE_EXAMPLE_PARSED);
  });

  it('is absent unless configured, and all defaults when empty', () => {
    assert.equal(lifecycleOf(undefined), undefined);
    assert.equal(lifecycleOf(null), undefined);
    assert.deepEqual(lifecycleOf({}), { retention: { interval: H, dryrun: false, rules: [] }, immutable: [], quotas: [] });
  });

  it('takes a single pattern as a one-element list, and leaves absent keep clauses out', () => {
    const rule = lifecycleOf({ retention: { rules: [{ repositories: 'ci/**', tags: '*', keep: { latest: null, tags: 'v*' } }] } })?.retention.rules[0];
    assert.deepEqual([rule?.repositories, rule?.tags, rule?.keep.tags], [['ci/**'], ['*'], ['v*']]);
    assert.deepEqual([rule?.keep.latest, rule?.keep.pushedwithin, rule?.keep.pulledwithin, rule?.untagged], [undefined, undefined, undefined, undefined]);
  });

  it('accepts a rule that deletes only untagged manifests', () => {
    const parsed = lifecycleOf({ retention: { rules: [{ repositories: ['**'], untagged: { olderthan: '168h' } }] } });
    assert.deepEqual(parsed?.retention.rules, [{ repositories: ['**'], tags: [], keep: { tags: [] }, untagged: { olderthan: 168 * H } }]);
  });

  // [what, section, the error lines]
  const errors: Array<[string, unknown, string[]]> = [
    ['an unknown key, with a hint', { retention: { intervall: '1h' } }, ['config: lifecycle.retention.intervall: unknown key (did you mean "interval"?)']],
    ['an unknown top-level key', { quota: [] }, ['config: lifecycle.quota: unknown key (did you mean "quotas"?)']],
    ['an interval under a minute', { retention: { interval: '10s' } }, ['config: lifecycle.retention.interval: must be at least 1m']],
    ['a malformed interval', { retention: { interval: '1d' } }, ['config: lifecycle.retention.interval: unknown unit "d" in duration "1d" (units: ns, us, ms, s, m, h); expected a duration such as 1h or 24h']],
    ['a rule without repositories', { retention: { rules: [{ tags: ['*'] }] } }, ['config: lifecycle.retention.rules[0].repositories: required']],
    ['a rule that deletes nothing', { retention: { rules: [{ repositories: ['x'] }] } }, ['config: lifecycle.retention.rules[0]: a rule must say what it may delete: tags (tag patterns) or untagged (olderthan)']],
    [
      'bad patterns, each at its index',
      { retention: { rules: [{ repositories: ['ci/**', 'CI/*'], tags: ['ok', 'v**'] }] } },
      [
        'config: lifecycle.retention.rules[0].repositories[1]: invalid repository pattern "CI/*": repository names are lowercase; upper-case letters never match',
        'config: lifecycle.retention.rules[0].tags[1]: invalid tag pattern "v**": "**" must be the whole pattern (it matches every tag; use "*" within a pattern)',
      ],
    ],
    [
      'bad keep clauses',
      { retention: { rules: [{ repositories: ['x'], tags: ['*'], keep: { latest: -1, pushedwithin: '-1h', pulledwithin: 'soon', last: 3 } }] } },
      [
        'config: lifecycle.retention.rules[0].keep.latest: must be at least 0',
        'config: lifecycle.retention.rules[0].keep.pushedwithin: must be at least 0',
        'config: lifecycle.retention.rules[0].keep.pulledwithin: invalid duration "soon"; expected a duration such as 168h or 720h',
        'config: lifecycle.retention.rules[0].keep.last: unknown key (did you mean "latest"?)',
      ],
    ],
    ['untagged without olderthan', { retention: { rules: [{ repositories: ['x'], untagged: {} }] } }, ['config: lifecycle.retention.rules[0].untagged.olderthan: required']],
    ['an immutable rule without tags', { immutable: [{ repositories: ['prod/**'] }] }, ['config: lifecycle.immutable[0].tags: required']],
    ['an immutable rule with an empty tag list', { immutable: [{ repositories: ['prod/**'], tags: [] }] }, ['config: lifecycle.immutable[0].tags: must have at least 1 entries']],
    ['a quota without a limit', { quotas: [{ repositories: ['team-a/**'] }] }, ['config: lifecycle.quotas[0].limit: required']],
    [
      'a limit in the wrong case',
      { quotas: [{ repositories: ['team-a/**'], limit: '10gib' }] },
      ['config: lifecycle.quotas[0].limit: unknown unit "gib" in size "10gib" (units are case-sensitive: did you mean GiB?) (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB); expected a size such as 500MB, 10GiB or 1073741824'],
    ],
    ['a limit that is a list', { quotas: [{ repositories: ['a'], limit: [1] }] }, ['config: lifecycle.quotas[0].limit: expected number, got list']],
  ];
  for (const [what, section, lines] of errors) it(`refuses ${what}, naming the key path`, () => assert.deepEqual(issuesOf(section), lines));
});

describe('REGISTRY_LIFECYCLE_* overrides', () => {
  it('set the scalar keys', () => {
    const parsed = lifecycleOf({}, { REGISTRY_LIFECYCLE_RETENTION_INTERVAL: '30m', REGISTRY_LIFECYCLE_RETENTION_DRYRUN: 'true' });
    assert.equal(parsed?.retention.interval, 30 * 60_000);
    assert.equal(parsed?.retention.dryrun, true);
  });

  it('create the section when the file has none', () => {
    assert.equal(lifecycleOf(undefined, { REGISTRY_LIFECYCLE_RETENTION_DRYRUN: 'yes' })?.retention.dryrun, true);
  });

  it('change an entry of a list by index', () => {
    const parsed = lifecycleOf(ISSUE_EXAMPLE, {
      REGISTRY_LIFECYCLE_QUOTAS_0_LIMIT: '20GiB',
      REGISTRY_LIFECYCLE_RETENTION_RULES_0_KEEP_LATEST: '10',
      REGISTRY_LIFECYCLE_RETENTION_RULES_0_UNTAGGED_OLDERTHAN: '48h',
    });
    assert.equal(parsed?.quotas[0]?.limit, 20 * GiB);
    assert.equal(parsed?.retention.rules[0]?.keep.latest, 10);
    assert.equal(parsed?.retention.rules[0]?.untagged?.olderthan, 48 * H);
  });

  it('start a list, or append to one, by index; a bare ** is the pattern', () => {
    const parsed = lifecycleOf(ISSUE_EXAMPLE, {
      REGISTRY_LIFECYCLE_RETENTION_RULES_1_REPOSITORIES: 'tmp/**',
      REGISTRY_LIFECYCLE_RETENTION_RULES_1_TAGS: '**',
      REGISTRY_LIFECYCLE_RETENTION_RULES_1_KEEP_PUSHEDWITHIN: '24h',
      REGISTRY_LIFECYCLE_IMMUTABLE_1_REPOSITORIES: '[release/**]',
      REGISTRY_LIFECYCLE_IMMUTABLE_1_TAGS: '["*"]',
    });
    assert.deepEqual(parsed?.retention.rules[1], { repositories: ['tmp/**'], tags: ['**'], keep: { pushedwithin: 24 * H, tags: [] } });
    assert.deepEqual(parsed?.immutable[1], { repositories: ['release/**'], tags: ['*'] });
    const fresh = lifecycleOf(undefined, { REGISTRY_LIFECYCLE_QUOTAS_0_REPOSITORIES: 'team-b/**', REGISTRY_LIFECYCLE_QUOTAS_0_LIMIT: '500MB' });
    assert.deepEqual(fresh?.quotas, [{ repositories: ['team-b/**'], limit: 500_000_000 }]);
  });

  it('replace a whole list with a YAML value', () => {
    const parsed = lifecycleOf(ISSUE_EXAMPLE, { REGISTRY_LIFECYCLE_IMMUTABLE: '[{repositories: ["prod/**", "stable/*"], tags: ["v*", latest]}]' });
    assert.deepEqual(parsed?.immutable, [{ repositories: ['prod/**', 'stable/*'], tags: ['v*', 'latest'] }]);
  });

  it('cannot leave a gap in a list, and say so naming the variable', () => {
    assert.deepEqual(issuesOf(undefined, { REGISTRY_LIFECYCLE_QUOTAS_1_LIMIT: '1GB' }), ['config: REGISTRY_LIFECYCLE_QUOTAS_1_LIMIT: index 1 is past the end of the list (length 0)']);
  });

  it('are checked like the file: a bad value names the key path', () => {
    assert.deepEqual(issuesOf(ISSUE_EXAMPLE, { REGISTRY_LIFECYCLE_QUOTAS_0_LIMIT: '1gb' }).length, 1);
    assert.match(issuesOf(ISSUE_EXAMPLE, { REGISTRY_LIFECYCLE_QUOTAS_0_LIMIT: '1gb' })[0] ?? '', /^config: lifecycle\.quotas\[0\]\.limit: unknown unit "gb"/);
  });
});

describe('config.example.yml: the lifecycle example', () => {
  it('is commented out, and parses to the issue example once uncommented', () => {
    const text = readFileSync(fileURLToPath(new URL('../../../config.example.yml', import.meta.url)), 'utf8');
    const lines = text.split('\n');
    const start = lines.indexOf('# lifecycle:');
    assert.ok(start > 0, 'config.example.yml has a commented "# lifecycle:" block');
    const block: string[] = [];
    for (const line of lines.slice(start)) {
      if (!line.startsWith('#')) break;
      block.push(line.replace(/^# ?/, ''));
    }
    const tree: unknown = parse(block.join('\n'));
    assert.ok(typeof tree === 'object' && tree !== null && 'lifecycle' in tree);
    assert.deepEqual(lifecycleOf(tree.lifecycle), ISSUE_EXAMPLE_PARSED);
  });
});
