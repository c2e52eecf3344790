// The access policy engine: repository globs, rule evaluation (both orders), and the auth.policies schema.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Access } from '../../src/auth/access.js';
import { compileGlob, globProblem, matchGlob } from '../../src/auth/policy/glob.js';
import { compilePolicy, decide, DISTRIBUTION_POLICY, evaluate, type Effect, type PolicyConfig, type PolicyRuleConfig, type Subject } from '../../src/auth/policy/policy.js';
import { policiesSchema } from '../../src/auth/policy/schema.js';

describe('repository globs', () => {
  // [pattern, name, matches]
  const cases: Array<[string, string, boolean]> = [
    ['alpine', 'alpine', true],
    ['alpine', 'alpine2', false],
    ['alpine', 'library/alpine', false],
    ['*', 'alpine', true],
    ['*', 'library/alpine', false],
    ['**', 'alpine', true],
    ['**', 'a/b/c/d', true],
    ['team-a/*', 'team-a/app', true],
    ['team-a/*', 'team-a/app/db', false],
    ['team-a/*', 'team-a', false],
    ['team-a/*', 'team-ab/app', false],
    ['public/**', 'public/x', true],
    ['public/**', 'public/x/y/z', true],
    ['public/**', 'public', false],
    ['public/**', 'publicity/x', false],
    ['**/base', 'base', true],
    ['**/base', 'a/b/base', true],
    ['**/base', 'a/b/database', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/x/y/c', false],
    ['a/**/**/b', 'a/x/b', true],
    ['**/**', 'x/y', true],
    ['team-*/app', 'team-a/app', true],
    ['team-*/app', 'team-/app', true],
    ['team-*/app', 'team-a/b/app', false],
    ['*-dev', 'app-dev', true],
    ['*-dev', 'app-prod', false],
    ['*/*', 'a/b', true],
    ['*/*', 'a', false],
    ['*/*', 'a/b/c', false],
    ['a.b', 'a.b', true],
    ['a.b', 'axb', false, /* "." is literal */],
    ['**/*-cache', 'ci/build-cache', true],
    ['**/*-cache', 'build-cache', true],
  ];
  for (const [pattern, name, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${name}`, () => assert.equal(matchGlob(pattern, name), expected));
  }

  const invalid: Array<[string, RegExp]> = [
    ['', /empty pattern/],
    ['/a', /empty path component/],
    ['a/', /empty path component/],
    ['a//b', /empty path component/],
    ['team**', /whole path component/],
    ['***', /whole path component/],
    ['Team/*', /lowercase/],
    ['a/b?', /invalid character/],
    ['a b', /invalid character/],
  ];
  for (const [pattern, message] of invalid) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.match(globProblem(pattern) ?? '', message);
      assert.throws(() => compileGlob(pattern), TypeError);
    });
  }
});

/** A rule with everything defaulted but what is given. */
function rule(r: Partial<PolicyRuleConfig> & { effect: Effect }): PolicyRuleConfig {
  return { users: [], groups: [], anonymous: false, authenticated: false, repositories: [], catalog: false, actions: [], ...r };
}

const pull = (name: string): Access => ({ type: 'repository', name, action: 'pull' });
const push = (name: string): Access => ({ type: 'repository', name, action: 'push' });
const del = (name: string): Access => ({ type: 'repository', name, action: 'delete' });
const all = (name: string): Access => ({ type: 'repository', name, action: '*' });
const catalog: Access = { type: 'registry', name: 'catalog', action: '*' };
const anonymous: Subject = {};
const as = (user: string): Subject => ({ user });

const EXAMPLE: PolicyConfig = {
  default: 'deny',
  evaluation: 'deny-overrides',
  groups: { admins: ['root'], 'team-a': ['alice', 'bob'], ci: ['robot'] },
  rules: [
    rule({ description: 'public images for everyone', anonymous: true, authenticated: true, repositories: ['public/**'], actions: ['pull'], effect: 'allow' }),
    rule({ groups: ['admins'], repositories: ['**'], catalog: true, actions: ['*'], effect: 'allow' }),
    rule({ groups: ['team-a'], repositories: ['team-a/**'], actions: ['pull', 'push'], effect: 'allow' }),
    rule({ users: ['alice'], repositories: ['team-a/**'], actions: ['delete'], effect: 'allow' }),
    rule({ groups: ['ci'], repositories: ['**'], actions: ['pull'], effect: 'allow' }),
    rule({ groups: ['ci'], repositories: ['**/secret-*'], actions: ['*'], effect: 'deny' }),
    rule({ description: 'frozen release repositories', authenticated: true, repositories: ['releases/**'], actions: ['push', 'delete'], effect: 'deny' }),
    rule({ groups: ['admins', 'ci'], repositories: ['releases/**'], actions: ['pull', 'push'], effect: 'allow' }),
  ],
};

describe('evaluate (deny-overrides)', () => {
  const policy = compilePolicy(EXAMPLE);
  // [subject, access, expected]
  const cases: Array<[string, Subject, Access, Effect]> = [
    ['anonymous pulls public', anonymous, pull('public/alpine'), 'allow'],
    ['anonymous pulls nested public', anonymous, pull('public/tools/jq'), 'allow'],
    ['anonymous cannot push public', anonymous, push('public/alpine'), 'deny'],
    ['anonymous cannot pull team-a', anonymous, pull('team-a/app'), 'deny'],
    ['anonymous cannot list the catalog', anonymous, catalog, 'deny'],
    ['a user pulls public (authenticated: true)', as('nobody'), pull('public/alpine'), 'allow'],
    ['an unlisted user gets the default', as('nobody'), pull('team-a/app'), 'deny'],
    ['team-a member pulls team-a', as('bob'), pull('team-a/app'), 'allow'],
    ['team-a member pushes team-a', as('bob'), push('team-a/app/db'), 'allow'],
    ['team-a member cannot delete without a rule', as('bob'), del('team-a/app'), 'deny'],
    ['alice may delete in team-a (user rule)', as('alice'), del('team-a/app'), 'allow'],
    ['alice may do everything in team-a', as('alice'), all('team-a/app'), 'allow'],
    ['bob may not do everything in team-a', as('bob'), all('team-a/app'), 'deny'],
    ['team-a member cannot pull elsewhere', as('alice'), pull('team-b/app'), 'deny'],
    ['admin does anything', as('root'), del('team-b/app'), 'allow'],
    ['admin lists the catalog', as('root'), catalog, 'allow'],
    ['team-a cannot list the catalog', as('alice'), catalog, 'deny'],
    ['ci pulls anything', as('robot'), pull('team-b/app'), 'allow'],
    ['ci is denied secrets even though it may pull everything', as('robot'), pull('team-b/secret-keys'), 'deny'],
    ['deny wins over the admin allow for releases', as('root'), push('releases/v1'), 'deny'],
    ['admins still pull releases', as('root'), pull('releases/v1'), 'allow'],
    ['ci cannot delete releases', as('robot'), del('releases/v1'), 'deny'],
    ['an unknown registry resource falls to the default', as('root'), { type: 'registry', name: 'other', action: '*' }, 'deny'],
  ];
  for (const [name, subject, access, expected] of cases) {
    it(name, () => assert.equal(evaluate(policy, subject, access), expected));
  }

  it('decide names the deciding rule, or the default', () => {
    assert.deepEqual(decide(policy, as('root'), push('releases/v1')), { effect: 'deny', rule: 6, reason: 'frozen release repositories' });
    assert.deepEqual(decide(policy, anonymous, pull('public/x')), { effect: 'allow', rule: 0, reason: 'public images for everyone' });
    assert.deepEqual(decide(policy, as('robot'), pull('a/secret-x')), { effect: 'deny', rule: 5, reason: 'rule 6 (deny)' });
    assert.deepEqual(decide(policy, as('nobody'), pull('x')), { effect: 'deny', reason: 'no rule matched: default deny' });
  });

  it('default allow applies when no rule matches, and deny rules still win', () => {
    const open = compilePolicy({ ...EXAMPLE, default: 'allow' });
    assert.equal(evaluate(open, as('nobody'), pull('team-b/app')), 'allow');
    assert.equal(evaluate(open, anonymous, push('anything')), 'allow');
    assert.equal(evaluate(open, as('root'), push('releases/v1')), 'deny');
  });
});

describe('evaluate (first-match)', () => {
  const policy = compilePolicy({
    default: 'deny',
    evaluation: 'first-match',
    groups: { devs: ['dev'] },
    rules: [
      rule({ groups: ['devs'], repositories: ['team/public/**'], actions: ['*'], effect: 'allow' }),
      rule({ authenticated: true, repositories: ['team/**'], actions: ['*'], effect: 'deny' }),
      rule({ authenticated: true, repositories: ['**'], actions: ['pull'], effect: 'allow' }),
    ],
  });
  const cases: Array<[string, Subject, Access, Effect]> = [
    ['an earlier allow carves an exception out of a later deny', as('dev'), push('team/public/app'), 'allow'],
    ['the deny applies outside the exception', as('dev'), pull('team/private/app'), 'deny'],
    ['others hit the deny first', as('other'), pull('team/public/app'), 'deny'],
    ['and the later allow elsewhere', as('other'), pull('lib/app'), 'allow'],
    ['no match: default', anonymous, pull('lib/app'), 'deny'],
  ];
  for (const [name, subject, access, expected] of cases) {
    it(name, () => assert.equal(evaluate(policy, subject, access), expected));
  }

  it('the same rules under deny-overrides deny the exception', () => {
    const strict = compilePolicy({ ...policy.config, evaluation: 'deny-overrides' });
    assert.equal(evaluate(strict, as('dev'), push('team/public/app')), 'deny');
  });
});

describe('DISTRIBUTION_POLICY (no auth.policies)', () => {
  const policy = compilePolicy(DISTRIBUTION_POLICY);
  for (const access of [pull('a'), push('a/b'), del('a/b/c'), all('x'), catalog]) {
    it(`any user may ${access.action} ${access.name}; anonymous may not`, () => {
      assert.equal(evaluate(policy, as('anyone'), access), 'allow');
      assert.equal(evaluate(policy, anonymous, access), 'deny');
    });
  }
});

describe('auth.policies schema', () => {
  it('absent or null means no policies', () => {
    assert.equal(policiesSchema.parse(undefined), undefined);
    assert.equal(policiesSchema.parse(null), undefined);
  });

  it('parses a full section with defaults, scalars as lists, YAML 1.1 booleans and any-case enums', () => {
    const parsed = policiesSchema.parse({
      groups: { admins: 'root', devs: ['alice', 'bob'] },
      rules: [
        { anonymous: 'yes', repositories: 'public/**', actions: 'PULL', effect: 'Allow' },
        { groups: ['admins'], repositories: ['**'], catalog: true, actions: ['*'], effect: 'allow', description: 'admins' },
        { users: 'bob', repositories: ['**/secret'], actions: ['pull', 'push'], effect: 'deny' },
      ],
    });
    assert.deepEqual(parsed, {
      default: 'deny',
      evaluation: 'deny-overrides',
      groups: { admins: ['root'], devs: ['alice', 'bob'] },
      rules: [
        { users: [], groups: [], anonymous: true, authenticated: false, repositories: ['public/**'], catalog: false, actions: ['pull'], effect: 'allow' },
        { description: 'admins', users: [], groups: ['admins'], anonymous: false, authenticated: false, repositories: ['**'], catalog: true, actions: ['*'], effect: 'allow' },
        { users: ['bob'], groups: [], anonymous: false, authenticated: false, repositories: ['**/secret'], catalog: false, actions: ['pull', 'push'], effect: 'deny' },
      ],
    });
    assert.ok(parsed !== undefined);
    assert.equal(evaluate(compilePolicy(parsed), anonymous, pull('public/a')), 'allow');
  });

  it('a catalog-only rule needs no actions', () => {
    const parsed = policiesSchema.parse({ default: 'DENY', evaluation: 'first-match', rules: [{ authenticated: true, catalog: true, effect: 'allow' }] });
    assert.equal(parsed?.evaluation, 'first-match');
    assert.equal(parsed?.rules[0]?.catalog, true);
  });

  /** The issues of a failed parse as "path: message". */
  function issues(value: unknown): string[] {
    const result = policiesSchema.safeParse(value);
    assert.equal(result.success, false);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }

  const invalid: Array<[string, unknown, RegExp]> = [
    ['an unknown key', { rules: [], defualt: 'allow' }, /defualt|Unrecognized/],
    ['an unknown rule key', { rules: [{ user: ['a'], repositories: ['x'], actions: ['pull'], effect: 'allow' }] }, /rules\.0: .*user/i],
    ['a rule without a subject', { rules: [{ repositories: ['x'], actions: ['pull'], effect: 'allow' }] }, /rules\.0: a rule must say whom/],
    ['a rule without a resource', { rules: [{ anonymous: true, effect: 'allow' }] }, /rules\.0: a rule must say what/],
    ['repositories without actions', { rules: [{ anonymous: true, repositories: ['x'], effect: 'allow' }] }, /rules\.0\.actions: required/],
    ['actions without repositories', { rules: [{ anonymous: true, catalog: true, actions: ['pull'], effect: 'allow' }] }, /rules\.0\.repositories: actions apply/],
    ['a missing effect', { rules: [{ anonymous: true, repositories: ['x'], actions: ['pull'] }] }, /rules\.0\.effect/],
    ['an unknown action', { rules: [{ anonymous: true, repositories: ['x'], actions: ['read'], effect: 'allow' }] }, /rules\.0\.actions\.0/],
    ['an invalid glob', { rules: [{ anonymous: true, repositories: ['Team/**'], actions: ['pull'], effect: 'allow' }] }, /rules\.0\.repositories\.0: invalid repository pattern "Team\/\*\*": repository names are lowercase/],
    ['an undefined group', { groups: { devs: ['a'] }, rules: [{ groups: ['admins'], repositories: ['x'], actions: ['pull'], effect: 'allow' }] }, /rules\.0\.groups\.0: unknown group "admins" \(defined: devs\)/],
    ['a bad default', { default: 'maybe' }, /default/],
    ['a bad evaluation order', { evaluation: 'last-match' }, /evaluation/],
    ['a bad group name', { groups: { 'a b': ['x'] } }, /groups/],
  ];
  for (const [name, value, message] of invalid) {
    it(`refuses ${name}`, () => {
      const found = issues(value);
      assert.ok(
        found.some((i) => message.test(i)),
        `${message} not in ${JSON.stringify(found)}`,
      );
    });
  }
});
