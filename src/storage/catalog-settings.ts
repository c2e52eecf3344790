/** The `catalog` section as the catalog index uses it (the schema in src/config/schema.ts validates it). */
export interface CatalogSettings {
  /** `catalog.maxentries` (Distribution's): the most entries a response holds, and the default page size. */
  readonly maxEntries: number;
  /** `catalog.refresh`: age of the walked index at which a page starts a background walk. */
  readonly refreshMs: number;
  /** `catalog.maxstale`: a page never comes from a walk older than this (without Redis, the staleness bound across replicas). */
  readonly maxStaleMs: number;
  /** `catalog.redis`: share repository names through the `redis` section when there is one (default true). */
  readonly redis: boolean;
}

/** The parsed `catalog` section, as the configuration schema yields it. */
export interface CatalogSection {
  readonly maxentries: number;
  readonly refresh: number;
  readonly maxstale: number;
  readonly redis: boolean;
}

export function catalogSettings(section: CatalogSection): CatalogSettings {
  return Object.freeze({ maxEntries: section.maxentries, refreshMs: section.refresh, maxStaleMs: section.maxstale, redis: section.redis });
}
