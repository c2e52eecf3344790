/**
 * Key documentation and introspection of a configuration schema tree: what the "did you mean" hints and
 * the generated reference in docs/configuration.md read. Pure, like the rest of this folder.
 */
import { z } from 'zod';

/** What the configuration reference (docs/configuration.md) says of one key, in Markdown. */
export interface FieldDoc {
  /** The Type column: `boolean`, `duration ≥ 1s`, `` `tcp` \| `unix` ``... */
  readonly type: string;
  /** The Default column: `` `false` ``, `—`, `required`... */
  readonly default: string;
  /** The Meaning column, one paragraph. */
  readonly text: string;
}

/**
 * The documentation of a section's keys, by key path relative to the section (`accesslog.disabled`).
 * Each schema module exports one beside its schema; config/schema.ts puts them under their sections,
 * and a test checks that every key the tree accepts is documented and nothing else is.
 */
export type KeyDocs = Readonly<Record<string, FieldDoc>>;

/** `docs` with `prefix.` put before every key path. */
export function docsUnder(prefix: string, docs: KeyDocs): KeyDocs {
  return Object.fromEntries(Object.entries(docs).map(([path, doc]) => [`${prefix}.${path}`, doc]));
}

/** Strips wrappers (defaults, optionals, preprocess and transform pipes) down to the schema that holds the shape. */
export function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodPipe) {
      current = current.def.out instanceof z.ZodTransform ? current.def.in : current.def.out;
    } else if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.def.innerType;
    } else {
      return current;
    }
  }
}

/** The schema at a key path below `root`, or undefined where the path leaves the checked tree (a loose section, a map). */
function schemaAt(root: z.core.$ZodType, path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType = root;
  for (const segment of path) {
    const inner = unwrap(current);
    if (inner instanceof z.ZodObject && typeof segment === 'string' && Object.hasOwn(inner.shape, segment)) {
      current = inner.shape[segment] as z.core.$ZodType;
    } else if (inner instanceof z.ZodArray && typeof segment === 'number') {
      current = inner.def.element;
    } else if (inner instanceof z.ZodRecord && typeof segment === 'string') {
      current = inner.def.valueType;
    } else {
      return undefined;
    }
  }
  return current;
}

/**
 * The keys a checked mapping accepts at `path` (e.g. `['http']`), for "did you mean" hints; [] elsewhere.
 * `hidden`: dotted key paths accepted but never suggested (deprecated aliases, refused drivers).
 */
export function knownKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[], hidden: ReadonlySet<string> = new Set()): readonly string[] {
  const schema = schemaAt(root, path);
  const inner = schema === undefined ? undefined : unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [];
  const prefix = path.map(String).join('.');
  return Object.keys(inner.shape).filter((key) => !hidden.has(prefix === '' ? key : `${prefix}.${key}`));
}

/** One key of a schema tree: its dotted path and the schema found under it in its parent's shape. */
export interface KeyPath {
  readonly path: string;
  readonly schema: z.core.$ZodType;
}

/**
 * Every key path below `root` that holds a value rather than a checked mapping, dotted
 * (`http.tls.minimumtls`), in schema order; hidden keys are left out. A free-form map, a list, or
 * an empty mapping (`storage.inmemory`) is one path. `hidden`: dotted key paths left out, as in knownKeysAt.
 */
export function leafKeyPaths(root: z.core.$ZodType, hidden: ReadonlySet<string> = new Set()): KeyPath[] {
  const out: KeyPath[] = [];
  const visit = (schema: z.core.$ZodType, prefix: string): void => {
    const inner = unwrap(schema);
    if (prefix !== '' && (!(inner instanceof z.ZodObject) || Object.keys(inner.shape).length === 0)) {
      out.push({ path: prefix, schema });
      return;
    }
    if (!(inner instanceof z.ZodObject)) return;
    for (const [key, child] of Object.entries(inner.shape)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (!hidden.has(path)) visit(child as z.core.$ZodType, path);
    }
  };
  visit(root, '');
  return out;
}
