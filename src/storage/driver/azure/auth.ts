/**
 * Azure clients and URL signing for the Azure driver, one per way of authenticating
 * (see AzureAuth): shared key and connection strings sign service SAS URLs with the account key,
 * token credentials (Azure AD) sign user delegation SAS URLs, a SAS connection string signs nothing.
 */
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  type BlobClient,
  type ContainerClient,
  type StoragePipelineOptions,
  type UserDelegationKey,
} from '@azure/storage-blob';

import type { AzureAuth, AzureParameters } from './parameters.js';
import { StorageDriverError } from '../errors.js';
import { idleTimeoutAgent } from '../idle-timeout-agent.js';
import type { Agent } from 'node:http';

/** A credential for Azure AD tokens, as the SDK accepts it (from `@azure/identity`). */
type TokenCredential = Extract<NonNullable<ConstructorParameters<typeof BlobServiceClient>[1]>, { getToken: unknown }>;

/** Signs URLs that grant read access to one blob for a while: for redirects and copy sources. */
export interface BlobUrlSigner {
  /**
   * A URL reading `blob` until `expiresOn`, or undefined when this authentication cannot sign
   * (a SAS connection string: handing out its token would grant far more than one blob).
   */
  readUrl(blob: BlobClient, expiresOn: Date): Promise<string | undefined>;
}

/** What {@link createAzureClients} builds. */
export interface AzureClients {
  readonly container: ContainerClient;
  readonly signer: BlobUrlSigner;
}

const PIPELINE_OPTIONS: StoragePipelineOptions = { userAgentOptions: { userAgentPrefix: 'berth' } };

/**
 * The pipeline options with an agent whose sockets fail after `requestTimeoutMs` of silence (see
 * idleTimeoutAgent). `agent` is not in StoragePipelineOptions' type, but the SDK passes its options
 * on to core-rest-pipeline, which installs it for every request.
 */
function pipelineOptions(url: string, requestTimeoutMs: number): StoragePipelineOptions {
  const options: StoragePipelineOptions & { agent: Agent } = {
    ...PIPELINE_OPTIONS,
    agent: idleTimeoutAgent(new URL(url).protocol === 'https:' ? 'https:' : 'http:', requestTimeoutMs),
  };
  return options;
}

/** The blob endpoint a connection string names, for the agent's protocol (https when it says nothing). */
function connectionStringEndpoint(connectionString: string): string {
  const blob = /(?:^|;)\s*BlobEndpoint\s*=\s*([^;]+)/i.exec(connectionString)?.[1];
  if (blob !== undefined) return blob.trim();
  if (/(?:^|;)\s*UseDevelopmentStorage\s*=\s*true/i.test(connectionString)) return 'http://127.0.0.1:10000';
  const protocol = /(?:^|;)\s*DefaultEndpointsProtocol\s*=\s*(https?)/i.exec(connectionString)?.[1] ?? 'https';
  return `${protocol.toLowerCase()}://localhost`;
}

/**
 * The container client and signer for validated parameters. Does no I/O except loading
 * `@azure/identity` for token credentials (it is not a dependency of Berth: install it to use them).
 */
export async function createAzureClients(params: AzureParameters, now: () => Date = () => new Date()): Promise<AzureClients> {
  const auth = params.auth;
  let service: BlobServiceClient;
  let signer: BlobUrlSigner;
  switch (auth.kind) {
    case 'connectionstring': {
      try {
        service = BlobServiceClient.fromConnectionString(auth.connectionString, pipelineOptions(connectionStringEndpoint(auth.connectionString), params.requestTimeoutMs));
      } catch (err) {
        throw new StorageDriverError('azure', `azure: storage.azure.connectionstring: ${message(err)}`, { cause: err });
      }
      signer = service.credential instanceof StorageSharedKeyCredential ? new SharedKeySigner() : new NoSigner();
      break;
    }
    case 'shared_key': {
      service = new BlobServiceClient(auth.serviceUrl, new StorageSharedKeyCredential(auth.accountName, auth.accountKey), pipelineOptions(auth.serviceUrl, params.requestTimeoutMs));
      signer = new SharedKeySigner();
      break;
    }
    case 'client_secret':
    case 'default_credentials': {
      service = new BlobServiceClient(auth.serviceUrl, await loadTokenCredential(auth), pipelineOptions(auth.serviceUrl, params.requestTimeoutMs));
      signer = new UserDelegationSigner(service, now);
      break;
    }
  }
  return { container: service.getContainerClient(params.container), signer };
}

/** Signs with the account key the client was built with. */
export class SharedKeySigner implements BlobUrlSigner {
  async readUrl(blob: BlobClient, expiresOn: Date): Promise<string> {
    return blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn, protocol: protocolFor(blob.url) });
  }
}

/** For a client whose URL already carries a SAS: nothing to sign. */
export class NoSigner implements BlobUrlSigner {
  async readUrl(): Promise<undefined> {
    return undefined;
  }
}

/** How long a user delegation key is asked for, and how long before its end a new one is fetched. */
const DELEGATION_KEY_LIFETIME_MS = 48 * 3600_000;
const DELEGATION_KEY_RENEW_MS = 2 * 3600_000;

/** Signs user delegation SAS URLs with a key fetched with the token credential and cached. */
class UserDelegationSigner implements BlobUrlSigner {
  readonly #service: BlobServiceClient;
  readonly #now: () => Date;
  #key: Promise<{ key: UserDelegationKey; expiresAt: number }> | undefined;

  constructor(service: BlobServiceClient, now: () => Date) {
    this.#service = service;
    this.#now = now;
  }

  async readUrl(blob: BlobClient, expiresOn: Date): Promise<string> {
    const { key } = await this.#delegationKey(expiresOn.getTime());
    return blob.generateUserDelegationSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn, protocol: protocolFor(blob.url) }, key);
  }

  async #delegationKey(neededUntil: number): Promise<{ key: UserDelegationKey; expiresAt: number }> {
    const cached = this.#key === undefined ? undefined : await this.#key.catch(() => undefined);
    if (cached !== undefined && cached.expiresAt - DELEGATION_KEY_RENEW_MS >= neededUntil) return cached;
    const start = new Date(this.#now().getTime() - 60_000); // tolerate clock skew
    const end = new Date(start.getTime() + DELEGATION_KEY_LIFETIME_MS);
    const fetching = this.#service.getUserDelegationKey(start, end).then((key) => ({ key, expiresAt: end.getTime() }));
    this.#key = fetching;
    try {
      return await fetching;
    } catch (err) {
      throw new StorageDriverError('azure', `azure: cannot get a user delegation key to sign URLs: ${message(err)}`, { cause: err });
    }
  }
}

/** HTTPS-only SAS for HTTPS endpoints; an emulator over plain HTTP needs both. */
function protocolFor(url: string): SASProtocol {
  return url.startsWith('https:') ? SASProtocol.Https : SASProtocol.HttpsAndHttp;
}

async function loadTokenCredential(auth: Extract<AzureAuth, { kind: 'client_secret' | 'default_credentials' }>): Promise<TokenCredential> {
  // A variable, so TypeScript does not need the package: it is optional.
  const packageName = '@azure/identity';
  let identity: unknown;
  try {
    identity = await import(packageName);
  } catch (err) {
    throw new StorageDriverError(
      'azure',
      `azure: storage.azure.credentials.type ${auth.kind} needs the @azure/identity package (npm install @azure/identity), or set accountkey`,
      { cause: err },
    );
  }
  const className = auth.kind === 'client_secret' ? 'ClientSecretCredential' : 'DefaultAzureCredential';
  const constructor: unknown = typeof identity === 'object' && identity !== null ? Reflect.get(identity, className) : undefined;
  if (typeof constructor !== 'function') {
    throw new StorageDriverError('azure', `azure: @azure/identity has no ${className}`);
  }
  const args = auth.kind === 'client_secret' ? [auth.tenantId, auth.clientId, auth.secret] : [];
  const credential: unknown = Reflect.construct(constructor, args);
  if (!isTokenCredential(credential)) throw new StorageDriverError('azure', `azure: @azure/identity's ${className} is not a token credential`);
  return credential;
}

function isTokenCredential(value: unknown): value is TokenCredential {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'getToken') === 'function';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
