/**
 * The `storage` section: exactly one driver (filesystem, inmemory, s3, azure), and the keys every driver
 * shares. The S3 and Azure parameters' schemas live beside their drivers; `storage.gc` beside online GC.
 */
import { z } from 'zod';
import { booleanField, durationField, integerField, isPlainObject, optionalSection, section, stringField } from '../config-fields/fields.js';
import { gcSchema } from '../gc/schema.js';
import { azureParametersSchema } from '../storage/driver/azure/parameters.js';
import { s3ParametersSchema } from '../storage/driver/s3/parameters.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

/** The storage drivers Berth implements, in the order they are listed in messages. */
export const STORAGE_DRIVERS = ['filesystem', 'inmemory', 's3', 'azure'] as const;
/** The name of a storage driver Berth implements: `config.storage.driver`. */
export type StorageDriverName = (typeof STORAGE_DRIVERS)[number];
/** Distribution drivers Berth does not implement; configuring one is a clear error rather than an unknown key. */
export const UNSUPPORTED_STORAGE_DRIVERS = ['gcs', 'swift', 'oss'] as const;
/** Every key under `storage` that names a driver: what `REGISTRY_STORAGE=<driver>` removes. */
export const STORAGE_DRIVER_KEYS: readonly string[] = [...STORAGE_DRIVERS, ...UNSUPPORTED_STORAGE_DRIVERS];

const supportedList = STORAGE_DRIVERS.join(', ');

function unsupportedDriver(name: string) {
  return z.never({ error: `storage driver ${name} is not supported (supported: ${supportedList})` }).optional();
}

const storageShape = {
  filesystem: optionalSection({
    rootdirectory: stringField('/var/lib/registry', { emptyMeansDefault: true }),
    maxthreads: integerField(100, 1),
    syncmetadata: booleanField(true),
  }),
  inmemory: optionalSection({}),
  s3: s3ParametersSchema.optional(),
  azure: azureParametersSchema.optional(),
  gcs: unsupportedDriver('gcs'),
  swift: unsupportedDriver('swift'),
  oss: unsupportedDriver('oss'),
  delete: section({ enabled: booleanField(false) }),
  maintenance: section({
    uploadpurging: section({
      enabled: booleanField(true),
      age: durationField(168 * 3600_000),
      interval: durationField(24 * 3600_000, { bound: 'positive' }),
      dryrun: booleanField(false),
    }),
    readonly: section({ enabled: booleanField(false) }),
  }),
  cache: z.preprocess(
    (value) => {
      // `layerinfo` is the old name of `blobdescriptor`; as in Distribution, blobdescriptor wins when both are set.
      if (!isPlainObject(value) || !('layerinfo' in value)) return value ?? {};
      const { layerinfo, ...rest } = value;
      return rest['blobdescriptor'] === undefined || rest['blobdescriptor'] === null ? { ...rest, blobdescriptor: layerinfo } : rest;
    },
    z.strictObject({
      blobdescriptor: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.enum(['inmemory', 'redis']).optional()),
      blobdescriptorsize: integerField(10000, 0),
      // Berth's bounds of its other in-process caches (see docs/memory.md).
      manifestbytes: integerField(64 * 1024 * 1024, 0),
      linksize: integerField(50_000, 0),
      taglistsize: integerField(1_000, 0),
      taglistbytes: integerField(16 * 1024 * 1024, 0),
    }),
  ),
  redirect: section({ disable: booleanField(false) }),
  gc: gcSchema,
  tag: section({
    // Distribution treats 0 as "use GOMAXPROCS"; Berth treats it as "the default".
    concurrencylimit: integerField(8, 0).transform((n) => (n === 0 ? 8 : n)),
  }),
};

function presentKeys(value: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => Object.hasOwn(value, k));
}

export const storageSchema = z
  .preprocess((value) => {
    if (value === null || value === undefined) return {};
    if (typeof value === 'string' && value !== '') return { [value]: {} }; // Distribution's `storage: inmemory` form
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = { ...value };
    for (const key of STORAGE_DRIVER_KEYS) if (Object.hasOwn(out, key) && out[key] === null) out[key] = {}; // `inmemory:` with no parameters
    return out;
  }, z.strictObject(storageShape))
  .check(
    z.superRefine(
      (storage, ctx) => {
        if (!isPlainObject(storage)) return;
        const found = presentKeys(storage, STORAGE_DRIVERS);
        const unsupported = presentKeys(storage, UNSUPPORTED_STORAGE_DRIVERS);
        if (found.length > 1 || (found.length === 0 && unsupported.length === 0)) {
          ctx.addIssue({
            code: 'custom',
            message: `exactly one storage driver must be configured (found: ${found.length === 0 ? `none; supported: ${supportedList}` : found.join(', ')})`,
          });
        }
      },
      { when: () => true }, // also when other storage keys are invalid, so every problem is reported at once
    ),
  )
  .transform(({ gcs: _gcs, swift: _swift, oss: _oss, ...storage }) => {
    const driver = STORAGE_DRIVERS.find((name) => storage[name] !== undefined) ?? 'filesystem'; // exactly one, checked above
    return { driver, ...storage };
  });

/** What docs/configuration.md says of each key of `storage` (relative key paths). */
export const storageKeyDocs: KeyDocs = {
  driver: { type: '`filesystem` \\| `inmemory` \\| `s3` \\| `azure`', default: 'derived', text: 'Not written in the file: the parsed configuration carries the name of the configured driver here.' },
  'filesystem.rootdirectory': { type: 'string', default: '`/var/lib/registry`', text: 'Directory holding all registry data (empty means the default).' },
  'filesystem.maxthreads': { type: 'integer ≥ 1', default: '`100`', text: 'Accepted for compatibility with Distribution and not used: Node\'s thread pool (`UV_THREADPOOL_SIZE`, 4 by default) bounds the file operations in flight.' },
  'filesystem.syncmetadata': { type: 'boolean', default: '`true`', text: 'Berth only. Run `stat` (one or two per manifest GET and blob HEAD) and reads of small files (links, upload state, manifests) on the event loop\'s thread: ~2 µs for a `stat` against ~10-35 µs through the thread pool on a local disk. Set `false` when the root directory is on a network file system (NFS, EFS), where one slow call would hold up every other request; tags lists are then also read from the directory every time (a network file system\'s timestamps come from the server\'s clock). Blob data is always read and written through the thread pool.' },
  inmemory: { type: 'mapping (no parameters)', default: '—', text: 'Keeps everything in memory; lost on restart. For tests.' },
  'delete.enabled': { type: 'boolean', default: '`false`', text: 'Allow deleting manifests and blobs by digest.' },
  'maintenance.uploadpurging.enabled': { type: 'boolean', default: '`true`', text: 'Periodically remove abandoned uploads.' },
  'maintenance.uploadpurging.age': { type: 'duration', default: '`168h`', text: 'Remove uploads older than this.' },
  'maintenance.uploadpurging.interval': { type: 'duration > 0', default: '`24h`', text: 'Time between purges.' },
  'maintenance.uploadpurging.dryrun': { type: 'boolean', default: '`false`', text: 'Only log what would be removed.' },
  'maintenance.readonly.enabled': { type: 'boolean', default: '`false`', text: 'Refuse all writes (pushes, deletes), e.g. during garbage collection.' },
  'cache.blobdescriptor': { type: '`inmemory` \\| `redis`', default: '`inmemory`', text: 'Cache of blob descriptors: `inmemory` (the default, when the key is absent) is a bounded in-process LRU. `redis` uses the `redis` section. The old name `layerinfo` is accepted (`blobdescriptor` wins if both are set).' },
  'cache.blobdescriptorsize': { type: 'integer ≥ 0', default: '`10000`', text: 'Most entries in the `inmemory` descriptor cache; `0` means no limit.' },
  'cache.manifestbytes': { type: 'integer ≥ 0', default: '`67108864`', text: 'Bytes of manifests the in-process manifest cache keeps (each entry counts 256 bytes more); `0` turns it off. Berth extension, see [memory.md](memory.md).' },
  'cache.linksize': { type: 'integer ≥ 0', default: '`50000`', text: "Link files (tags' `current/link` above all) kept in process; `0` turns the cache off. Berth extension." },
  'cache.taglistsize': { type: 'integer ≥ 0', default: '`1000`', text: 'Tag lists (one a repository) kept in process; `0` turns the cache off. Berth extension.' },
  'cache.taglistbytes': { type: 'integer ≥ 0', default: '`16777216`', text: 'Bytes those tag lists may hold in all. Berth extension.' },
  'redirect.disable': { type: 'boolean', default: '`false`', text: 'Serve blob content through the registry rather than redirecting clients to the backend (drivers that redirect, such as s3).' },
  'tag.concurrencylimit': { type: 'integer ≥ 0', default: '`8`', text: 'Tags read at once when finding the tags of a deleted manifest. `0` means the default (Distribution uses the CPU count).' },
};
