// The layer rules of issue 9 ("Architecture"), checked on the import graph of src/:
//   - src/oci/ imports nothing of ours;
//   - nothing in src/storage/ (drivers included) imports src/http/, src/gc/, src/notifications/,
//     src/metrics/, src/cache/ or src/health/;
//   - drivers (src/storage/driver/) import nothing from src/storage/ outside driver/;
//   - each driver lives in its own folder (src/storage/driver/<name>/) and imports no other
//     driver's folder: what they share sits in src/storage/driver/ itself;
//   - src/config/ has no cycle with any feature folder.
// Plus: test/unit starts no daemon (the suites that need Ceph, Azurite, Redis or skopeo live in
// test/integration or test/e2e).
//
// Today some rules are broken. Each break is listed below as a known exception, with the refactor
// step that removes it: a new break fails, and an exception that no longer exists fails too (remove
// it from the list), so the list can only shrink.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers/registries.js';

/** An import of one of our files: `from` imports `to`, both relative to the repository root, `.ts`. */
interface Edge {
  readonly from: string;
  readonly to: string;
}

/**
 * The module specifiers a TypeScript file imports: static imports (type-only included), re-exports,
 * side-effect imports, dynamic `import()` with a literal and `import('...')` types.
 */
export function importedSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, false).importedFiles.map((f) => f.fileName);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) return tsFiles(full);
      return entry.endsWith('.ts') ? [full] : [];
    });
}

/** Every import between files of `folder` (relative to the repository root) and its sub-folders. */
function importGraph(folder: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of tsFiles(join(repoRoot, folder))) {
    for (const spec of importedSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const to = relative(repoRoot, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
      edges.push({ from: relative(repoRoot, file), to });
    }
  }
  return edges;
}

/** The top-level folder of a file under src/ (`src/storage/driver/s3/s3.ts` → `storage`). */
function area(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? (parts[1] ?? '') : '';
}

const show = (e: Edge): string => `${e.from} -> ${e.to}`;

/** Checks the breaks of one rule against its known exceptions, both ways. */
function assertOnlyKnown(rule: string, found: readonly Edge[], known: ReadonlyMap<string, string>): void {
  const seen = new Set(found.map(show));
  const fresh = [...seen].filter((e) => !known.has(e));
  assert.deepEqual(fresh, [], `${rule}: new imports that break the rule`);
  const gone = [...known.keys()].filter((e) => !seen.has(e));
  assert.deepEqual(gone, [], `${rule}: exceptions that no longer exist: remove them from the list in test/unit/layers.test.ts`);
}

/** Known breaks of "a driver imports nothing from storage/ outside driver/". */
const DRIVER_EXCEPTIONS = new Map<string, string>(); // none: the filesystem driver is given its buffers

/** Known breaks of "config/ has no cycle with a feature folder": each edge into or out of config/ on such a cycle. */
const CONFIG_EXCEPTIONS = new Map<string, string>(); // none: the field helpers live in src/config-fields/, a leaf

describe('the import parser', () => {
  const cases: Array<[string, string[]]> = [
    [`import { a } from './a.js';`, ['./a.js']],
    [`import type { B } from '../b/b.js';`, ['../b/b.js']],
    [`import './side-effect.js';`, ['./side-effect.js']],
    [`export { c } from './c.js';\nexport * from './d.js';`, ['./c.js', './d.js']],
    [`const { e } = await import('./e.js');`, ['./e.js']],
    [`let f: import('./f.js').F;`, ['./f.js']],
    [`import {\n  g,\n  h,\n} from 'node:fs';`, ['node:fs']],
    [`// import { x } from './commented.js';\nconst s = "import('./in-a-string.js')";`, []],
  ];
  for (const [source, expected] of cases) it(JSON.stringify(source), () => assert.deepEqual(importedSpecifiers(source), expected));
});

describe('layers of src/', () => {
  const edges = importGraph('src');
  const cross = edges.filter((e) => e.to.startsWith('src/'));

  it('sees the whole graph (every file under src/, dynamic imports included)', () => {
    assert.ok(cross.length > 300, `only ${cross.length} imports found`);
    assert.ok(cross.some((e) => e.from === 'src/storage/driver/factory.ts' && e.to === 'src/storage/driver/s3/s3.ts'), 'the dynamic import of the S3 driver');
    assert.ok(cross.every((e) => e.to.endsWith('.ts')), 'every import names a .js file compiled from .ts');
  });

  it('oci/ imports nothing of ours', () => {
    assertOnlyKnown('oci', cross.filter((e) => e.from.startsWith('src/oci/') && !e.to.startsWith('src/oci/')), new Map());
  });

  it('storage/ (drivers included) imports nothing of http, gc, notifications, metrics, cache or health', () => {
    const banned = /^src\/(http|gc|notifications|metrics|cache|health)\//;
    assertOnlyKnown('storage', cross.filter((e) => e.from.startsWith('src/storage/') && banned.test(e.to)), new Map());
  });

  it('drivers import nothing from storage/ outside driver/', () => {
    const found = cross.filter((e) => e.from.startsWith('src/storage/driver/') && e.to.startsWith('src/storage/') && !e.to.startsWith('src/storage/driver/'));
    assertOnlyKnown('driver', found, DRIVER_EXCEPTIONS);
  });

  it("a driver's folder imports no other driver's folder", () => {
    const driverFolder = (path: string): string | undefined => /^src\/storage\/driver\/([^/]+)\//.exec(path)?.[1];
    const found = cross.filter((e) => {
      const [from, to] = [driverFolder(e.from), driverFolder(e.to)];
      return from !== undefined && to !== undefined && from !== to;
    });
    assertOnlyKnown('driver folders', found, new Map());
    for (const name of ['filesystem', 'inmemory', 's3', 'azure']) {
      assert.ok(cross.some((e) => e.from === 'src/storage/driver/factory.ts' && e.to === `src/storage/driver/${name}/${name}.ts`), `the factory loads ${name}/${name}.ts`);
    }
  });

  it('config/ has no cycle with a feature folder', () => {
    // Folder-level reachability: a cycle is config/ reaching a folder that reaches config/ back.
    const next = new Map<string, Set<string>>();
    for (const e of cross) {
      const [a, b] = [area(e.from), area(e.to)];
      if (a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
    }
    const reach = (start: string): Set<string> => {
      const seen = new Set<string>();
      const todo = [start];
      for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
        for (const n of next.get(f) ?? []) {
          if (seen.has(n)) continue;
          seen.add(n);
          todo.push(n);
        }
      }
      return seen;
    };
    const onCycle = new Set([...reach('config')].filter((f) => f !== 'config' && reach(f).has('config')));
    const found = cross.filter((e) => (area(e.from) === 'config' && onCycle.has(area(e.to))) || (area(e.to) === 'config' && onCycle.has(area(e.from))));
    assertOnlyKnown('config', found, CONFIG_EXCEPTIONS);
  });
});

describe('test/unit starts no daemon', () => {
  // The helpers that start Ceph RGW, Azurite, redis-server or skopeo, and the GC fixtures that use them.
  const daemonHelpers = /(^|\/)(helpers\/(ceph|azurite|redis|skopeo)|gc-fixtures)\.js$/;
  it('no file of test/unit imports a helper that starts a daemon', () => {
    const found = importGraph('test/unit').filter((e) => daemonHelpers.test(e.to.replace(/\.ts$/, '.js')));
    assert.deepEqual(found.map(show), []);
  });
});
