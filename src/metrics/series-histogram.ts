import { Histogram, type Aggregator, type HistogramConfiguration, type LabelValues, type MetricType } from 'prom-client';

/** One label set of a SeriesHistogram, bound once: observe() is a bucket search and three adds. */
export interface HistogramSeries {
  observe(seconds: number): void;
}

type Exported<T extends string> = Awaited<ReturnType<Histogram<T>['get']>>;

/**
 * A prom-client Histogram observed through series bound once per label set, for the hot path (every
 * request, every storage call): prom-client's own observe() validates and hashes the labels on every
 * call, which cost more than a manifest GET's own work. The exposition (text and, for http.workers, the
 * JSON the primary aggregates) is the one prom-client writes for a histogram, from these series: observe
 * it only through series(), never through observe().
 */
export class SeriesHistogram<T extends string> extends Histogram<T> {
  // Set by prom-client's constructor (lib/metric.js, lib/histogram.js); its typings leave them out.
  declare readonly name: string;
  declare readonly help: string;
  declare readonly type: MetricType;
  declare readonly aggregator: Aggregator;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series<T>>();

  constructor(config: HistogramConfiguration<T> & { readonly buckets: number[] }) {
    super(config);
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
  }

  /** The series of `labels` (the same object for the same values), created on first use. */
  series(labels: Readonly<Record<T, string>>): HistogramSeries {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new Series({ ...labels }, this.#bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() too, before this class's fields exist.
    if (!(#series in this)) return;
    for (const series of this.#series.values()) series.reset();
  }

  override async get(): Promise<Exported<T>> {
    const values: Exported<T>['values'] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.buckets[i] ?? 0;
        values.push({ labels: withLe(series.labels, this.#bounds[i] as number), value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: withLe(series.labels, '+Inf'), value: series.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values, collect: () => undefined };
  }

  /** What prom-client's Registry reads for the text exposition when a metric has it (Histogram does). */
  async getForPromString(): Promise<Exported<T>> {
    return this.get();
  }
}

/** `le` first, as prom-client orders a bucket's labels. */
function withLe<T extends string>(labels: LabelValues<T>, le: number | string): LabelValues<T | 'le'> {
  const out: LabelValues<T | 'le'> = {};
  out.le = le;
  return Object.assign(out, labels);
}

class Series<T extends string> implements HistogramSeries {
  /** Observations per bucket (not cumulative); beyond the last bound only `count` has them. */
  buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: LabelValues<T>,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    if (i < bounds.length) this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    this.sum += seconds;
    this.count++;
  }

  reset(): void {
    this.buckets = new Float64Array(this.bounds.length);
    this.sum = 0;
    this.count = 0;
  }
}
