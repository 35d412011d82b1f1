import { Agent, request } from "undici";
import { intendedTimes, type LoadProfile } from "./schedule.ts";
import { type LatencySummary, newLatencyHistogram, summarize } from "./stats.ts";

/** A request the generator sends: the path, headers and bytes, built at its send time. */
export interface LoadRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** What one sent request came to. */
export interface LoadOutcome {
  index: number;
  /** HTTP status, 0 when no response came back. */
  status: number;
  error?: string;
  /** ms from the run's start: when it was due, when it went out, when it finished. */
  intendedAt: number;
  sentAt: number;
  finishedAt: number;
}

/** How a load run goes. */
export interface GeneratorOptions {
  baseUrl: string;
  profile: LoadProfile;
  /** Builds request `index` (templated and signed) just before it is sent. */
  build(index: number): LoadRequest | Promise<LoadRequest>;
  /** Called with every finished request. */
  onOutcome?(outcome: LoadOutcome): void;
  /** Every `progressMs` while it runs. */
  onProgress?(progress: LoadProgress): void;
  progressMs?: number;
  /** Stops sending; requests in flight get `graceMs` more to finish. */
  signal?: AbortSignal;
  /** How long to wait after the last send for requests in flight (default 5000 ms). */
  graceMs?: number;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** How many connections to open at most (default 64): opening more costs the generator more than queueing on them; latency still counts from the intended time. */
  connections?: number;
  /** A request later than this behind schedule counts as late (default 10 ms). */
  lateMs?: number;
}

/** Counters so far. */
export interface LoadProgress {
  elapsedMs: number;
  sent: number;
  acked: number;
  inFlight: number;
  byStatus: Record<string, number>;
  late: number;
  dropped: number;
  latency: LatencySummary;
}

/** The whole run. */
export interface GeneratorResult extends LoadProgress {
  scheduled: number;
  /** Whether the run ended before its schedule did (aborted). */
  stoppedEarly: boolean;
  /** Completed requests per second over the sending window. */
  achievedRate: number;
  /** Requests sent per second over the sending window. */
  sendRate: number;
}

/**
 * An open-model load: requests go out on a fixed schedule whether or not earlier ones came
 * back, and each latency is measured from its intended send time, so a stalled service shows
 * as latency, not as a lower rate.
 */
export async function generateLoad(options: GeneratorOptions): Promise<GeneratorResult> {
  const times = intendedTimes(options.profile);
  const lateMs = options.lateMs ?? 10;
  const histogram = newLatencyHistogram();
  const dispatcher = new Agent({
    connections: options.connections ?? 64,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  });
  const byStatus: Record<string, number> = {};
  let sent = 0;
  let acked = 0;
  let finished = 0;
  let late = 0;
  let dropped = 0;
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const now = () => performance.now() - start;
  const progress = (): LoadProgress => ({
    elapsedMs: now(),
    sent,
    acked,
    inFlight: inFlight.size,
    byStatus: { ...byStatus },
    late,
    dropped,
    latency: summarize(histogram),
  });
  const timer =
    options.onProgress &&
    setInterval(() => options.onProgress?.(progress()), options.progressMs ?? 250);
  const send = async (index: number, intendedAt: number) => {
    let status = 0;
    let error: string | undefined;
    const sentAt = now();
    try {
      const req = await options.build(index);
      const res = await request(new URL(req.path, options.baseUrl), {
        method: "POST",
        headers: req.headers,
        body: req.body,
        dispatcher,
        headersTimeout: options.timeoutMs ?? 30_000,
        bodyTimeout: options.timeoutMs ?? 30_000,
      });
      status = res.statusCode;
      await res.body.dump();
    } catch (e) {
      error =
        e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
    }
    const finishedAt = now();
    finished++;
    const key = status ? String(status) : "no response";
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (status >= 200 && status < 300) acked++;
    histogram.recordValue(Math.max(1, Math.round((finishedAt - intendedAt) * 1000)));
    options.onOutcome?.({ index, status, error, intendedAt, sentAt, finishedAt });
  };
  let next = 0;
  try {
    while (next < times.length && !options.signal?.aborted) {
      const due = times[next] as number;
      const wait = due - now();
      if (wait > 1) {
        await sleep(Math.min(wait, 50), options.signal);
        continue;
      }
      // Everything due is sent now; a request sent more than lateMs behind its time is late.
      const t = now();
      while (next < times.length && (times[next] as number) <= t + 1) {
        const intendedAt = times[next] as number;
        if (t - intendedAt > lateMs) late++;
        const p = send(next, intendedAt);
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
        sent++;
        next++;
      }
      // Yield so responses are read between bursts.
      await new Promise<void>((r) => setImmediate(r));
    }
    const sendingEndedAt = now();
    dropped = times.length - next;
    const grace = options.graceMs ?? 5000;
    await Promise.race([Promise.allSettled([...inFlight]), sleep(grace, undefined)]);
    const windowS = Math.max(sendingEndedAt, 1) / 1000;
    return {
      ...progress(),
      scheduled: times.length,
      stoppedEarly: next < times.length,
      achievedRate: finished / windowS,
      sendRate: sent / windowS,
    };
  } finally {
    if (timer) clearInterval(timer);
    await dispatcher.destroy().catch(() => {});
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
