/**
 * The `storage.azure` section: Distribution's keys, validated once into {@link AzureParameters}.
 * Pure (no Azure SDK), so `config-check` can validate a file without loading the SDK.
 *
 * Keys (Distribution's names and defaults):
 * - `accountname`: the storage account; required unless `connectionstring` is set.
 * - `accountkey`: its key (shared-key auth). Without it, `credentials` chooses token auth
 *   (`client_secret`, or `default_credentials`, the default as in Distribution).
 * - `container`: the container holding everything (created when missing); required.
 * - `realm`: the endpoint suffix, default `core.windows.net` (`https://<account>.blob.<realm>`).
 * - `rootdirectory`: a prefix of every blob name, default none.
 * - `serviceurl`: the blob endpoint instead of the one built from `realm`, e.g. an emulator's
 *   `http://127.0.0.1:10000/devstoreaccount1`.
 * - `connectionstring`: an Azure Storage connection string (account key or SAS), instead of the
 *   account keys above; the usual way to point at Azurite.
 * - `credentials`: `{type: shared_key | client_secret | default_credentials, clientid, tenantid, secret}`.
 * - `copy_status_poll_max_retry` (alias `max_retries`, default 5; -1: never wait) and
 *   `copy_status_poll_delay` (alias `retry_delay`, default 100ms): how long move() waits for a
 *   server-side copy that did not complete at once, in steps of delay × attempt.
 * - `requesttimeout` (Berth extension, default 10s): a request to Azure whose connection is silent
 *   for this long (connecting, sending, waiting or reading) fails without retries, and the client
 *   gets 503 UNAVAILABLE with Retry-After.
 */
import { z } from 'zod';

import { ConfigError, formatKeyPath, type ConfigIssue } from '../../config/config-error.js';
import { parseDuration } from '../../config/duration.js';
import { configIssuesFromZod } from '../../config/issues.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestTimeoutField } from './request-timeout.js';

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

function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** An optional string; null and '' mean not set (as go-yaml leaves a Go string empty). */
const optionalString = () => z.preprocess((v) => (v === '' ? undefined : scalarToString(v)), z.string().optional());

const CREDENTIAL_TYPES = ['shared_key', 'client_secret', 'default_credentials'] as const;

const credentialsSchema = z.preprocess(
  (v) => (v === null || v === '' ? undefined : v),
  z
    .strictObject({
      type: z.preprocess(
        (v) => {
          if (v === null || v === '') return undefined;
          // Distribution 3.0 documented "default"; any other spelling of the chain is an error here.
          return typeof v === 'string' && v.toLowerCase() === 'default' ? 'default_credentials' : typeof v === 'string' ? v.toLowerCase() : v;
        },
        z.enum(CREDENTIAL_TYPES).optional(),
      ),
      clientid: optionalString(),
      tenantid: optionalString(),
      secret: optionalString(),
    })
    .optional(),
);

const retryField = z.preprocess((v) => (v === null ? undefined : v), z.number().int().min(-1).max(1000).optional());

const durationField = z.preprocess(
  (value, ctx) => {
    if (value === null || value === undefined || value === '') return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') return value;
    try {
      return parseDuration(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as 100ms or 1s`, input: value });
      return undefined;
    }
  },
  z.number().min(0, { message: 'must not be negative' }).optional(),
);

// Azure's container names: 3-63 lower-case letters, digits and single inner hyphens; or one of the
// two special containers.
const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9](?:-?[a-z0-9])*$/;

const sectionSchema = z.strictObject({
  accountname: optionalString(),
  accountkey: optionalString(),
  container: z.preprocess(
    scalarToString,
    z
      .string()
      .min(1, { message: 'required', abort: true })
      .refine((name) => CONTAINER_NAME.test(name) || name === '$root' || name === '$web', {
        message: 'must be 3-63 characters of lower-case letters, digits and single hyphens, starting and ending with a letter or digit',
      }),
  ),
  realm: optionalString(),
  rootdirectory: optionalString(),
  serviceurl: optionalString(),
  connectionstring: optionalString(),
  credentials: credentialsSchema,
  copy_status_poll_max_retry: retryField,
  copy_status_poll_delay: durationField,
  max_retries: retryField,
  retry_delay: durationField,
  requesttimeout: requestTimeoutField(),
});

const KNOWN_KEYS = Object.keys(sectionSchema.shape);

/**
 * Validates the `storage.azure` section (`params`: the value under that key, from YAML and
 * REGISTRY_STORAGE_AZURE_* overrides) and resolves how to authenticate. Throws a ConfigError
 * whose lines name the key, e.g. `config: storage.azure.container: required`: every problem of
 * shape and type at once, or, when the shape is right, every missing or conflicting setting.
 */
export function parseAzureParameters(params: unknown): AzureParameters {
  const input = params === null || params === undefined || params === '' ? {} : params;
  const parsed = sectionSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigError(issuesOf(parsed.error.issues));
  const p = parsed.data;
  const issues: ConfigIssue[] = [];
  const at = (...keys: string[]): string => formatKeyPath([...SECTION, ...keys]);

  if (p.connectionstring !== undefined && p.serviceurl !== undefined) {
    issues.push({ path: at('serviceurl'), message: 'set either connectionstring or serviceurl, not both' });
  }
  if (p.serviceurl !== undefined && !isHttpUrl(p.serviceurl)) {
    issues.push({ path: at('serviceurl'), message: `expected an http or https URL, got ${JSON.stringify(p.serviceurl)}` });
  }
  if (p.connectionstring !== undefined && !/(^|;)\s*(AccountName|BlobEndpoint|UseDevelopmentStorage)\s*=/i.test(p.connectionstring)) {
    issues.push({ path: at('connectionstring'), message: 'expected an Azure Storage connection string (AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)' });
  }
  if (p.copy_status_poll_max_retry !== undefined && p.max_retries !== undefined) {
    issues.push({ path: at('max_retries'), message: 'set either copy_status_poll_max_retry or max_retries (its newer name), not both' });
  }
  if (p.copy_status_poll_delay !== undefined && p.retry_delay !== undefined) {
    issues.push({ path: at('retry_delay'), message: 'set either copy_status_poll_delay or retry_delay (its newer name), not both' });
  }

  const realm = p.realm ?? DEFAULT_AZURE_REALM;
  let auth: AzureAuth | undefined;
  if (p.connectionstring !== undefined) {
    auth = { kind: 'connectionstring', connectionString: p.connectionstring };
  } else if (p.accountname === undefined) {
    issues.push({ path: at('accountname'), message: 'required (or set connectionstring)' });
  } else {
    const accountName = p.accountname;
    const serviceUrl = (p.serviceurl ?? `https://${accountName}.blob.${realm}`).replace(/\/+$/, '');
    const type = p.credentials?.type ?? (p.accountkey !== undefined ? 'shared_key' : 'default_credentials');
    if (type === 'shared_key') {
      if (p.accountkey === undefined) issues.push({ path: at('accountkey'), message: 'required with credentials.type shared_key' });
      else auth = { kind: 'shared_key', accountName, accountKey: p.accountkey, serviceUrl };
    } else if (type === 'client_secret') {
      const c = p.credentials;
      const missing = (['clientid', 'tenantid', 'secret'] as const).filter((key) => c?.[key] === undefined);
      for (const key of missing) issues.push({ path: at('credentials', key), message: 'required with credentials.type client_secret' });
      if (c?.clientid !== undefined && c.tenantid !== undefined && c.secret !== undefined) {
        auth = { kind: 'client_secret', accountName, serviceUrl, tenantId: c.tenantid, clientId: c.clientid, secret: c.secret };
      }
    } else {
      auth = { kind: 'default_credentials', accountName, serviceUrl };
    }
  }
  if (issues.length > 0 || auth === undefined) throw new ConfigError(issues);

  return Object.freeze({
    container: p.container,
    rootdirectory: p.rootdirectory ?? '',
    auth: Object.freeze(auth),
    copyStatusPollMaxRetry: p.copy_status_poll_max_retry ?? p.max_retries ?? 5,
    copyStatusPollDelayMs: p.copy_status_poll_delay ?? p.retry_delay ?? 100,
    requestTimeoutMs: p.requesttimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
}

/** zod's issues as ConfigIssues under `storage.azure`, unknown keys with the list of known ones. */
function issuesOf(zodIssues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') {
      const known = issue.path.length === 0 ? KNOWN_KEYS : ['type', 'clientid', 'tenantid', 'secret'];
      for (const key of issue.keys) {
        out.push({ path: formatKeyPath([...SECTION, ...issue.path, key]), message: `unknown key (known keys: ${known.join(', ')})` });
      }
      continue;
    }
    const [converted] = configIssuesFromZod([{ ...issue, path: [...SECTION, ...issue.path] }]);
    if (converted !== undefined) out.push(converted);
  }
  return out;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
