import type { ReusableBuffers, StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { InMemoryDriver } from './inmemory.js';

/** The storage section of the configuration, as far as choosing a driver goes. */
export interface DriverSettings {
  readonly driver: string;
  readonly filesystem?: { readonly rootdirectory: string; readonly syncmetadata?: boolean };
  /** `storage.s3`, passed as it is to the S3 driver, which validates it. */
  readonly s3?: Readonly<Record<string, unknown>>;
  /** `storage.azure`, passed as it is to the Azure driver, which validates it. */
  readonly azure?: Readonly<Record<string, unknown>>;
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
      const { createS3Driver } = await import('./s3.js');
      return createS3Driver(settings.s3 ?? {});
    }
    case 'azure': {
      const { createAzureDriver } = await import('./azure.js');
      return createAzureDriver(settings.azure ?? {});
    }
    default:
      throw new Error(`storage driver ${settings.driver} is not available in this version of Berth`);
  }
}
