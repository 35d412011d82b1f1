import * as hdr from "hdr-histogram-js";
import type { Threshold } from "./parse.ts";

/** Latencies in microseconds, 1 µs to 10 min at 3 significant digits. */
export function newLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Latency figures in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  "p99.9": number;
  max: number;
  avg: number;
}

/** The percentiles a load run reports, in ms, from a histogram of µs. */
export function summarize(histogram: hdr.Histogram): LatencySummary {
  // A percentile is reported as the top of its bucket, which can be above the exact maximum.
  const max = histogram.maxValue;
  const ms = (us: number) => Math.round(Math.min(us, max)) / 1000;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p95: ms(histogram.getValueAtPercentile(95)),
    p99: ms(histogram.getValueAtPercentile(99)),
    "p99.9": ms(histogram.getValueAtPercentile(99.9)),
    max: ms(max),
    avg: ms(histogram.totalCount ? histogram.mean : 0),
  };
}

/** What thresholds are judged against. */
export interface ThresholdInput {
  latency: LatencySummary;
  /** Requests that got no 2xx, as a percentage of requests that finished. */
  errorPercent: number;
  /** Requests completed per second over the run. */
  achievedRate: number;
}

/** One threshold's verdict. */
export interface ThresholdResult {
  threshold: string;
  passed: boolean;
  /** The measured value with its unit. */
  actual: string;
}

/** Judge each threshold; a failing one fails the run. */
export function evaluateThresholds(
  thresholds: Threshold[],
  input: ThresholdInput,
): ThresholdResult[] {
  return thresholds.map((t) => {
    const [actual, unit] =
      t.metric === "errors"
        ? [input.errorPercent, "%"]
        : t.metric === "rate"
          ? [input.achievedRate, "/s"]
          : [input.latency[t.metric], "ms"];
    const passed =
      t.op === "<"
        ? actual < t.value
        : t.op === "<="
          ? actual <= t.value
          : t.op === ">"
            ? actual > t.value
            : actual >= t.value;
    return { threshold: t.source, passed, actual: `${round(actual)}${unit}` };
  });
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
