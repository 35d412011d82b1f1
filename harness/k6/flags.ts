import { BadUsageError } from "../errors.ts";
import type { RateSpec, Threshold } from "../load/index.ts";

/** An arrival rate as k6 takes it: `count` iterations every `perSeconds` seconds. */
export interface ArrivalRate {
  count: number;
  perSeconds: 1 | 60;
}

/** A pass/fail criterion in k6's terms: the metric it reads and the expression k6 evaluates. */
export interface K6Threshold {
  /** As the user wrote it (`p99<300ms`), for messages. */
  source: string;
  metric: "http_req_duration" | "http_req_failed" | "http_reqs";
  /** k6's threshold expression, e.g. `p(99)<300` or `rate<0.001`. */
  expression: string;
}

/**
 * `--rate` as k6's arrival-rate executors take it, in the unit the user wrote: k6 iterates a
 * whole number of times per time unit, so 0.5/s must be written 30/m.
 */
export function k6Rate(rate: RateSpec, flag = "--rate"): ArrivalRate {
  if (!Number.isInteger(rate.count))
    throw new BadUsageError(
      `${flag}: k6 takes a whole number of requests per second or per minute; ${rate.source} is ${Math.round(rate.perSecond * 60)}/m`,
    );
  return { count: rate.count, perSeconds: rate.unit === "m" ? 60 : 1 };
}

/** `faultline load`'s thresholds as k6 writes them, on the metric each one reads. */
export function k6Threshold(threshold: Threshold): K6Threshold {
  const { source, metric, op, value } = threshold;
  if (metric === "errors") {
    // Percent to a fraction without float noise (0.1% is 0.001, not 0.0010000000000000002).
    const fraction = Number((value / 100).toPrecision(12));
    return { source, metric: "http_req_failed", expression: `rate${op}${fraction}` };
  }
  if (metric === "rate") return { source, metric: "http_reqs", expression: `rate${op}${value}` };
  const stat = metric.startsWith("p") ? `p(${metric.slice(1)})` : metric;
  return { source, metric: "http_req_duration", expression: `${stat}${op}${value}` };
}
