// Docs stay true by test: docs/configuration.md and config.example.yml must cover every key the schema checks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { renderConfigReference } from '../../src/config/reference.js';
import { CONFIG_KEY_DOCS, configKeyPaths } from '../../src/config/schema.js';

const root = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/unit -> the repository
const docs = readFileSync(`${root}docs/configuration.md`, 'utf8');
const examplePath = `${root}config.example.yml`;
const example = readFileSync(examplePath, 'utf8');

/** A configuration that sets every optional section, so its parsed form has every leaf. */
const FULL = {
  version: '0.1',
  storage: { filesystem: {}, cache: { blobdescriptor: 'inmemory' } },
  log: { hooks: [] },
  http: { tls: { certificate: '/c', key: '/k', letsencrypt: {} }, debug: { addr: ':5001' } },
};

/** Dotted paths of the leaves of a parsed configuration; a path the schema treats as one (a map) is a leaf. */
function leafPaths(value: unknown, stops: ReadonlySet<string>, prefix = ''): string[] {
  if (prefix !== '' && stops.has(prefix)) return [prefix];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, stops, prefix === '' ? k : `${prefix}.${k}`));
}

/** Key paths written in a YAML text, commented-out lines (`# key: value`, indented after "# ") included. */
function examplePaths(text: string): Set<string> {
  const paths = new Set<string>();
  const stack: Array<{ indent: number; key: string }> = [];
  for (const raw of text.split('\n')) {
    const commented = /^(\s*)# ?(.*)$/.exec(raw);
    const line = commented !== null ? `${commented[1] ?? ''}${commented[2] ?? ''}` : raw;
    const m = /^(\s*)([a-z0-9][a-z0-9_-]*):(\s|$)/.exec(line);
    if (m === null) continue;
    const indent = (m[1] ?? '').length;
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: m[2] ?? '' });
    paths.add(stack.map((s) => s.key).join('.'));
  }
  return paths;
}

describe('docs/configuration.md', () => {
  const keyPaths = configKeyPaths();

  it('has the reference tables the schema generates', () => {
    // Fails with the list of undocumented keys, or when the committed file differs from the generated one.
    const generated = renderConfigReference(docs);
    assert.ok(generated === docs, 'docs/configuration.md is out of date: run "npm run build && node scripts/gen-config-docs.js" and commit the result');
  });

  it('documents every driver parameter, each in its own row', () => {
    for (const driver of ['s3', 'azure']) {
      const keys = keyPaths.filter((p) => p.startsWith(`storage.${driver}.`));
      assert.ok(keys.length >= (driver === 's3' ? 24 : 15), `${driver}: ${keys.length} keys`);
      const missing = keys.filter((p) => CONFIG_KEY_DOCS[p] === undefined || !docs.includes(`| \`${p}\` |`));
      assert.deepEqual(missing, []);
    }
  });

  it('refuses to generate with a key left undocumented', () => {
    const withoutRow = docs.replace(/<!-- BEGIN config-reference: catalog -->/, '<!-- BEGIN config-reference: nosuchsection -->');
    assert.throws(() => renderConfigReference(withoutRow), /catalog\.maxentries: no config-reference table takes it[\s\S]*nosuchsection: no key goes in this table/);
  });

  it('documents every key path of the schema', () => {
    const missing = keyPaths.filter((p) => !docs.includes(`| \`${p}\` |`));
    assert.deepEqual(missing, [], `add table rows for: ${missing.join(', ')}`);
  });

  it('documents every leaf of the parsed defaults', () => {
    const stops = new Set(keyPaths);
    const leaves = new Set([...leafPaths(parseConfig({ version: '0.1', storage: { inmemory: null } }), stops), ...leafPaths(parseConfig(FULL), stops)]);
    assert.ok(leaves.has('storage.maintenance.uploadpurging.age'));
    assert.ok(leaves.has('http.tls.minimumtls'));
    const missing = [...leaves].filter((p) => !docs.includes(`\`${p}\``));
    assert.deepEqual(missing, [], `document: ${missing.join(', ')}`);
  });

  it('documents no key the schema does not have', () => {
    const documented = [...docs.matchAll(/^\| `([a-z0-9.]+)` \|/gm)].map((m) => m[1] ?? '');
    const known = new Set(keyPaths);
    assert.deepEqual(
      documented.filter((p) => !known.has(p)),
      [],
    );
  });

  it('shows the environment override examples', () => {
    for (const name of ['REGISTRY_HTTP_ADDR', 'REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY', 'REGISTRY_STORAGE=inmemory', 'REGISTRY_HTTP_SECRET', 'REGISTRY_LOG_LEVEL', 'REGISTRY_CONFIGURATION_PATH']) {
      assert.ok(docs.includes(name), name);
    }
  });
});

describe('config.example.yml', () => {
  it('loads, with the filesystem driver under /var/lib/registry', async () => {
    const config = await loadConfig({ path: examplePath, env: {} });
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(config.storage.filesystem?.rootdirectory, '/var/lib/registry');
    assert.equal(config.http.addr, ':5000');
  });

  it('states the defaults: loading it equals loading its defaults', async () => {
    const config = await loadConfig({ path: examplePath, env: {} });
    const defaults = parseConfig({ version: '0.1', storage: { filesystem: null }, log: { fields: config.log.fields } });
    assert.deepEqual(config, defaults);
  });

  it('shows every key of the schema, set or commented out', () => {
    const shown = examplePaths(example);
    const missing = configKeyPaths().filter((p) => p !== 'storage.driver' && !shown.has(p));
    assert.deepEqual(missing, [], `add to config.example.yml: ${missing.join(', ')}`);
  });
});
