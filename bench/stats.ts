/** Median and range of one figure over several runs. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** The value of each run, in run order. */
  readonly runs: readonly number[];
}

/** Percentiles of one set of latency samples, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Returns a sorted copy, in ascending numeric order. */
export function sortAscending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * Returns the `p`-th percentile (0 to 100) of values sorted in ascending order, interpolating linearly
 * between the two closest ranks (the default method of R and NumPy). Returns NaN for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const lowerValue = sorted[lower] as number;
  const upperValue = sorted[upper] as number;
  return lowerValue + (upperValue - lowerValue) * (rank - lower);
}

export function median(values: readonly number[]): number {
  return percentile(sortAscending(values), 50);
}

export function spread(runs: readonly number[]): Spread {
  const sorted = sortAscending(runs);
  return {
    median: percentile(sorted, 50),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    runs: [...runs],
  };
}

export function summarizeLatency(samples: readonly number[]): LatencySummary {
  const sorted = sortAscending(samples);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Summarizes each run alone, then gives the median and range of each percentile over the runs. */
export function latencySpreads(runs: readonly (readonly number[])[]): {
  count: Spread;
  p50: Spread;
  p99: Spread;
  max: Spread;
} {
  const summaries = runs.map(summarizeLatency);
  return {
    count: spread(summaries.map((summary) => summary.count)),
    p50: spread(summaries.map((summary) => summary.p50)),
    p99: spread(summaries.map((summary) => summary.p99)),
    max: spread(summaries.map((summary) => summary.max)),
  };
}
