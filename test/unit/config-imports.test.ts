// Imports follow the layers for configuration: src/config-fields/ is a leaf (zod and node only), and
// config/ (which assembles the schema tree from the features' sections) is in no import cycle with any
// other folder of src/. Reads the TypeScript sources, so a type-only import counts too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../../src/', import.meta.url)); // dist/test/unit -> the repository's src/

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier of a file: static imports and re-exports (type-only too) and dynamic import(). */
function specifiers(text: string): string[] {
  const found = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'([^']+)'/gms), ...text.matchAll(/^\s*import\s+'([^']+)'/gm), ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)];
  return found.map((m) => m[1] ?? '');
}

/** The top folder under src/ of a file (`storage` for src/storage/driver/s3/s3.ts); '' for a file at the top. */
function folderOf(file: string): string {
  const parts = relative(src, file).split(/[\\/]/);
  return parts.length > 1 ? (parts[0] ?? '') : '';
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly file: string;
  readonly specifier: string;
}

function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(src)) {
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      edges.push({ from: folderOf(file), to: folderOf(target), file: relative(src, file), specifier });
    }
  }
  return edges;
}

/** Folders reachable from `start` over edges between different folders. */
function reachable(start: string, edges: readonly Edge[]): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const folder = queue.pop() ?? '';
    for (const edge of edges) {
      if (edge.from === folder && edge.to !== folder && !seen.has(edge.to)) {
        seen.add(edge.to);
        queue.push(edge.to);
      }
    }
  }
  return seen;
}

describe('configuration imports', () => {
  const edges = importEdges();

  it('finds the imports it checks', () => {
    // The scan must see config/ importing feature sections, or the checks below would pass vacuously.
    assert.ok(edges.some((e) => e.from === 'config' && e.to === 'gc'), 'config/schema.ts imports gc/schema.ts');
    assert.ok(edges.some((e) => e.from === 'gc' && e.to === 'config-fields'), 'gc/schema.ts imports config-fields/');
  });

  it('keeps src/config-fields/ a leaf: zod and node only', () => {
    const outside = sourceFiles(join(src, 'config-fields')).flatMap((file) =>
      specifiers(readFileSync(file, 'utf8'))
        .filter((s) => !(s.startsWith('./') || s === 'zod' || s.startsWith('node:')))
        .map((s) => `${relative(src, file)} imports ${s}`),
    );
    assert.deepEqual(outside, []);
  });

  it('has no folder that config/ depends on depend on config/ in turn', () => {
    const fromConfig = reachable('config', edges);
    const cycles = [...fromConfig].filter((folder) => folder !== 'config' && reachable(folder, edges).has('config'));
    const offending = edges.filter((e) => e.to === 'config' && e.from !== 'config' && cycles.includes(e.from)).map((e) => `${e.file} imports ${e.specifier}`);
    assert.deepEqual(cycles, [], `folders in a cycle with config/: ${cycles.join(', ')}; imports of config/ from them: ${offending.join('; ')}`);
  });
});
