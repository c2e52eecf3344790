/** What a garbage collection did (or, in a dry run, would do). */
export interface Summary {
  /** Repositories scanned. */
  readonly repositories: number;
  /** Manifest revisions (one per repository and digest) kept and deleted. */
  readonly manifests: { readonly kept: number; readonly deleted: number };
  /** Blobs under `blobs/` (layers, configs and manifests alike) kept and deleted. */
  readonly blobs: { readonly kept: number; readonly deleted: number };
  /** Bytes of the deleted blobs. */
  readonly bytesFreed: number;
  /** `_layers` links removed because their blob was deleted (or was already gone). */
  readonly layerLinksDeleted: number;
  readonly durationMs: number;
}

/** What one online GC run did: a Summary plus the condemnation bookkeeping. */
export interface OnlineSummary extends Summary {
  /** False when another replica held the lock, so this run did nothing. */
  readonly ran: boolean;
  /** Newly condemned this run (deleted by a later run unless referenced again). */
  readonly condemned: { readonly blobs: number; readonly manifests: number };
  /** Condemnations lifted because the object was referenced again. */
  readonly released: { readonly blobs: number; readonly manifests: number };
  /** Deletions undone because the object was pardoned (pushed again) while being deleted. */
  readonly restored: { readonly blobs: number; readonly manifests: number };
}

/** A progress report, emitted as a collection advances (for the CLI's progress line). */
export interface GcProgress {
  readonly phase: 'mark' | 'sweep' | 'settle' | 'done';
  readonly repositories: number;
  readonly manifestsMarked: number;
  readonly blobsScanned: number;
  readonly blobsDeleted: number;
}

/** A mutable progress counter with a throttle-free callback; the caller decides how often to print. */
export class ProgressTracker {
  phase: GcProgress['phase'] = 'mark';
  repositories = 0;
  manifestsMarked = 0;
  blobsScanned = 0;
  blobsDeleted = 0;

  constructor(private readonly onProgress?: (p: GcProgress) => void) {}

  /** Reports the current counters. */
  report(): void {
    this.onProgress?.(this.snapshot());
  }

  snapshot(): GcProgress {
    return {
      phase: this.phase,
      repositories: this.repositories,
      manifestsMarked: this.manifestsMarked,
      blobsScanned: this.blobsScanned,
      blobsDeleted: this.blobsDeleted,
    };
  }
}

/** An online summary for a run that did not take place (the lock was held elsewhere). */
export function emptyOnlineSummary(durationMs: number): OnlineSummary {
  return {
    ran: false,
    repositories: 0,
    manifests: { kept: 0, deleted: 0 },
    blobs: { kept: 0, deleted: 0 },
    bytesFreed: 0,
    layerLinksDeleted: 0,
    durationMs,
    condemned: { blobs: 0, manifests: 0 },
    released: { blobs: 0, manifests: 0 },
    restored: { blobs: 0, manifests: 0 },
  };
}
