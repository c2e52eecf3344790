// LoginLimits with an injected clock: the cap on checks in flight, lockouts per address and per user name,
// Retry-After, fixed windows, one log line per burst, metrics; and the bcrypt worker pool.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimits, type LoginLimitsMetrics, type LoginLimitsOptions } from '../../src/auth/htpasswd/login-limits.js';
import { BcryptPool } from '../../src/auth/htpasswd/bcrypt-pool.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';
import { OciError } from '../../src/oci/errors.js';

function setup(options: Partial<LoginLimitsOptions> = {}) {
  let now = 1_000_000;
  const logs: Array<{ level: number; msg: string }> = [];
  const counted: string[] = [];
  const metrics: LoginLimitsMetrics = {
    passwordCheck: (r) => counted.push(`check:${r}`),
    passwordCheckRefused: (r) => counted.push(`refused:${r}`),
    loginLockout: (k) => counted.push(`lockout:${k}`),
    trackPasswordChecks: () => undefined,
  };
  const logger = createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => logs.push(JSON.parse(l) as { level: number; msg: string }) } });
  const limits = new LoginLimits({ maxConcurrentChecks: 0, windowMs: 60_000, lockoutMs: 30_000, perAddress: 0, perUser: 0, logger, metrics, now: () => now, ...options });
  return { limits, logs, counted, advance: (ms: number) => (now += ms) };
}

/** Runs one failed check, or returns the refusal. */
function fail(limits: LoginLimits, address: string, user: string): OciError | undefined {
  try {
    const release = limits.admit(address, user);
    limits.checked(address, user, false);
    release();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof OciError);
    return err;
  }
}

describe('LoginLimits', () => {
  it('locks an address out after peraddress failures in the window, with Retry-After, then lets it in again', () => {
    const { limits, logs, counted, advance } = setup({ perAddress: 3 });
    for (let i = 0; i < 3; i++) assert.equal(fail(limits, '10.0.0.1', `u${i}`), undefined);
    const refused = fail(limits, '10.0.0.1', 'other');
    assert.equal(refused?.code, 'TOOMANYREQUESTS');
    assert.equal(refused?.status, 429);
    assert.equal(refused?.headers['Retry-After'], '30');
    assert.equal(fail(limits, '10.0.0.2', 'other'), undefined, 'another address is not affected');
    advance(20_000);
    assert.equal(fail(limits, '10.0.0.1', 'x')?.headers['Retry-After'], '10');
    for (let i = 0; i < 50; i++) fail(limits, '10.0.0.1', 'x');
    assert.equal(logs.filter((l) => l.msg.startsWith('too many failed logins')).length, 1, 'one warning per burst');
    advance(10_001);
    assert.equal(fail(limits, '10.0.0.1', 'x'), undefined, 'the lockout ended');
    assert.equal(counted.filter((c) => c === 'lockout:address').length, 1);
    assert.equal(counted.filter((c) => c === 'refused:address').length, 52);
    assert.equal(counted.filter((c) => c === 'check:fail').length, 5);
  });

  it('counts failures in fixed windows: failures spread out never lock', () => {
    const { limits, advance } = setup({ perAddress: 3 });
    for (let i = 0; i < 10; i++) {
      assert.equal(fail(limits, '10.0.0.1', 'u'), undefined, `attempt ${i}`);
      if (i % 2 === 1) advance(60_000);
    }
  });

  it('locks a user name out from every address; successes are not failures', () => {
    const { limits, counted } = setup({ perUser: 2 });
    const ok = limits.admit('10.0.0.9', 'alice');
    limits.checked('10.0.0.9', 'alice', true);
    ok();
    assert.equal(fail(limits, '10.0.0.1', 'alice'), undefined);
    assert.equal(fail(limits, '10.0.0.2', 'alice'), undefined);
    assert.equal(fail(limits, '10.0.0.3', 'alice')?.code, 'TOOMANYREQUESTS');
    assert.equal(fail(limits, '10.0.0.3', 'bob'), undefined);
    assert.deepEqual(counted.slice(0, 1), ['check:ok']);
    assert.ok(counted.includes('refused:user'));
  });

  it('refuses checks beyond maxconcurrentchecks until one ends, logging the burst once', () => {
    const { limits, logs, counted } = setup({ maxConcurrentChecks: 2 });
    const a = limits.admit('1.1.1.1', 'a');
    const b = limits.admit('1.1.1.2', 'b');
    assert.equal(limits.checksInFlight, 2);
    for (let i = 0; i < 5; i++) {
      assert.throws(() => limits.admit('1.1.1.3', 'c'), (err: unknown) => err instanceof OciError && err.status === 429 && err.headers['Retry-After'] === '1');
    }
    a();
    a(); // releasing twice is harmless
    assert.equal(limits.checksInFlight, 1);
    const c = limits.admit('1.1.1.3', 'c');
    b();
    c();
    assert.equal(limits.checksInFlight, 0);
    assert.equal(counted.filter((x) => x === 'refused:busy').length, 5);
    assert.equal(logs.filter((l) => l.msg.startsWith('too many password checks')).length, 1);
    assert.equal(logs.filter((l) => l.msg.startsWith('password checks drained')).length, 1);
  });
});

describe('BcryptPool', () => {
  it('compares on worker threads (the compiled worker file resolves from dist/) and closes', async () => {
    const hash = await hashPassword('right', 4);
    const pool = new BcryptPool(2);
    const results = await Promise.all([pool.compare('right', hash), pool.compare('wrong', hash), pool.compare('right', 'not a hash'), pool.compare('right', hash)]);
    assert.deepEqual(results, [true, false, false, true]);
    assert.equal(pool.pending, 0);
    await pool.close();
    assert.equal(await pool.compare('right', hash), false, 'a closed pool answers false');
  });

  it('keeps the event loop free while it compares', async () => {
    const hash = await hashPassword('right', 4);
    const slow = hash.replace(/^\$2y\$04\$/, '$2y$12$'); // same salt and digest at cost 12: ~0.3 s or more of bcrypt, never matches
    const pool = new BcryptPool(1);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    const ok = await pool.compare('right', slow);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    await pool.close();
    assert.equal(ok, false);
    // On the event loop, bcryptjs would leave a 5 ms timer few chances to run; on a worker it ticks throughout.
    assert.ok(ticks >= Math.min(10, elapsed / 20), `${ticks} ticks in ${elapsed} ms`);
  });
});
