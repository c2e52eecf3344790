/**
 * Errors a StorageDriver throws. The storage layer translates them where it knows their meaning
 * (a missing link is MANIFEST_UNKNOWN, a missing blob BLOB_UNKNOWN); anything else is UNKNOWN.
 */

export class StorageDriverError extends Error {
  readonly driver: string;
  constructor(driver: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageDriverError';
    this.driver = driver;
  }
}

/** The path does not exist (or, for a directory operation, is not a directory with entries). */
export class PathNotFoundError extends StorageDriverError {
  readonly path: string;
  constructor(driver: string, path: string) {
    super(driver, `${driver}: path not found: ${path}`);
    this.name = 'PathNotFoundError';
    this.path = path;
  }
}

/** The path is not a valid driver path: relative, with `..`, empty segments or characters outside the allowed set. */
export class InvalidPathError extends StorageDriverError {
  readonly path: string;
  constructor(driver: string, path: string) {
    super(driver, `${driver}: invalid path: ${JSON.stringify(path)}`);
    this.name = 'InvalidPathError';
    this.path = path;
  }
}

/** A read at an offset past the end of the file. */
export class InvalidOffsetError extends StorageDriverError {
  readonly path: string;
  readonly offset: number;
  constructor(driver: string, path: string, offset: number) {
    super(driver, `${driver}: invalid offset ${offset} for ${path}`);
    this.name = 'InvalidOffsetError';
    this.path = path;
    this.offset = offset;
  }
}

export function isPathNotFound(err: unknown): err is PathNotFoundError {
  return err instanceof PathNotFoundError;
}

/**
 * The storage backend did not answer (no byte for the configured request timeout, or refused
 * the connection). Rendered as 503 UNAVAILABLE with Retry-After (http/render-error.ts).
 */
export class StorageUnavailableError extends StorageDriverError {
  constructor(driver: string, message: string, options?: { cause?: unknown }) {
    super(driver, message, options);
    this.name = 'StorageUnavailableError';
  }
}

export function isStorageUnavailable(err: unknown): err is StorageUnavailableError {
  return err instanceof StorageUnavailableError;
}
