import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, StorageSharedKeyCredential, generateAccountSASQueryParameters } from '@azure/storage-blob';

import { freePort } from './ports.js';
import { startServer, type ServerHandle } from './processes.js';

/** Azurite's well-known development account (public, documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
/** The development account's key. */
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A running Azurite blob service started by {@link startAzurite}. */
export interface AzuriteHandle {
  /** `DefaultEndpointsProtocol=http;AccountName=...;AccountKey=...;BlobEndpoint=...`. */
  readonly connectionString: string;
  readonly accountName: string;
  readonly accountKey: string;
  /** The blob endpoint including the account, e.g. `http://127.0.0.1:PORT/devstoreaccount1` (Distribution's `serviceurl`). */
  readonly endpoint: string;
  /** The process, for its output in failure messages. */
  readonly server: ServerHandle;
  /** Stops Azurite (SIGTERM, then SIGKILL) and removes its working directory. Safe to call twice. */
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Starts Azurite's blob service (`node_modules/.bin/azurite-blob`, the `azurite` devDependency)
 * on a free loopback port, in memory, and resolves once it answers an authenticated request.
 *
 * Flags: `--inMemoryPersistence` (nothing on disk), `--disableTelemetry`, and
 * `--skipApiVersionCheck`, which is required: @azure/storage-blob 12.32 speaks API version
 * 2026-04-06, newer than Azurite 3.35 knows, and Azurite refuses it otherwise (400
 * InvalidHeaderValue). `--loose` is not needed by the driver.
 *
 * Rejects, with Azurite's output in the message, when it cannot start or is not ready within 30 s:
 * tests that need it fail rather than skip.
 */
export async function startAzurite(): Promise<AzuriteHandle> {
  const port = await freePort();
  // Its working directory: in memory it writes nothing, but nothing may land in the checkout either.
  // (--location cannot be combined with --inMemoryPersistence.)
  const workdir = await mkdtemp(join(tmpdir(), 'berth-azurite-'));
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`;
  // Readiness: Get Blob Service Properties with an account SAS answers 200 only when the service
  // is up and accepts this SDK's signatures and API version.
  const sas = generateAccountSASQueryParameters(
    {
      permissions: AccountSASPermissions.parse('r'),
      services: AccountSASServices.parse('b').toString(),
      resourceTypes: AccountSASResourceTypes.parse('s').toString(),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY),
  ).toString();
  let server: ServerHandle;
  try {
    server = await startServer({
      name: 'azurite-blob',
      command: join(root, 'node_modules', '.bin', 'azurite-blob'),
      args: [
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--disableTelemetry',
        '--skipApiVersionCheck',
      ],
      cwd: workdir,
      readyUrl: `${endpoint}/?restype=service&comp=properties&${sas}`,
      timeoutMs: 30_000,
    });
  } catch (err) {
    await rm(workdir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
    accountName: AZURITE_ACCOUNT_NAME,
    accountKey: AZURITE_ACCOUNT_KEY,
    endpoint,
    server,
    stop: () =>
      (stopped ??= (async () => {
        await server.stop();
        await rm(workdir, { recursive: true, force: true });
      })()),
  };
}
