/** The garbage-collection metrics of RegistryMetrics (berth_gc_*). */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What a garbage-collection run did, as `gcRun` records it. */
export interface GcRunSummary {
  readonly blobsDeleted: number;
  readonly manifestsDeleted: number;
  readonly bytesFreed: number;
  readonly seconds: number;
  /** False when the run failed (partial deletions are still counted). */
  readonly ok: boolean;
}

/** Registers the berth_gc_* metrics in `registry` and records runs into them. */
export class GcMetrics {
  readonly #gcRuns: Counter<'result'>;
  readonly #gcDeleted: Counter<'kind'>;
  readonly #gcFreed: Counter;
  readonly #gcLastSeconds: Gauge;
  readonly #gcLastRun: Gauge;
  readonly #gcLastSuccess: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#gcRuns = new Counter({ name: 'berth_gc_runs_total', help: 'Garbage-collection runs, by result (success or failure).', labelNames: ['result'], registers });
    this.#gcDeleted = new Counter({
      name: 'berth_gc_deleted_objects_total',
      help: 'Objects deleted by garbage collection, by kind (blob or manifest).',
      labelNames: ['kind'],
      registers,
    });
    this.#gcFreed = new Counter({ name: 'berth_gc_freed_bytes_total', help: 'Bytes of blob data freed by garbage collection.', registers });
    // aggregator: how http.workers' per-worker values combine (prom-client sums by default).
    this.#gcLastSeconds = new Gauge({ name: 'berth_gc_last_run_duration_seconds', help: 'How long the last garbage-collection run took.', registers, aggregator: 'max' });
    this.#gcLastRun = new Gauge({ name: 'berth_gc_last_run_timestamp_seconds', help: 'When the last garbage-collection run ended (Unix time).', registers, aggregator: 'max' });
    this.#gcLastSuccess = new Gauge({
      name: 'berth_gc_last_success_timestamp_seconds',
      help: 'When the last successful garbage-collection run ended (Unix time).',
      registers,
      aggregator: 'max',
    });
  }

  /** See RegistryMetrics.gcRun. */
  gcRun(summary: GcRunSummary): void {
    this.#gcRuns.inc({ result: summary.ok ? 'success' : 'failure' });
    if (summary.blobsDeleted > 0) this.#gcDeleted.inc({ kind: 'blob' }, summary.blobsDeleted);
    if (summary.manifestsDeleted > 0) this.#gcDeleted.inc({ kind: 'manifest' }, summary.manifestsDeleted);
    if (summary.bytesFreed > 0) this.#gcFreed.inc(summary.bytesFreed);
    if (Number.isFinite(summary.seconds) && summary.seconds >= 0) this.#gcLastSeconds.set(summary.seconds);
    const now = Date.now() / 1000;
    this.#gcLastRun.set(now);
    if (summary.ok) this.#gcLastSuccess.set(now);
  }
}
