/**
 * Latency samples reduced to the figures the benchmark reports, in milliseconds.
 *
 * @example
 * ```ts
 * const summary: LatencySummary = summarize([0.21, 0.19, 0.25]);
 * summary.p50; // 0.21
 * ```
 */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Summarises latency samples (milliseconds) with nearest-rank percentiles, exact rather than
 * bucketed: the c=1 target is a 0.1 ms difference, finer than a whole-millisecond histogram.
 *
 * @example
 * ```ts
 * summarize([1, 2, 3, 4]); // { count: 4, mean: 2.5, p50: 2, p90: 4, p99: 4, max: 4 }
 * ```
 */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0) return { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const at = (fraction: number): number => sorted[Math.min(count - 1, Math.ceil(fraction * count) - 1)] as number;
  let total = 0;
  for (const value of sorted) total += value;
  return { count, mean: total / count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[count - 1] as number };
}


/**
 * The middle value of `values`, or the mean of the two middle ones when their count is even.
 *
 * @example
 * ```ts
 * median([0.93, 1.03, 0.87]); // 0.93
 * ```
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
