/** The retention metrics of RegistryMetrics (berth_retention_*). */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What a retention run did, as `retentionRun` records it. */
export interface RetentionRunRecord {
  /** False when the run or one of its repositories failed. */
  readonly ok: boolean;
  /** A dry run deletes nothing: its planned deletions are not counted as deleted. */
  readonly dryRun: boolean;
  readonly tagsDeleted: number;
  readonly manifestsDeleted: number;
  readonly tagsKept: number;
  readonly seconds: number;
}

/** Registers the berth_retention_* metrics in `registry` and records runs into them. */
export class RetentionMetrics {
  readonly #runs: Counter<'result'>;
  readonly #deleted: Counter<'kind'>;
  readonly #kept: Counter;
  readonly #lastSeconds: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#runs = new Counter({ name: 'berth_retention_runs_total', help: 'Retention runs, by result (success, failure or dryrun).', labelNames: ['result'], registers });
    this.#deleted = new Counter({ name: 'berth_retention_deleted_total', help: 'Tags and untagged manifests retention deleted, by kind (tag or manifest).', labelNames: ['kind'], registers });
    this.#kept = new Counter({ name: 'berth_retention_kept_total', help: 'Tags retention kept, summed over runs (each run counts every tag it kept).', registers });
    this.#lastSeconds = new Gauge({ name: 'berth_retention_last_run_seconds', help: 'How long the last retention run took.', registers, aggregator: 'max' });
  }

  /** See RegistryMetrics.retentionRun. */
  retentionRun(run: RetentionRunRecord): void {
    this.#runs.inc({ result: !run.ok ? 'failure' : run.dryRun ? 'dryrun' : 'success' });
    if (!run.dryRun && run.tagsDeleted > 0) this.#deleted.inc({ kind: 'tag' }, run.tagsDeleted);
    if (!run.dryRun && run.manifestsDeleted > 0) this.#deleted.inc({ kind: 'manifest' }, run.manifestsDeleted);
    if (run.tagsKept > 0) this.#kept.inc(run.tagsKept);
    if (Number.isFinite(run.seconds) && run.seconds >= 0) this.#lastSeconds.set(run.seconds);
  }
}
