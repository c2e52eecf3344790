/**
 * Field metadata and introspection of a configuration schema tree: what the "did you mean" hints and
 * the generated reference in docs/configuration.md read. Pure, like the rest of this folder.
 */
import { z } from 'zod';

/** What the configuration reference says of one key; `hidden` keys (deprecated aliases, refused drivers) are neither listed nor documented. */
export interface FieldDoc {
  /** The Type column: `boolean`, `duration ≥ 1s`, `` `tcp` \| `unix` ``... (Markdown). */
  readonly type: string;
  /** The Default column (Markdown): `` `false` ``, `—`, `required`... */
  readonly default: string;
  /** The Meaning column (Markdown, one paragraph). */
  readonly text: string;
}

type FieldMeta = FieldDoc | { readonly hidden: true };

const fieldMeta = z.registry<FieldMeta>();

/**
 * Documents a key: call it on the schema as it stands in its section's shape (outermost), so the
 * reference generator finds it there: `enabled: doc(booleanField(false), 'boolean', '`false`', 'Allow deletes.')`.
 */
export function doc<T extends z.core.$ZodType>(schema: T, type: string, defaultText: string, text: string): T {
  fieldMeta.add(schema, { type, default: defaultText, text });
  return schema;
}

/** Marks a key accepted but neither suggested nor documented (a deprecated alias, an unsupported driver). */
export function hidden<T extends z.core.$ZodType>(schema: T): T {
  fieldMeta.add(schema, { hidden: true });
  return schema;
}

/** The documentation of a key's schema (as found in its parent's shape), if any. */
export function fieldDoc(schema: z.core.$ZodType): FieldDoc | undefined {
  const meta = fieldMeta.get(schema);
  return meta === undefined || 'hidden' in meta ? undefined : meta;
}

function isHidden(schema: z.core.$ZodType): boolean {
  const meta = fieldMeta.get(schema);
  return meta !== undefined && 'hidden' in meta;
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

/** The keys a checked mapping accepts at `path` (e.g. `['http']`), hidden ones left out, for "did you mean" hints; [] elsewhere. */
export function knownKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[]): readonly string[] {
  const schema = schemaAt(root, path);
  const inner = schema === undefined ? undefined : unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape)
    .filter(([, child]) => !isHidden(child as z.core.$ZodType))
    .map(([key]) => key);
}

/** One key of a schema tree: its dotted path and the schema found under it in its parent's shape. */
export interface KeyPath {
  readonly path: string;
  readonly schema: z.core.$ZodType;
}

/**
 * Every key path below `root` that holds a value rather than a checked mapping, dotted
 * (`http.tls.minimumtls`), in schema order; hidden keys are left out. A free-form map, a list, or
 * an empty mapping (`storage.inmemory`) is one path.
 */
export function leafKeyPaths(root: z.core.$ZodType): KeyPath[] {
  const out: KeyPath[] = [];
  const visit = (schema: z.core.$ZodType, prefix: string): void => {
    const inner = unwrap(schema);
    if (prefix !== '' && (!(inner instanceof z.ZodObject) || Object.keys(inner.shape).length === 0)) {
      out.push({ path: prefix, schema });
      return;
    }
    if (!(inner instanceof z.ZodObject)) return;
    for (const [key, child] of Object.entries(inner.shape)) {
      if (!isHidden(child as z.core.$ZodType)) visit(child as z.core.$ZodType, prefix === '' ? key : `${prefix}.${key}`);
    }
  };
  visit(root, '');
  return out;
}
