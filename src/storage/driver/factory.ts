import type { AzureParameters } from './azure/parameters.js';
import type { ReusableBuffers, StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem/filesystem.js';
import { InMemoryDriver } from './inmemory/inmemory.js';
import type { S3Parameters } from './s3/parameters.js';

/** The storage section of the configuration, as far as choosing a driver goes. */
export interface DriverSettings {
  readonly driver: string;
  readonly filesystem?: { readonly rootdirectory: string; readonly syncmetadata?: boolean };
  /** `storage.s3`, checked when the configuration loaded. */
  readonly s3?: S3Parameters;
  /** `storage.azure`, checked when the configuration loaded. */
  readonly azure?: AzureParameters;
}

/** What the composition root shares with the driver it creates. */
export interface DriverDependencies {
  /** Transfer buffers the filesystem driver sends ranges through (storage's pool, shared with uploads). */
  readonly buffers?: ReusableBuffers;
}

/**
 * Creates the configured driver. Drivers are created explicitly here, never registered through
 * import side effects; heavy ones (object stores) are loaded only when configured.
 */
export async function createDriver(settings: DriverSettings, dependencies: DriverDependencies = {}): Promise<StorageDriver> {
  switch (settings.driver) {
    case 'filesystem':
      return new FilesystemDriver({
        rootdirectory: settings.filesystem?.rootdirectory ?? '/var/lib/registry',
        syncmetadata: settings.filesystem?.syncmetadata ?? true,
        buffers: dependencies.buffers,
      });
    case 'inmemory':
      return new InMemoryDriver();
    case 's3': {
      if (settings.s3 === undefined) throw new Error('storage driver s3 has no parameters');
      const { createS3Driver } = await import('./s3/s3.js');
      return createS3Driver(settings.s3);
    }
    case 'azure': {
      if (settings.azure === undefined) throw new Error('storage driver azure has no parameters');
      const { createAzureDriver } = await import('./azure/azure.js');
      return createAzureDriver(settings.azure);
    }
    default:
      throw new Error(`storage driver ${settings.driver} is not available in this version of Berth`);
  }
}
