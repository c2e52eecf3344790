// Immutable tags: which rule covers a tag, which writes pass, and the 403 DENIED naming the rule.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSection } from '../../src/config-fields/issues.js';
import { digestOf } from '../../src/oci/digest.js';
import { OciError } from '../../src/oci/errors.js';
import { compileImmutableTags, immutableTagError } from '../../src/lifecycle/immutable.js';
import { lifecycleSchema } from '../../src/lifecycle/schema.js';

const rules = parseSection(lifecycleSchema, ['lifecycle'], {
  immutable: [
    { repositories: ['prod/**'], tags: ['v*'] },
    { repositories: ['prod/base', 'stable/*'], tags: ['**'] },
  ],
})?.immutable ?? assert.fail();
const immutable = compileImmutableTags(rules);
const A = digestOf(Buffer.from('a'));
const B = digestOf(Buffer.from('b'));

function denial(fn: () => void): OciError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OciError) return err;
    throw err;
  }
  assert.fail('expected an OciError');
}

describe('immutable tags: which rule covers a tag', () => {
  // [repository, tag, rule index or undefined]
  const cases: Array<[string, string, number | undefined]> = [
    ['prod/app', 'v1', 0],
    ['prod/team/app', 'v1.2.3', 0],
    ['prod/app', 'latest', undefined],
    ['prod/app', 'V1', undefined],
    ['prod', 'v1', undefined],
    ['prod/base', 'v1', 0],
    ['prod/base', 'latest', 1],
    ['stable/x', 'anything', 1],
    ['stable/x/y', 'anything', undefined],
    ['dev/app', 'v1', undefined],
  ];
  for (const [repository, tag, want] of cases) it(`${repository}:${tag} → ${String(want)}`, () => assert.equal(immutable.ruleFor(repository, tag), want));

  it('no rules: nothing is immutable', () => assert.equal(compileImmutableTags([]).ruleFor('prod/app', 'v1'), undefined));
});

describe('immutable tags: manifest PUT', () => {
  // [what, repository, tag, current, next, refused]
  const cases: Array<[string, string, string, typeof A | undefined, typeof A, boolean]> = [
    ['the first push of an immutable tag', 'prod/app', 'v1', undefined, A, false],
    ['pushing the same digest again', 'prod/app', 'v1', A, A, false],
    ['moving an immutable tag', 'prod/app', 'v1', A, B, true],
    ['moving a mutable tag in the same repository', 'prod/app', 'latest', A, B, false],
    ['moving the tag in a repository no rule covers', 'dev/app', 'v1', A, B, false],
  ];
  for (const [what, repository, tag, current, next, refused] of cases) {
    it(`${refused ? 'refuses' : 'allows'} ${what}`, () => {
      if (refused) assert.throws(() => immutable.checkPut(repository, tag, current, next), OciError);
      else immutable.checkPut(repository, tag, current, next);
    });
  }

  it('refuses with 403 DENIED naming the rule, the tag and where it points', () => {
    const err = denial(() => immutable.checkPut('prod/app', 'v1', A, B));
    assert.equal(err.status, 403);
    assert.equal(err.code, 'DENIED');
    assert.equal(err.message, `tag prod/app:v1 is immutable (lifecycle.immutable[0]: repositories prod/**, tags v*): it cannot be moved to another manifest (it points at ${A})`);
    assert.deepEqual(err.toJSON(), {
      errors: [{ code: 'DENIED', message: err.message, detail: { repository: 'prod/app', tag: 'v1', rule: { index: 0, repositories: ['prod/**'], tags: ['v*'] }, digest: A } }],
    });
  });
});

describe('immutable tags: deletes', () => {
  it('refuses deleting an immutable tag, naming the first one of those a delete would remove', () => {
    const err = denial(() => immutable.checkDelete('prod/app', ['dev', 'v2', 'v3']));
    assert.equal(err.status, 403);
    assert.equal(err.message, 'tag prod/app:v2 is immutable (lifecycle.immutable[0]: repositories prod/**, tags v*): it cannot be deleted');
    assert.deepEqual(err.detail, { repository: 'prod/app', tag: 'v2', rule: { index: 0, repositories: ['prod/**'], tags: ['v*'] } });
    const base = denial(() => immutable.checkDelete('prod/base', ['latest']));
    assert.equal(base.message, 'tag prod/base:latest is immutable (lifecycle.immutable[1]: repositories prod/base, stable/*, tags **): it cannot be deleted');
  });

  it('allows deleting mutable tags, and a delete that removes no tag', () => {
    immutable.checkDelete('prod/app', ['latest', 'dev']);
    immutable.checkDelete('prod/app', []);
    immutable.checkDelete('dev/app', ['v1']);
  });

  it('builds the same error directly', () => {
    const rule = rules[0] ?? assert.fail();
    const err = immutableTagError({ index: 0, rule, repository: 'prod/app', tag: 'v9', action: 'delete' });
    assert.equal(err.message, 'tag prod/app:v9 is immutable (lifecycle.immutable[0]: repositories prod/**, tags v*): it cannot be deleted');
  });
});
