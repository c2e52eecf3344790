// docs/management-api.yaml: a valid YAML OpenAPI 3.1 document naming the four operations of issue #14,
// with the response fields the issue lists, OCI pagination and OCI errors; docs/lifecycle.md agrees.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ERROR_CODES } from '../../src/oci/errors.js';
import { isRepositoryName } from '../../src/oci/reference.js';

const docs = fileURLToPath(new URL('../../../docs/', import.meta.url));
const text = readFileSync(`${docs}management-api.yaml`, 'utf8');
const guide = readFileSync(`${docs}lifecycle.md`, 'utf8');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a path of keys, failing the test when it is not there. */
function at(value: Json | undefined, ...path: Array<string | number>): Json {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number' && Array.isArray(current)) current = current[key];
    else if (typeof key === 'string' && isObject(current)) current = current[key];
    else assert.fail(`no ${path.join('.')} (stopped at ${String(key)})`);
  }
  assert.ok(current !== undefined, `no ${path.join('.')}`);
  return current;
}

/** The string at a path, failing the test when it is anything else. */
function str(value: Json | undefined, ...path: Array<string | number>): string {
  const found = at(value, ...path);
  assert.equal(typeof found, 'string', `${path.join('.')} is a string`);
  return found as string;
}

function load(): { [key: string]: Json } {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  assert.deepEqual(doc.errors.map((e) => e.message), []);
  assert.deepEqual(doc.warnings.map((e) => e.message), []);
  const api = doc.toJS() as Json;
  assert.ok(isObject(api));
  return api;
}

/** Follows a local `$ref` (`#/components/...`). */
function deref(api: Json, value: Json): Json {
  if (isObject(value) && typeof value['$ref'] === 'string') {
    const ref = value['$ref'];
    assert.ok(ref.startsWith('#/'), `only local references: ${ref}`);
    return deref(api, at(api, ...ref.slice(2).split('/')));
  }
  return value;
}

/** The schema of an operation's JSON response `status`, references followed. */
function responseSchema(api: Json, path: string, method: string, status: string): Json {
  const response = deref(api, at(api, 'paths', path, method, 'responses', status));
  return deref(api, at(response, 'content', 'application/json', 'schema'));
}

function requiredOf(api: Json, schema: Json): string[] {
  const resolved = deref(api, schema);
  const required = at(resolved, 'required');
  assert.ok(Array.isArray(required));
  return required.map(String).sort();
}

describe('docs/management-api.yaml', () => {
  const api = load();

  it('is an OpenAPI 3.1 document', () => {
    assert.match(str(api, 'openapi'), /^3\.1\.\d+$/);
    assert.equal(typeof at(api, 'info', 'title'), 'string');
  });

  it('names the four operations of issue #14, and only those', () => {
    const operations: string[] = [];
    for (const [path, item] of Object.entries(at(api, 'paths') as { [k: string]: Json })) {
      for (const [method, operation] of Object.entries(item as { [k: string]: Json })) operations.push(`${method.toUpperCase()} ${path} ${str(operation, 'operationId')}`);
    }
    assert.deepEqual(operations.sort(), [
      'DELETE /berth/v1/repositories/{name} deleteRepository',
      'GET /berth/v1/repositories listRepositories',
      'GET /berth/v1/repositories/{name}/tags listRepositoryTags',
      'GET /berth/v1/usage getUsage',
    ]);
  });

  it('answers a repository delete with 202', () => {
    const responses = Object.keys(at(api, 'paths', '/berth/v1/repositories/{name}', 'delete', 'responses') as object);
    assert.ok(responses.includes('202'));
    assert.ok(!responses.includes('200') && !responses.includes('204'));
  });

  it('has the response fields the issue lists', () => {
    const repositories = responseSchema(api, '/berth/v1/repositories', 'get', '200');
    assert.deepEqual(requiredOf(api, repositories), ['repositories']);
    assert.deepEqual(requiredOf(api, at(repositories, 'properties', 'repositories', 'items')), ['name', 'size', 'tags']);

    const tags = responseSchema(api, '/berth/v1/repositories/{name}/tags', 'get', '200');
    const tag = deref(api, at(tags, 'properties', 'tags', 'items'));
    assert.deepEqual(requiredOf(api, tag), ['digest', 'mediaType', 'name', 'platforms', 'pulledAt', 'pushedAt', 'size']);
    assert.deepEqual(at(tag, 'properties', 'pulledAt', 'type'), ['string', 'null'], 'pulledAt is null when never pulled');
    assert.equal(at(tag, 'properties', 'pushedAt', 'format'), 'date-time');

    const usage = responseSchema(api, '/berth/v1/usage', 'get', '200');
    assert.deepEqual(requiredOf(api, usage), ['quotas', 'total']);
    assert.deepEqual(requiredOf(api, at(usage, 'properties', 'quotas', 'items')), ['limit', 'repositories', 'used']);
  });

  it('paginates the listings with n and last, and a Link header', () => {
    for (const path of ['/berth/v1/repositories', '/berth/v1/repositories/{name}/tags']) {
      const parameters = at(api, 'paths', path, 'get', 'parameters');
      assert.ok(Array.isArray(parameters));
      const names = parameters.map((p) => str(deref(api, p), 'name'));
      assert.ok(names.includes('n') && names.includes('last'), `${path}: ${names.join(', ')}`);
      const ok = deref(api, at(api, 'paths', path, 'get', 'responses', '200'));
      assert.ok(isObject(at(ok, 'headers', 'Link')), `${path} documents Link`);
    }
  });

  it('answers errors in the OCI format, with codes the registry has', () => {
    for (const [path, item] of Object.entries(at(api, 'paths') as { [k: string]: Json })) {
      for (const [method, operation] of Object.entries(item as { [k: string]: Json })) {
        for (const [status, response] of Object.entries(at(operation, 'responses') as { [k: string]: Json })) {
          if (Number(status) < 400) continue;
          const schema = deref(api, at(deref(api, response), 'content', 'application/json', 'schema'));
          assert.deepEqual(requiredOf(api, schema), ['errors'], `${method} ${path} ${status}`);
        }
        assert.ok(Object.keys(at(operation, 'responses') as object).includes('401'), `${method} ${path} documents 401`);
      }
    }
    const codes = at(api, 'components', 'schemas', 'Error', 'properties', 'errors', 'items', 'properties', 'code', 'enum');
    assert.ok(Array.isArray(codes));
    for (const code of codes) assert.ok(typeof code === 'string' && code in ERROR_CODES, JSON.stringify(code));
  });

  it('resolves every reference', () => {
    const visit = (value: Json): void => {
      if (Array.isArray(value)) value.forEach(visit);
      else if (isObject(value)) {
        if (typeof value['$ref'] === 'string') deref(api, value);
        Object.values(value).forEach(visit);
      }
    };
    visit(api);
  });

  it('documents the repository name pattern the registry enforces', () => {
    const pattern = new RegExp(str(deref(api, at(api, 'components', 'parameters', 'name')), 'schema', 'pattern'));
    for (const name of ['a', 'team-a/app', 'a.b_c__d---e/f', 'x/y/z', 'A', 'a/', '/a', 'a//b', 'a..b', '-a', 'a_', 'team a']) {
      assert.equal(pattern.test(name), isRepositoryName(name), name);
    }
  });

  it('states the authorization of each operation, as docs/lifecycle.md does', () => {
    const needs: Array<[string, string, RegExp]> = [
      ['/berth/v1/repositories', 'get', /registry:catalog:\*/],
      ['/berth/v1/repositories/{name}/tags', 'get', /repository:<name>:pull/],
      ['/berth/v1/repositories/{name}', 'delete', /repository:<name>:delete/],
      ['/berth/v1/usage', 'get', /registry:catalog:\*/],
    ];
    for (const [path, method, scope] of needs) assert.match(str(api, 'paths', path, method, 'description'), scope, `${method} ${path}`);
    for (const row of ['`GET /berth/v1/repositories` | the catalog', '`GET /berth/v1/repositories/<name>/tags` | `pull`', '`DELETE /berth/v1/repositories/<name>` | `delete`', '`GET /berth/v1/usage` | the catalog']) {
      assert.ok(guide.includes(row), `docs/lifecycle.md: ${row}`);
    }
    assert.ok(guide.includes('(management-api.yaml)'), 'docs/lifecycle.md links the OpenAPI document');
  });
});
