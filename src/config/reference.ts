/**
 * The reference tables of docs/configuration.md, generated from the schema's key paths and the KeyDocs
 * tables beside each section. The file keeps its hand-written prose; each table stands between markers
 * naming the key paths it lists:
 *
 *   <!-- BEGIN config-reference: storage -->
 *   ...generated...
 *   <!-- END config-reference -->
 *
 * A key goes in the table whose marker names the longest prefix of its path (`storage.s3.bucket` in a
 * `storage.s3` table rather than the `storage` one). `node scripts/gen-config-docs.js` rewrites the file.
 */
import { CONFIG_KEY_DOCS, configKeyPaths } from './schema.js';

const BEGIN = /^<!-- BEGIN config-reference: ([a-z0-9._ ]+) -->$/;
const END = '<!-- END config-reference -->';

/** One generated table: where its markers are and which key prefixes it lists. */
interface Table {
  readonly begin: number;
  readonly end: number;
  readonly prefixes: readonly string[];
}

function findTables(lines: readonly string[], problems: string[]): Table[] {
  const tables: Table[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = BEGIN.exec(lines[i] ?? '');
    if (match === null) continue;
    const end = lines.indexOf(END, i + 1);
    if (end === -1) {
      problems.push(`line ${i + 1}: a BEGIN config-reference marker without its END`);
      break;
    }
    tables.push({ begin: i, end, prefixes: (match[1] ?? '').split(' ').filter((p) => p !== '') });
    i = end;
  }
  return tables;
}

/** The table (index) whose marker names the longest prefix of `path`, or -1. */
function tableOf(path: string, tables: readonly Table[]): number {
  let best = -1;
  let bestLength = -1;
  tables.forEach((table, index) => {
    for (const prefix of table.prefixes) {
      if ((path === prefix || path.startsWith(`${prefix}.`)) && prefix.length > bestLength) [best, bestLength] = [index, prefix.length];
    }
  });
  return best;
}

function row(path: string): string {
  const doc = CONFIG_KEY_DOCS[path];
  return doc === undefined ? '' : `| \`${path}\` | ${doc.type} | ${doc.default} | ${doc.text} |`;
}

/**
 * `markdown` (docs/configuration.md) with every table between config-reference markers generated anew,
 * in schema order. Throws an Error listing every problem: a key no table takes, a key without docs, docs
 * of a key the schema does not have, a marker that takes no key.
 */
export function renderConfigReference(markdown: string): string {
  const problems: string[] = [];
  const lines = markdown.split('\n');
  const tables = findTables(lines, problems);
  const paths = configKeyPaths();
  const rows: string[][] = tables.map(() => []);
  for (const path of paths) {
    const index = tableOf(path, tables);
    if (CONFIG_KEY_DOCS[path] === undefined) problems.push(`${path}: not documented (add it to the KeyDocs table beside its section's schema)`);
    else if (index === -1) problems.push(`${path}: no config-reference table takes it (add its section to a marker)`);
    else rows[index]?.push(row(path));
  }
  const known = new Set(paths);
  for (const path of Object.keys(CONFIG_KEY_DOCS)) if (!known.has(path)) problems.push(`${path}: documented, but the schema has no such key`);
  tables.forEach((table, index) => {
    if (rows[index]?.length === 0) problems.push(`config-reference: ${table.prefixes.join(' ')}: no key goes in this table`);
  });
  if (problems.length > 0) throw new Error(`docs/configuration.md cannot be generated:\n${problems.join('\n')}`);
  const out: string[] = [];
  let at = 0;
  tables.forEach((table, index) => {
    out.push(...lines.slice(at, table.begin + 1), '| Key | Type | Default | Meaning |', '|---|---|---|---|', ...(rows[index] ?? []));
    at = table.end;
  });
  out.push(...lines.slice(at));
  return out.join('\n');
}
