/**
 * The `storage.azure` section: Distribution's keys. Its schema is part of the one configuration tree
 * (config/schema.ts plugs it in as `storage.azure`), so the parameters are checked once, when the
 * configuration loads, and the driver receives them typed as {@link AzureParameters}, with the way
 * to authenticate resolved. Pure (no Azure SDK). A key is added in three places: the shape below
 * (with its `doc`), AzureParameters, and toParameters; then `node scripts/gen-config-docs.js`.
 *
 * move() waits for a server-side copy that did not complete at once up to
 * `copy_status_poll_max_retry` times, in steps of `copy_status_poll_delay` × attempt.
 */
import { z } from 'zod';

import { durationField, isHttpUrl, lowercase, optionalDuration, optionalInteger, optionalString, requiredString, unsetIfEmpty } from '../../../config-fields/fields.js';
import { parseSection } from '../../../config-fields/issues.js';
import type { KeyDocs } from '../../../config-fields/schema-tree.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../request-timeout.js';

/** The key path of the section, prefixed to every message. */
const SECTION = ['storage', 'azure'] as const;
/** Distribution's default endpoint suffix. */
export const DEFAULT_AZURE_REALM = 'core.windows.net';

/** How the driver authenticates, resolved from the keys. */
export type AzureAuth =
  | { readonly kind: 'connectionstring'; readonly connectionString: string }
  | { readonly kind: 'shared_key'; readonly accountName: string; readonly accountKey: string; readonly serviceUrl: string }
  | {
      readonly kind: 'client_secret';
      readonly accountName: string;
      readonly serviceUrl: string;
      readonly tenantId: string;
      readonly clientId: string;
      readonly secret: string;
    }
  | { readonly kind: 'default_credentials'; readonly accountName: string; readonly serviceUrl: string };

/** The validated `storage.azure` section. Frozen. */
export interface AzureParameters {
  readonly container: string;
  /** As configured (Distribution trims its slashes when it builds blob names; so does the driver). */
  readonly rootdirectory: string;
  readonly auth: AzureAuth;
  /** How many times move() polls a pending copy; -1 fails at once when the copy is not complete. */
  readonly copyStatusPollMaxRetry: number;
  /** The base delay between polls, in milliseconds (multiplied by the attempt number). */
  readonly copyStatusPollDelayMs: number;
  /** `requesttimeout` (Berth extension): a request whose socket is silent this long fails (503 UNAVAILABLE), not retried. */
  readonly requestTimeoutMs: number;
}

const CREDENTIAL_TYPES = ['shared_key', 'client_secret', 'default_credentials'] as const;

const credentialsSchema = z.preprocess(
  unsetIfEmpty,
  z
    .strictObject({
      type: // Distribution 3.0 documented "default"; any other spelling of the chain is an error here.
        z.preprocess((v) => (lowercase(v) === 'default' ? 'default_credentials' : lowercase(v)), z.enum(CREDENTIAL_TYPES).optional()),
      clientid: optionalString(),
      tenantid: optionalString(),
      secret: optionalString(),
    })
    .optional(),
);

// No defaults here: an old and a new name set together is an error, so "unset" must be seen (toParameters defaults).
const retries = () => optionalInteger(-1, 1000);
const delay = () => optionalDuration({ examples: '100ms or 1s', emptyIsUnset: true });

// Azure's container names: 3-63 lower-case letters, digits and single inner hyphens; or one of the
// two special containers.
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9](?:-?[a-z0-9])*$/;

const azureShape = {
  accountname: optionalString(),
  accountkey: optionalString(),
  container: requiredString().check(z.refine((name) => CONTAINER_NAME.test(name) || name === '$root' || name === '$web', {
      message: 'must be 3-63 characters of lower-case letters, digits and single hyphens, starting and ending with a letter or digit',
      when: (payload) => payload.issues.length === 0,
    })),
  realm: optionalString(),
  rootdirectory: optionalString(),
  serviceurl: optionalString(),
  connectionstring: optionalString(),
  credentials: credentialsSchema,
  copy_status_poll_max_retry: retries(),
  copy_status_poll_delay: delay(),
  max_retries: retries(),
  retry_delay: delay(),
  requesttimeout: durationField(DEFAULT_REQUEST_TIMEOUT_MS, { bound: 'positive', examples: '10s or 30s', emptyIsUnset: true }),
};

type ParsedSection = z.output<z.ZodObject<typeof azureShape>>;

interface Resolved {
  readonly auth: AzureAuth | undefined;
  readonly issues: ReadonlyArray<{ readonly path: string[]; readonly message: string }>;
}

/** How to authenticate, or the settings that are missing or conflict (each at its key). */
function resolve(p: ParsedSection): Resolved {
  const issues: Array<{ path: string[]; message: string }> = [];
  const issue = (path: string[], message: string): void => void issues.push({ path, message });
  if (p.connectionstring !== undefined && p.serviceurl !== undefined) issue(['serviceurl'], 'set either connectionstring or serviceurl, not both');
  if (p.serviceurl !== undefined && !isHttpUrl(p.serviceurl)) issue(['serviceurl'], `expected an http or https URL, got ${JSON.stringify(p.serviceurl)}`);
  if (p.connectionstring !== undefined && !/(^|;)\s*(AccountName|BlobEndpoint|UseDevelopmentStorage)\s*=/i.test(p.connectionstring)) {
    issue(['connectionstring'], 'expected an Azure Storage connection string (AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)');
  }
  if (p.copy_status_poll_max_retry !== undefined && p.max_retries !== undefined) issue(['max_retries'], 'set either copy_status_poll_max_retry or max_retries (its newer name), not both');
  if (p.copy_status_poll_delay !== undefined && p.retry_delay !== undefined) issue(['retry_delay'], 'set either copy_status_poll_delay or retry_delay (its newer name), not both');

  if (p.connectionstring !== undefined) return { auth: { kind: 'connectionstring', connectionString: p.connectionstring }, issues };
  if (p.accountname === undefined) return { auth: undefined, issues: [...issues, { path: ['accountname'], message: 'required (or set connectionstring)' }] };
  const accountName = p.accountname;
  const serviceUrl = (p.serviceurl ?? `https://${accountName}.blob.${p.realm ?? DEFAULT_AZURE_REALM}`).replace(/\/+$/, '');
  const type = p.credentials?.type ?? (p.accountkey !== undefined ? 'shared_key' : 'default_credentials');
  if (type === 'default_credentials') return { auth: { kind: 'default_credentials', accountName, serviceUrl }, issues };
  if (type === 'shared_key') {
    if (p.accountkey === undefined) return { auth: undefined, issues: [...issues, { path: ['accountkey'], message: 'required with credentials.type shared_key' }] };
    return { auth: { kind: 'shared_key', accountName, accountKey: p.accountkey, serviceUrl }, issues };
  }
  const c = p.credentials;
  if (c?.clientid === undefined || c.tenantid === undefined || c.secret === undefined) {
    const missing = (['clientid', 'tenantid', 'secret'] as const).filter((key) => c?.[key] === undefined);
    return { auth: undefined, issues: [...issues, ...missing.map((key) => ({ path: ['credentials', key], message: 'required with credentials.type client_secret' }))] };
  }
  return { auth: { kind: 'client_secret', accountName, serviceUrl, tenantId: c.tenantid, clientId: c.clientid, secret: c.secret }, issues };
}

function toParameters(p: ParsedSection, ctx: z.RefinementCtx): AzureParameters {
  const { auth, issues } = resolve(p);
  for (const { path, message } of issues) ctx.addIssue({ code: 'custom', path, message });
  if (issues.length > 0 || auth === undefined) return z.NEVER;
  return Object.freeze({
    container: p.container,
    rootdirectory: p.rootdirectory ?? '',
    auth: Object.freeze(auth),
    copyStatusPollMaxRetry: p.copy_status_poll_max_retry ?? p.max_retries ?? 5,
    copyStatusPollDelayMs: p.copy_status_poll_delay ?? p.retry_delay ?? 100,
    requestTimeoutMs: p.requesttimeout,
  });
}

/**
 * The schema of `storage.azure` (null or '' is an empty mapping, so the missing container is
 * reported). Output: frozen {@link AzureParameters}, authentication resolved. Every problem of shape
 * and type at once, or, when the shape is right, every missing or conflicting setting.
 */
export const azureParametersSchema = z.preprocess((value) => unsetIfEmpty(value) ?? {}, z.strictObject(azureShape).transform(toParameters));

/**
 * Validates a `storage.azure` section on its own (as the configuration does when it loads), for tests
 * and tools that build a driver directly. Throws a ConfigError whose lines name the key, e.g.
 * `config: storage.azure.container: required`.
 */
export function parseAzureParameters(params: unknown): AzureParameters {
  return parseSection(azureParametersSchema, SECTION, params);
}

/** What docs/configuration.md says of each key (config/schema.ts puts it under `storage.azure`). */

/** What docs/configuration.md says of each key (config/schema.ts puts it under `storage.azure`). */
export const azureKeyDocs: KeyDocs = {
  copy_status_poll_max_retry: { type: 'integer, -1 to 1000', default: '`5`', text: 'How many times move() polls a server-side copy that did not complete at once; `-1` fails at once. Its older name is `max_retries` (not both).' },
  copy_status_poll_delay: { type: 'duration', default: '`100ms`', text: 'Base delay between polls of a pending copy, multiplied by the attempt number. Its older name is `retry_delay` (not both).' },
  max_retries: { type: 'integer, -1 to 1000', default: '`5`', text: 'The older name of `copy_status_poll_max_retry`.' },
  retry_delay: { type: 'duration', default: '`100ms`', text: 'The older name of `copy_status_poll_delay`.' },
  requesttimeout: { type: 'duration', default: '`30s`', text: 'A request to Azure that receives no byte, in either direction, for this long fails without retries and the client gets 503 `UNAVAILABLE` with `Retry-After` (instead of waiting minutes for a store that stopped answering). Berth extension, see [memory.md](memory.md).' },
  'credentials.type': { type: CREDENTIAL_TYPES.map((t) => `\`${t}\``).join(' \\| '), default: '`shared_key` with `accountkey`, else `default_credentials`', text: 'How to authenticate without a connection string: the account key, a service principal (`client_secret`), or the default Azure credential chain (`default` is accepted for it).' },
  'credentials.clientid': { type: 'string', default: '—', text: 'With `client_secret`: the application (client) ID.' },
  'credentials.tenantid': { type: 'string', default: '—', text: 'With `client_secret`: the directory (tenant) ID.' },
  'credentials.secret': { type: 'string', default: '—', text: 'With `client_secret`: the client secret (never logged).' },
  accountname: { type: 'string', default: '—', text: 'The storage account; required unless `connectionstring` is set.' },
  accountkey: { type: 'string', default: '—', text: 'Its key, for shared-key auth (never logged). Without it, `credentials` chooses token auth.' },
  container: { type: 'string', default: 'required', text: 'The container holding everything (created when missing).' },
  realm: { type: 'string', default: `\`${DEFAULT_AZURE_REALM}\``, text: 'Endpoint suffix: the blob endpoint is `https://<accountname>.blob.<realm>`.' },
  rootdirectory: { type: 'string', default: '`""`', text: 'Prefix of every blob name (slashes around it are ignored, as in Distribution).' },
  serviceurl: { type: 'string', default: '—', text: 'The blob endpoint instead of the one built from `realm`, e.g. an emulator\'s `http://127.0.0.1:10000/devstoreaccount1`.' },
  connectionstring: { type: 'string', default: '—', text: 'An Azure Storage connection string (account key or SAS) instead of the keys above; the usual way to point at Azurite. Not with `serviceurl`.' },
};
