import type { Metric } from "prom-client";

/** One line of the exposition, as prom-client's registry formats it. */
interface ExpositionValue {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/**
 * Latency buckets in seconds, from 100 µs (a small model's predict step) to 60 s (the default
 * time limit): each about 2.5x the one before.
 */
export const latencyBuckets: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Batch-size buckets, in rows or requests per run: the powers of two from 1 to 4096, the largest
 * `BYOC_BATCH_MAX_SIZE` accepts, so every configured maximum is a bucket bound or lies between two.
 */
export const batchSizeBuckets: readonly number[] = Array.from({ length: 13 }, (_, power) => 2 ** power);

/**
 * One labelled series of a {@link HistogramFamily}: what a request path holds on to and observes
 * into, with no label lookup per observation.
 *
 * @example
 * ```ts
 * const predict = family.series({ model: "iris", stage: "predict" });
 * predict.observe(0.00042);
 * ```
 */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Adds one observation (seconds, bytes...): a bucket search and three additions. */
  observe(value: number): void {
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram whose series are plain counters updated on the request path and turned
 * into prom-client's exposition only when `/metrics` is scraped. prom-client's own `Histogram`
 * validates and hashes the label set at every observation (about 1 µs, where the HTTP thread's
 * whole share of a small model's request is about 27 µs: docs/metrics.md), so the hot path uses
 * series created once instead. The registry reads it like any metric (`name`, `help`, `type`,
 * `get()`).
 *
 * @example
 * ```ts
 * const stages = new HistogramFamily("byoc_inference_stage_duration_seconds", "Time per stage", latencyBuckets);
 * registry.registerMetric(stages.asMetric());
 * stages.series({ model: "iris", stage: "predict" }).observe(0.0004);
 * ```
 */
export class HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = bounds;
  }

  /** The series of `labels`, created on first use; callers keep it for their hot path. */
  series(labels: Readonly<Record<string, string>>): HistogramSeries {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) this.#series.set(key, (series = new HistogramSeries(labels, this.#bounds)));
    return series;
  }

  /** The exposition values, as prom-client's registry reads them: cumulative buckets, `+Inf`, sum, count. */
  get(): Promise<{ name: string; help: string; type: "histogram"; values: ExpositionValue[]; aggregator: "sum" }> {
    const values: ExpositionValue[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, index) => {
        cumulative += series.counts[index] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le: bound }, value: cumulative });
      });
      values.push(
        { metricName: `${this.name}_bucket`, labels: { ...series.labels, le: "+Inf" }, value: series.count },
        { metricName: `${this.name}_sum`, labels: series.labels, value: series.sum },
        { metricName: `${this.name}_count`, labels: series.labels, value: series.count },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** Forgets every observation (prom-client's `registry.resetMetrics()`). */
  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  /**
   * This family as prom-client's registry takes it. Its typings list only prom-client's own
   * classes, but the registry reads any metric through `name`, `help`, `type` and `get()`.
   */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
