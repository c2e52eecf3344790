import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../src/oci/errors.js';
import { knownKeysAt, STORAGE_DRIVERS } from '../../src/config/schema.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

describe('README stays true', () => {
  it('the error table lists every error code with its status, and nothing else', () => {
    const start = readme.indexOf('<!-- error-table');
    assert.ok(start >= 0, 'README has the error table marker');
    // The table's rows: from the marker to the first line after them that is not a table row.
    const lines = readme.slice(start).split('\n').slice(1);
    const first = lines.findIndex((l) => l.startsWith('|'));
    const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
    const rows = lines.slice(first, end === -1 ? undefined : end).filter((l) => l.startsWith('| `'));
    const documented = new Map(rows.map((r) => {
      const cells = r.split('|').map((c) => c.trim());
      return [(cells[1] ?? '').replace(/`/g, ''), cells[2] ?? ''] as const;
    }));
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      assert.ok(documented.has(code), `README error table lacks ${code}`);
      assert.match(documented.get(code) ?? '', new RegExp(`\\b${status}\\b`), `${code} is documented with the wrong status`);
    }
    for (const code of documented.keys()) assert.ok(code in ERROR_CODES, `README documents unknown code ${code}`);
  });
  it('names every storage driver Berth implements', () => {
    const section = readme.slice(readme.indexOf('## Storage'), readme.indexOf('## Running several replicas'));
    for (const driver of STORAGE_DRIVERS) assert.ok(section.includes(`\`${driver}\``), `README's Storage section lacks ${driver}`);
  });
  it('names the configuration sections Berth refuses', () => {
    for (const key of ['middleware', 'reporting', 'compatibility']) {
      assert.ok(knownKeysAt([]).includes(key), key);
      assert.ok(readme.includes(`\`${key}\``), `README does not name ${key}`);
    }
  });
  it('states the set-up contract', () => {
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm test/);
  });
});
