// Pure parts of htpasswd support: the Basic header, the file format, edits for berth htpasswd, bcrypt labels, the credential cache.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { isBasicAuthorization, parseBasicAuthorization } from '../../src/auth/basic-auth.js';
import { bcryptCost, describeHashKind, parseHtpasswd } from '../../src/auth/htpasswd/parse.js';
import { deleteUser, findUserHash, firstInvalidLine, setUserHash } from '../../src/auth/htpasswd/edit.js';
import { compareBcrypt, hashPassword, toApacheBcrypt, unmatchableHash } from '../../src/auth/htpasswd/hash.js';
import { CredentialCache } from '../../src/auth/htpasswd/credential-cache.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
// Made by Apache's `htpasswd -Bbc file alice pw1` (cost 5).
const APACHE_ALICE = '$2y$05$Gl9xuFvzOqY/SGUzQQQJSuOA8xrKvsQ24war5vXCSo0hPhAFXiR8q';
const H = (cost: string, c = 'a'): string => `$2y$${cost}$${c.repeat(53)}`;

describe('parseBasicAuthorization', () => {
  const cases: Array<[string | undefined, { user: string; password: string } | undefined]> = [
    [`Basic ${b64('alice:secret')}`, { user: 'alice', password: 'secret' }],
    [`basic ${b64('alice:secret')}`, { user: 'alice', password: 'secret' }],
    [`BASIC   ${b64('alice:secret')}  `, { user: 'alice', password: 'secret' }],
    [`Basic ${b64('alice:se:cr:et')}`, { user: 'alice', password: 'se:cr:et' }],
    [`Basic ${b64('alice:')}`, { user: 'alice', password: '' }],
    [`Basic ${b64(':')}`, { user: '', password: '' }],
    [`Basic ${b64('jürgen:pässwörd')}`, { user: 'jürgen', password: 'pässwörd' }],
    [`Basic ${b64('alice:secret1').replace(/=+$/, '')}`, { user: 'alice', password: 'secret1' }],
    [`Basic ${b64('alicesecret')}`, undefined],
    ['Basic', undefined],
    ['Basic ', undefined],
    ['Basic !!!!', undefined],
    ['Basic a', undefined],
    [`Basic ${Buffer.from([0xff, 0xfe, 0x3a]).toString('base64')}`, undefined],
    [`Bearer ${b64('alice:secret')}`, undefined],
    [`Basicx ${b64('alice:secret')}`, undefined],
    [`Basic ${b64('a:b')} extra`, undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [header, expected] of cases) {
    it(JSON.stringify(header), () => assert.deepEqual(parseBasicAuthorization(header), expected));
  }

  it('isBasicAuthorization tells a Basic header from others, well formed or not', () => {
    assert.equal(isBasicAuthorization('Basic !!!'), true);
    assert.equal(isBasicAuthorization('basic'), true);
    assert.equal(isBasicAuthorization('Bearer x'), false);
    assert.equal(isBasicAuthorization('Basicx y'), false);
    assert.equal(isBasicAuthorization(undefined), false);
  });
});

describe('parseHtpasswd', () => {
  it('reads $2y$, $2a$ and $2b$ entries, skipping comments and blank lines, trimming CRLF', () => {
    const text = ['# users', '', `alice:${APACHE_ALICE}`, `bob:${H('10').replace('$2y$', '$2a$')}\r`, `  carol:${H('12').replace('$2y$', '$2b$')}  `, '   # indented comment'].join('\n');
    const { entries, problems } = parseHtpasswd(text);
    assert.deepEqual(problems, []);
    assert.deepEqual([...entries.keys()], ['alice', 'bob', 'carol']);
    assert.deepEqual(entries.get('alice'), { user: 'alice', hash: APACHE_ALICE, cost: 5, line: 3 });
    assert.equal(entries.get('bob')?.cost, 10);
    assert.equal(entries.get('carol')?.line, 5);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['md5', 'dave:$apr1$r7LQ61tz$j8A26v/8YaBPsyPWvXXXl.', /Apache MD5 \(\$apr1\$\)/],
    ['sha1', 'dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', /SHA-1/],
    ['sha256 crypt', 'dave:$5$rounds=5000$abc$def', /SHA-256 crypt/],
    ['sha512 crypt', 'dave:$6$abc$def', /SHA-512 crypt/],
    ['crypt', 'dave:rqXexS6ZhobKA', /DES crypt or plain text/],
    ['plain', 'dave:my password', /plain text/],
    ['empty hash', 'dave:', /empty/],
    ['truncated bcrypt', `dave:${H('10').slice(0, 40)}`, /malformed bcrypt/],
    ['bcrypt cost 3', `dave:${H('03')}`, /malformed bcrypt|bcrypt/],
    ['bcrypt cost 32', `dave:${H('32')}`, /bcrypt/],
    ['$2x$', `dave:${H('10').replace('$2y$', '$2x$')}`, /only bcrypt/],
  ];
  for (const [name, line, message] of refused) {
    it(`refuses ${name}, naming the user and line`, () => {
      const { entries, problems } = parseHtpasswd(`# header\n${line}\nalice:${APACHE_ALICE}\n`);
      assert.deepEqual([...entries.keys()], ['alice']);
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.line, 2);
      assert.equal(problems[0]?.user, 'dave');
      assert.match(problems[0]?.message ?? '', /"dave"/);
      assert.match(problems[0]?.message ?? '', message);
    });
  }

  it('reports lines without a colon and empty user names', () => {
    const { entries, problems } = parseHtpasswd(`garbage\n:${H('10')}\n`);
    assert.equal(entries.size, 0);
    assert.deepEqual(
      problems.map((p) => [p.line, p.message]),
      [
        [1, 'not a user:hash line'],
        [2, 'empty user name'],
      ],
    );
  });

  it('lets the last line for a user win, and reports the duplicate', () => {
    const { entries, problems } = parseHtpasswd(`alice:${H('10', 'a')}\nbob:${H('10', 'b')}\nalice:${H('11', 'c')}\n`);
    assert.equal(entries.get('alice')?.cost, 11);
    assert.equal(entries.get('alice')?.line, 3);
    assert.deepEqual([...entries.keys()], ['bob', 'alice']);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /also on line 1; the last line wins/);
  });

  it('accepts a user name with spaces and non-ASCII characters (everything before the first colon)', () => {
    assert.deepEqual([...parseHtpasswd(`al ice:${H('10')}\njürgen:${H('10')}`).entries.keys()], ['al ice', 'jürgen']);
  });

  it('bcryptCost and describeHashKind', () => {
    assert.equal(bcryptCost(APACHE_ALICE), 5);
    assert.equal(bcryptCost(H('31')), 31);
    assert.equal(bcryptCost(H('04')), 4);
    assert.equal(bcryptCost(H('03')), undefined);
    assert.equal(bcryptCost('$2y$5$abc'), undefined);
    assert.equal(describeHashKind('$1$abc$def'), 'MD5 crypt ($1$)');
  });
});

describe('htpasswd edits (berth htpasswd)', () => {
  const file = `# team\nalice:${H('10', 'a')}\n\ndave:$apr1$x$y\nbob:${H('10', 'b')}\n`;

  it('setUserHash appends a new user, keeping every other line', () => {
    const { text, updated } = setUserHash(file, 'carol', H('10', 'c'));
    assert.equal(updated, false);
    assert.equal(text, `${file}carol:${H('10', 'c')}\n`);
  });

  it('setUserHash replaces every line of an existing user in place', () => {
    const { text, updated } = setUserHash(`${file}alice:old\n`, 'alice', H('12', 'z'));
    assert.equal(updated, true);
    assert.equal(text, `# team\nalice:${H('12', 'z')}\n\ndave:$apr1$x$y\nbob:${H('10', 'b')}\nalice:${H('12', 'z')}\n`);
  });

  it('setUserHash on an empty text, a text without a final newline, and CRLF text', () => {
    assert.deepEqual(setUserHash('', 'a', 'h'), { text: 'a:h\n', updated: false });
    assert.deepEqual(setUserHash('x:1', 'a', 'h'), { text: 'x:1\na:h\n', updated: false });
    assert.deepEqual(setUserHash('x:1\r\ny:2\r\n', 'a', 'h'), { text: 'x:1\r\ny:2\r\na:h\r\n', updated: false });
    assert.deepEqual(setUserHash('x:1\r\ny:2\r\n', 'x', 'h'), { text: 'x:h\r\ny:2\r\n', updated: true });
  });

  it('deleteUser removes every line of the user and nothing else', () => {
    assert.deepEqual(deleteUser(`${file}alice:again\n`, 'alice'), { text: `# team\n\ndave:$apr1$x$y\nbob:${H('10', 'b')}\n`, deleted: true });
    assert.deepEqual(deleteUser(file, 'nobody'), { text: file, deleted: false });
    assert.equal(deleteUser(file, '# team').deleted, false);
  });

  it('findUserHash returns the last line for the user, whatever its kind', () => {
    assert.equal(findUserHash(file, 'dave'), '$apr1$x$y');
    assert.equal(findUserHash(`${file}bob:second\n`, 'bob'), 'second');
    assert.equal(findUserHash(file, 'nobody'), undefined);
  });

  it('firstInvalidLine finds a line that is not user:hash', () => {
    assert.equal(firstInvalidLine(file), undefined);
    assert.equal(firstInvalidLine('a:b\n# ok\n\nbroken\n'), 4);
  });
});

describe('bcrypt helpers', () => {
  it('hashPassword writes $2y$ at the requested cost, and compareBcrypt checks it', async () => {
    const hash = await hashPassword('s3cret', 4);
    assert.match(hash, /^\$2y\$04\$[./A-Za-z0-9]{53}$/);
    assert.equal(await compareBcrypt('s3cret', hash), true);
    assert.equal(await compareBcrypt('wrong', hash), false);
  });

  it('compareBcrypt accepts Apache $2y$ and bcryptjs $2a$/$2b$ hashes, and answers false for junk', async () => {
    assert.equal(await compareBcrypt('pw1', APACHE_ALICE), true);
    assert.equal(await compareBcrypt('pw2', APACHE_ALICE), false);
    const b = await bcrypt.hash('pw', 4);
    assert.ok(b.startsWith('$2b$'));
    assert.equal(await compareBcrypt('pw', b), true);
    assert.equal(await compareBcrypt('pw', `$2a$${b.slice(4)}`), true);
    assert.equal(await compareBcrypt('pw', toApacheBcrypt(b)), true);
    assert.equal(await compareBcrypt('pw', '$apr1$x$y'), false);
    assert.equal(await compareBcrypt('pw', ''), false);
  });

  it('unmatchableHash is a well-formed hash of the given cost that nothing matches', async () => {
    const hash = unmatchableHash(4);
    assert.equal(bcryptCost(hash), 4);
    assert.notEqual(unmatchableHash(4), hash);
    assert.equal(await compareBcrypt('', hash), false);
    assert.equal(await compareBcrypt('anything', hash), false);
  });
});

describe('CredentialCache', () => {
  it('remembers a verification for the TTL, keyed on user, hash and password', () => {
    let now = 1000;
    const cache = new CredentialCache({ ttlMs: 60_000, now: () => now });
    cache.add('alice', 'h1', 'pw');
    assert.equal(cache.has('alice', 'h1', 'pw'), true);
    assert.equal(cache.has('alice', 'h1', 'PW'), false);
    assert.equal(cache.has('alice', 'h2', 'pw'), false, 'a changed hash in the file does not match');
    assert.equal(cache.has('bob', 'h1', 'pw'), false);
    now += 59_999;
    assert.equal(cache.has('alice', 'h1', 'pw'), true);
    now += 1;
    assert.equal(cache.has('alice', 'h1', 'pw'), false);
    assert.equal(cache.size, 0, 'the expired entry was dropped');
  });

  it('keeps fields apart: ("a:b", "c") is not ("a", "b:c")', () => {
    const cache = new CredentialCache();
    cache.add('a:b', 'h', 'c');
    assert.equal(cache.has('a', 'h', 'b:c'), false);
  });

  it('is bounded: the oldest entries go first', () => {
    const cache = new CredentialCache({ maxEntries: 3 });
    for (const u of ['a', 'b', 'c', 'd']) cache.add(u, 'h', 'p');
    assert.equal(cache.size, 3);
    assert.equal(cache.has('a', 'h', 'p'), false);
    assert.equal(cache.has('d', 'h', 'p'), true);
    cache.clear();
    assert.equal(cache.size, 0);
  });

  it('ttlMs 0 disables it', () => {
    const cache = new CredentialCache({ ttlMs: 0 });
    cache.add('a', 'h', 'p');
    assert.equal(cache.has('a', 'h', 'p'), false);
  });
});
