import { BadUsageError } from "../errors.ts";

/** An arrival rate: `count` requests every `perSeconds` seconds. */
export interface ArrivalRate {
  count: number;
  perSeconds: 1 | 60;
}

/** A pass/fail criterion in k6's terms: the metric it reads and the expression k6 evaluates. */
export interface Threshold {
  /** As the user wrote it (`p99<300ms`), for messages. */
  source: string;
  metric: "http_req_duration" | "http_req_failed";
  /** k6's threshold expression, e.g. `p(99)<300` or `rate<0.001`. */
  expression: string;
}

const RATE_FORMS = "a whole number of requests per second or minute, e.g. 200/s or 600/m";
const DURATION_FORMS = "a whole number of seconds or minutes, e.g. 45s or 2m";
const THRESHOLD_FORMS =
  "p50|p90|p95|p99|p99.9|avg|med|min|max<N(ms|s), e.g. p99<300ms, or errors<N%, e.g. errors<0.1%";

/** `--rate 200/s` (or `/m`): the forms `faultline load` takes too. */
export function parseRate(value: string, flag = "--rate"): ArrivalRate {
  const match = /^(\d+)\/(s|m)$/.exec(value.trim());
  const count = Number(match?.[1]);
  if (!match || count < 1)
    throw new BadUsageError(`${flag}: expected ${RATE_FORMS}, got ${JSON.stringify(value)}`);
  return { count, perSeconds: match[2] === "s" ? 1 : 60 };
}

/** `--duration 60s` or `2m` (also `--ramp`), in whole seconds. */
export function parseDuration(value: string, flag = "--duration"): number {
  const match = /^(\d+)(s|m)$/.exec(value.trim());
  const seconds = Number(match?.[1]) * (match?.[2] === "m" ? 60 : 1);
  if (!match || seconds < 1)
    throw new BadUsageError(`${flag}: expected ${DURATION_FORMS}, got ${JSON.stringify(value)}`);
  return seconds;
}

/** `--threshold 'p99<300ms'` or `'errors<0.1%'`, as k6 writes them. */
export function parseThreshold(value: string): Threshold {
  const source = value.trim();
  const latency = /^(p\d+(?:\.\d+)?|avg|med|min|max)\s*(<=?)\s*(\d+(?:\.\d+)?)(ms|s)$/.exec(source);
  if (latency) {
    const [, stat, op, amount, unit] = latency as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    const percentile = stat.startsWith("p") ? Number(stat.slice(1)) : undefined;
    if (percentile === undefined || (percentile > 0 && percentile < 100)) {
      const ms = Number(amount) * (unit === "s" ? 1000 : 1);
      const k6Stat = percentile === undefined ? stat : `p(${percentile})`;
      return { source, metric: "http_req_duration", expression: `${k6Stat}${op}${ms}` };
    }
  }
  const errors = /^errors\s*(<=?)\s*(\d+(?:\.\d+)?)%$/.exec(source);
  if (errors && Number(errors[2]) <= 100) {
    // Percent to a fraction without float noise (0.1% is 0.001, not 0.0010000000000000002).
    const fraction = Number((Number(errors[2]) / 100).toPrecision(12));
    return { source, metric: "http_req_failed", expression: `rate${errors[1]}${fraction}` };
  }
  throw new BadUsageError(`--threshold: expected ${THRESHOLD_FORMS}, got ${JSON.stringify(value)}`);
}
