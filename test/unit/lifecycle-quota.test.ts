// Quotas: which quotas cover a repository, the deduplicated reference-counted usage ledger, the
// wouldExceed check and the 403 DENIED with {quota, used, limit}.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSection } from '../../src/config-fields/issues.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { lifecycleSchema } from '../../src/lifecycle/schema.js';
import { quotaExceededError, quotasFor, UsageLedger } from '../../src/lifecycle/quota.js';

const quotas = parseSection(lifecycleSchema, ['lifecycle'], {
  quotas: [
    { repositories: ['team-a/**'], limit: '1KB' },
    { repositories: ['team-b/*', 'shared'], limit: 2000 },
    { repositories: ['**'], limit: '1MiB' },
  ],
})?.quotas ?? assert.fail();

const blob = (name: string): Digest => digestOf(Buffer.from(name));
const [L1, L2, L3, M] = [blob('layer1'), blob('layer2'), blob('layer3'), blob('manifest')];

describe('quotasFor', () => {
  const cases: Array<[string, number[]]> = [
    ['team-a/app', [0, 2]],
    ['team-a/x/y', [0, 2]],
    ['team-a', [2]],
    ['team-b/app', [1, 2]],
    ['team-b/app/db', [2]],
    ['shared', [1, 2]],
  ];
  for (const [repository, want] of cases) it(`${repository} → ${want.join(', ')}`, () => assert.deepEqual(quotasFor(quotas, repository), want));
  it('no quotas cover nothing', () => assert.deepEqual(quotasFor([], 'team-a/app'), []));
});

describe('UsageLedger', () => {
  // A script: an operation, then the usage of quotas 0, 1, 2 and the total after it.
  type Op = ['add', string, Digest, number] | ['remove', string, Digest] | ['drop', string];
  const script: Array<[string, Op, [number, number, number, number]]> = [
    ['a first blob', ['add', 'team-a/app', L1, 100], [100, 0, 100, 100]],
    ['the same blob in another repository of the quota counts once', ['add', 'team-a/web', L1, 100], [100, 0, 100, 100]],
    ['the same blob in a repository of another quota counts there too', ['add', 'team-b/app', L1, 100], [100, 100, 100, 100]],
    ['a second reference from one repository changes nothing', ['add', 'team-a/app', L1, 100], [100, 100, 100, 100]],
    ['a second blob', ['add', 'team-a/app', L2, 300], [400, 100, 400, 400]],
    ['a repository no quota but ** covers', ['add', 'misc', L3, 50], [400, 100, 450, 450]],
    ['removing one of two references of a repository keeps the blob', ['remove', 'team-a/app', L1], [400, 100, 450, 450]],
    ['removing the last reference of one repository keeps it while another holds it', ['remove', 'team-a/app', L1], [400, 100, 450, 450]],
    ['removing the last holder in the quota frees it there, not where others hold it', ['remove', 'team-a/web', L1], [300, 100, 450, 450]],
    ['deleting a repository drops all its references', ['drop', 'team-a/app'], [0, 100, 150, 150]],
    ['the last holder of a blob gone, the total frees it', ['remove', 'team-b/app', L1], [0, 0, 50, 50]],
    ['removing what is not there changes nothing', ['remove', 'team-b/app', L1], [0, 0, 50, 50]],
  ];

  it('counts each blob once per quota and once in the total, by references', () => {
    const ledger = new UsageLedger(quotas);
    for (const [what, op, [q0, q1, q2, total]] of script) {
      if (op[0] === 'add') ledger.add(op[1], op[2], op[3]);
      else if (op[0] === 'remove') ledger.remove(op[1], op[2]);
      else ledger.removeRepository(op[1]);
      assert.deepEqual([ledger.used(0), ledger.used(1), ledger.used(2), ledger.total()], [q0, q1, q2, total], what);
    }
  });

  it('reports references, removals and dropped repositories', () => {
    const ledger = new UsageLedger(quotas);
    ledger.add('team-a/app', L1, 10);
    ledger.add('team-a/app', L1, 10);
    ledger.add('team-a/app', L2, 20);
    assert.equal(ledger.references('team-a/app', L1), 2);
    assert.equal(ledger.remove('team-a/app', L1), true);
    assert.equal(ledger.references('team-a/app', L1), 1);
    assert.equal(ledger.remove('team-a/web', L1), false);
    assert.equal(ledger.removeRepository('team-a/app'), 2);
    assert.equal(ledger.removeRepository('team-a/app'), 0);
    assert.equal(ledger.references('team-a/app', L1), 0);
    assert.deepEqual(ledger.usage().map((u) => u.used), [0, 0, 0]);
  });

  it('lists every quota\'s usage for the usage API', () => {
    const ledger = new UsageLedger(quotas);
    ledger.add('shared', M, 7);
    assert.deepEqual(ledger.usage(), [
      { index: 0, repositories: ['team-a/**'], limit: 1000, used: 0 },
      { index: 1, repositories: ['team-b/*', 'shared'], limit: 2000, used: 7 },
      { index: 2, repositories: ['**'], limit: 1024 * 1024, used: 7 },
    ]);
  });

  it('refuses sizes that cannot be a blob\'s', () => {
    const ledger = new UsageLedger(quotas);
    assert.throws(() => ledger.add('team-a/app', L1, -1), /invalid size -1/);
    assert.throws(() => ledger.add('team-a/app', L1, 1.5), /invalid size 1.5/);
    ledger.add('team-a/app', L1, 10);
    assert.throws(() => ledger.add('team-b/app', L1, 11), /has size 10, not 11/);
    assert.throws(() => ledger.used(3), RangeError);
    assert.throws(() => ledger.wouldExceed(-1, []), RangeError);
  });

  describe('wouldExceed', () => {
    const ledger = new UsageLedger(quotas);
    ledger.add('team-a/app', L1, 600);
    // [what, quota, added, exceeds]
    const cases: Array<[string, number, Array<{ digest: Digest; size: number }>, boolean]> = [
      ['nothing added', 0, [], false],
      ['reaching the limit exactly', 0, [{ digest: L2, size: 400 }], false],
      ['one byte over', 0, [{ digest: L2, size: 401 }], true],
      ['a blob the quota holds already is free', 0, [{ digest: L1, size: 600 }, { digest: L2, size: 400 }], false],
      ['a blob listed twice counts once', 0, [{ digest: L2, size: 300 }, { digest: L2, size: 300 }], false],
      ['another quota is not charged for team-a', 1, [{ digest: L2, size: 2000 }], false],
      ['the quota held only by other quotas pays for it', 1, [{ digest: L1, size: 600 }, { digest: L2, size: 1401 }], true],
    ];
    for (const [what, quota, added, exceeds] of cases) {
      it(`${exceeds ? 'exceeds' : 'fits'}: ${what}`, () => {
        const got = ledger.wouldExceed(quota, added);
        if (!exceeds) assert.equal(got, undefined);
        else assert.deepEqual(got, { quota: { index: quota, repositories: quotas[quota]?.repositories }, used: ledger.used(quota), limit: quotas[quota]?.limit });
      });
    }

    it('check() names the first covering quota a push would exceed, and what it adds', () => {
      assert.deepEqual(ledger.check('team-a/web', [{ digest: L1, size: 600 }, { digest: L3, size: 500 }]), {
        exceeded: { quota: { index: 0, repositories: ['team-a/**'] }, used: 600, limit: 1000 },
        adding: 500,
      });
      assert.equal(ledger.check('team-a/web', [{ digest: L3, size: 400 }]), undefined);
      assert.deepEqual(ledger.check('misc', [{ digest: L3, size: 1024 * 1024 }])?.exceeded.quota, { index: 2, repositories: ['**'] });
      assert.equal(new UsageLedger([]).check('anything', [{ digest: L3, size: 1e12 }]), undefined);
    });
  });

  it('quotaExceededError is 403 DENIED with {quota, used, limit}', () => {
    const err = quotaExceededError({ quota: { index: 0, repositories: ['team-a/**'] }, used: 600, limit: 1000 }, 500);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'DENIED');
    assert.equal(err.message, 'push would exceed quota lifecycle.quotas[0] (team-a/**): 600 of 1000 bytes used, the push adds 500');
    assert.deepEqual(err.toJSON().errors[0]?.detail, { quota: { index: 0, repositories: ['team-a/**'] }, used: 600, limit: 1000 });
  });
});
