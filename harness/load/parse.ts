import { BadUsageError } from "../errors.ts";

/** The forms --rate accepts, for error messages. */
export const RATE_FORMS = "<n>/s, <n>/m or <n> (per second), e.g. 200/s";
/** The forms --duration and --ramp accept, for error messages. */
export const DURATION_FORMS = "<n>ms, <n>s, <n>m or <n> (seconds), e.g. 60s, 1m30s";
/** The forms --threshold accepts, for error messages. */
export const THRESHOLD_FORMS =
  "p50|p90|p95|p99|p99.9|max|avg <|<=|>|>= <n>ms or <n>s; errors <|<= <n>%; rate >|>= <n>/s — e.g. 'p99<300ms', 'errors<0.1%', 'rate>=190/s'";

/** A parsed `--rate`: what the user wrote, in their unit, and per second. */
export interface RateSpec {
  source: string;
  count: number;
  unit: "s" | "m";
  perSecond: number;
}

/** `200/s`, `12000/m` or `200` (per second), keeping the unit (the k6 export needs it). */
export function parseRateSpec(text: string, flag = "--rate"): RateSpec {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/.exec(text);
  const count = Number(match?.[1]);
  const unit = match?.[2]?.startsWith("m") ? "m" : "s";
  if (!match || !(count > 0))
    throw new BadUsageError(`${flag}: expected ${RATE_FORMS}; got ${JSON.stringify(text)}`);
  return { source: text.trim(), count, unit, perSecond: unit === "m" ? count / 60 : count };
}

/** Requests per second from `200/s`, `12000/m` or `200`. */
export function parseRate(text: string, flag = "--rate"): number {
  return parseRateSpec(text, flag).perSecond;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from `60s`, `1m30s`, `500ms` or `60` (seconds). `allowZero` for --ramp. */
export function parseDuration(text: string, flag = "--duration", allowZero = false): number {
  const bad = () =>
    new BadUsageError(`${flag}: expected ${DURATION_FORMS}; got ${JSON.stringify(text)}`);
  const trimmed = text.trim();
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (!parts.length || parts.map((p) => p[0]).join("") !== trimmed) throw bad();
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] as string] as number), 0);
  }
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) throw bad();
  return ms;
}

/** What a threshold measures. */
export type ThresholdMetric =
  | "p50"
  | "p90"
  | "p95"
  | "p99"
  | "p99.9"
  | "max"
  | "avg"
  | "errors"
  | "rate";
/** A comparison in a threshold. */
export type Comparison = "<" | "<=" | ">" | ">=";

/** One k6-style threshold: `p99<300ms` is { metric: p99, op: <, value: 300 } (ms, %, or /s). */
export interface Threshold {
  source: string;
  metric: ThresholdMetric;
  op: Comparison;
  value: number;
}

/** A threshold from `p99<300ms`, `errors<0.1%` or `rate>=190/s`. */
export function parseThreshold(text: string): Threshold {
  const bad = () =>
    new BadUsageError(`--threshold: expected ${THRESHOLD_FORMS}; got ${JSON.stringify(text)}`);
  const match = /^\s*(p50|p90|p95|p99\.9|p99|max|avg|errors|rate)\s*(<=|>=|<|>)\s*(\S+)\s*$/.exec(
    text,
  );
  if (!match) throw bad();
  const metric = match[1] as ThresholdMetric;
  const op = match[2] as Comparison;
  const raw = match[3] as string;
  let value: number;
  if (metric === "errors") {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(raw);
    if (!m) throw bad();
    value = Number(m[1]);
  } else if (metric === "rate") {
    const m = /^(\d+(?:\.\d+)?)\/s$/.exec(raw);
    if (!m) throw bad();
    value = Number(m[1]);
  } else {
    const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(raw);
    if (!m) throw bad();
    value = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
  }
  return { source: text.trim(), metric, op, value };
}
