import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { errorCode, randomBlob, sha256 } from '../helpers/oci-client.js';
import type { AccessController, Grant } from '../../src/auth/access.js';

/** Everyone may push; the grant's user is whatever X-User says (enough to tell two pushers apart). */
class HeaderUser implements AccessController {
  async authorized(req: IncomingMessage): Promise<Grant> {
    const user = req.headers['x-user'];
    return typeof user === 'string' ? { user } : {};
  }
}

const ALICE = { 'X-User': 'alice' };
const BOB = { 'X-User': 'bob' };

describe('an upload belongs to its session (signed _state, offset, subject)', () => {
  let r: TestRegistry;
  before(async () => {
    r = await startTestRegistry({ access: new HeaderUser() });
  });
  after(async () => {
    await r.close();
  });

  async function start(headers: Record<string, string>): Promise<string> {
    const res = await fetch(`${r.url}/v2/shared/repo/blobs/uploads/`, { method: 'POST', headers });
    assert.equal(res.status, 202);
    const location = res.headers.get('location') ?? '';
    assert.ok(location.includes('_state='));
    return new URL(location, r.url).toString();
  }
  async function patch(location: string, body: Buffer, headers: Record<string, string>): Promise<Response> {
    return fetch(location, { method: 'PATCH', body, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
  }
  async function sizeOf(location: string, headers: Record<string, string>): Promise<string | null> {
    const res = await fetch(location, { headers });
    assert.equal(res.status, 204);
    return res.headers.get('range');
  }
  function withoutState(location: string): string {
    const url = new URL(location);
    url.searchParams.delete('_state');
    return url.toString();
  }
  async function expectInvalid(res: Response, what: string): Promise<void> {
    assert.equal(res.status, 404, what);
    assert.equal(await errorCode(res), 'BLOB_UPLOAD_INVALID', what);
  }

  it('GET, PATCH, PUT and DELETE without _state get 404 BLOB_UPLOAD_INVALID and change nothing', async () => {
    const location = await start(ALICE);
    const bare = withoutState(location);
    const { data, digest } = randomBlob(100);
    await expectInvalid(await fetch(bare, { headers: ALICE }), 'GET');
    await expectInvalid(await patch(bare, data, ALICE), 'PATCH');
    await expectInvalid(await fetch(`${bare}?digest=${digest}`, { method: 'PUT', body: data, headers: ALICE }), 'PUT');
    await expectInvalid(await fetch(bare, { method: 'DELETE', headers: ALICE }), 'DELETE');
    await expectInvalid(await fetch(`${bare}?_state=`, { headers: ALICE }), 'GET with an empty _state');
    assert.equal(await sizeOf(location, ALICE), '0-0');
    assert.equal((await fetch(`${r.url}/v2/shared/repo/blobs/${digest}`, { method: 'HEAD' })).status, 404);
  });

  it("another user's request with the owner's Location cannot append, complete or cancel", async () => {
    const location = await start(ALICE);
    const { data, digest } = randomBlob(100);
    await expectInvalid(await fetch(location, { headers: BOB }), 'GET by bob');
    await expectInvalid(await patch(location, data, BOB), 'PATCH by bob');
    await expectInvalid(await fetch(`${location}&digest=${digest}`, { method: 'PUT', body: data, headers: BOB }), 'PUT by bob');
    await expectInvalid(await fetch(location, { method: 'DELETE', headers: BOB }), 'DELETE by bob');
    await expectInvalid(await fetch(location), 'GET anonymously');
    assert.equal(await sizeOf(location, ALICE), '0-0');
    // The owner's session is intact and completes.
    const patched = await patch(location, data, ALICE);
    assert.equal(patched.status, 202);
    const next = new URL(patched.headers.get('location') ?? '', r.url).toString();
    const put = await fetch(`${next}&digest=${digest}`, { method: 'PUT', headers: ALICE });
    assert.equal(put.status, 201);
  });

  it("a stale state's offset is refused for PATCH and PUT; GET and DELETE accept an older state", async () => {
    const first = await start(ALICE);
    const a = randomBlob(10).data;
    const b = randomBlob(10).data;
    const patched = await patch(first, a, ALICE);
    assert.equal(patched.status, 202);
    const second = new URL(patched.headers.get('location') ?? '', r.url).toString();
    assert.notEqual(second, first, 'each response carries a new _state');
    await expectInvalid(await patch(first, b, ALICE), 'PATCH with the state from before the first chunk');
    const digest = sha256(a);
    await expectInvalid(await fetch(`${first}&digest=${digest}`, { method: 'PUT', headers: ALICE }), 'PUT with a stale state');
    assert.equal(await sizeOf(first, ALICE), '0-9', 'an older state still learns the offset');
    const status = await fetch(first, { headers: ALICE });
    const fresh = new URL(status.headers.get('location') ?? '', r.url).toString();
    assert.equal((await patch(fresh, b, ALICE)).status, 202, 'the Location of GET resumes');
    assert.equal((await fetch(first, { method: 'DELETE', headers: ALICE })).status, 204);
  });

  it('a state for another upload or repository is refused', async () => {
    const one = await start(ALICE);
    const two = await start(ALICE);
    const stateOfTwo = new URL(two).searchParams.get('_state') ?? '';
    const url = new URL(one);
    url.searchParams.set('_state', stateOfTwo);
    await expectInvalid(await fetch(url, { headers: ALICE }), 'state of another upload');
    const other = new URL(one.replace('/shared/repo/', '/shared/other/'));
    await expectInvalid(await fetch(other, { headers: ALICE }), 'state of another repository');
  });
});
