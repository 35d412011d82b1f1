import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Dispatcher, Pool } from "undici";
import { intendedTimes, type LoadProfile } from "./schedule.ts";
import { type LatencySummary, newLatencyHistogram, summarize } from "./stats.ts";

/** A request the generator sends: the path, headers and bytes, built shortly before its send time. */
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
  /**
   * Builds request `index` (templated and signed), in index order, up to `lookaheadMs` before
   * it is due, so the send moment only writes bytes. A request built but not yet due when the
   * run is aborted is never sent (`dropped`).
   */
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
  /** How far ahead of their due time requests are built, in ms (default 20; 0 builds each at its send time). */
  lookaheadMs?: number;
  /** Warm the HTTP client on a loopback sink of its own before the clock starts (default true). */
  warmup?: boolean;
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
  const total = times.length;
  const lateMs = options.lateMs ?? 10;
  const lookaheadMs = options.lookaheadMs ?? 20;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const histogram = newLatencyHistogram();
  const targets = new Targets(options.baseUrl, options.connections ?? 64);
  if (options.warmup !== false) await warmClient();
  const byStatus: Record<string, number> = {};
  let sent = 0;
  let acked = 0;
  let finished = 0;
  let late = 0;
  let dropped = 0;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const start = performance.now();
  const now = () => performance.now() - start;
  const progress = (): LoadProgress => ({
    elapsedMs: now(),
    sent,
    acked,
    inFlight,
    byStatus: { ...byStatus },
    late,
    dropped,
    latency: summarize(histogram),
  });
  const timer =
    options.onProgress &&
    setInterval(() => options.onProgress?.(progress()), options.progressMs ?? 250);

  const finish = (
    index: number,
    intendedAt: number,
    sentAt: number,
    status: number,
    error?: unknown,
  ) => {
    const finishedAt = now();
    finished++;
    inFlight--;
    const key = status ? String(status) : "no response";
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (status >= 200 && status < 300) acked++;
    histogram.recordValue(Math.max(1, Math.round((finishedAt - intendedAt) * 1000)));
    options.onOutcome?.({
      index,
      status,
      ...(error === undefined ? {} : { error: describeError(error) }),
      intendedAt,
      sentAt,
      finishedAt,
    });
    if (inFlight === 0) drained?.();
  };
  const dispatch = (index: number, intendedAt: number, sentAt: number, req: LoadRequest) => {
    let status = 0;
    let failed = false;
    try {
      const target = targets.of(req.path);
      target.pool.dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: "POST",
          headers: req.headers,
          body: req.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        },
        {
          onRequestStart() {},
          onResponseStart(_controller, statusCode) {
            status = statusCode;
          },
          onResponseData() {},
          onResponseEnd() {
            finish(index, intendedAt, sentAt, status);
          },
          onResponseError(_controller, error) {
            if (failed) return;
            failed = true;
            finish(index, intendedAt, sentAt, 0, error);
          },
        },
      );
    } catch (error) {
      failed = true;
      finish(index, intendedAt, sentAt, 0, error);
    }
  };

  // Requests built ahead of their time, by index; a slot is emptied when its request goes out.
  const built: (Built | undefined)[] = [];
  let prepared = 0;
  const prepare = (index: number) => {
    let slot: Built;
    try {
      const req = options.build(index);
      if (isPromise(req)) {
        const pending: Built = { pending: req };
        req.then(
          (value) => {
            if (built[index] === pending) built[index] = { req: value };
          },
          (error: unknown) => {
            if (built[index] === pending) built[index] = { error };
          },
        );
        slot = pending;
      } else slot = { req };
    } catch (error) {
      slot = { error };
    }
    built[index] = slot;
  };
  const send = (index: number, intendedAt: number, sentAt: number) => {
    if (prepared <= index) prepare(prepared++);
    const slot = built[index] as Built;
    built[index] = undefined;
    sent++;
    inFlight++;
    if (sentAt - intendedAt > lateMs) late++;
    if ("req" in slot) dispatch(index, intendedAt, sentAt, slot.req);
    else if ("error" in slot) finish(index, intendedAt, sentAt, 0, slot.error);
    else
      slot.pending.then(
        (req) => dispatch(index, intendedAt, sentAt, req),
        (error: unknown) => finish(index, intendedAt, sentAt, 0, error),
      );
  };

  let next = 0;
  try {
    while (next < total && !options.signal?.aborted) {
      // Everything due goes out now; one sent more than lateMs behind its time is late.
      let t = now();
      while (next < total && (times[next] as number) <= t) {
        send(next, times[next] as number, t);
        next++;
        t = now();
      }
      if (next >= total) break;
      // Idle until the next is due: build ahead, stopping as soon as one falls due.
      const horizon = t + lookaheadMs;
      while (prepared < total && (times[prepared] as number) <= horizon) {
        prepare(prepared++);
        if (now() >= (times[next] as number)) break;
      }
      // Timers fire about a millisecond late at most, well inside lateMs; spinning on
      // setImmediate for sub-millisecond precision would take a core from the service under test.
      const wait = (times[next] as number) - now();
      await sleep(Math.min(Math.max(1, Math.floor(wait)), 50), options.signal);
    }
    const sendingEndedAt = now();
    dropped = total - next;
    built.length = 0;
    const grace = options.graceMs ?? 5000;
    if (inFlight > 0)
      await Promise.race([
        new Promise<void>((r) => {
          drained = r;
        }),
        sleep(grace, undefined),
      ]);
    const windowS = Math.max(sendingEndedAt, 1) / 1000;
    return {
      ...progress(),
      scheduled: total,
      stoppedEarly: next < total,
      achievedRate: finished / windowS,
      sendRate: sent / windowS,
    };
  } finally {
    if (timer) clearInterval(timer);
    await targets.destroy();
  }
}

type Built = { req: LoadRequest } | { error: unknown } | { pending: Promise<LoadRequest> };

function isPromise(value: unknown): value is Promise<LoadRequest> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

function describeError(e: unknown): string {
  return e instanceof Error
    ? `${(e as { code?: string }).code ?? e.name}: ${e.message}`
    : String(e);
}

/**
 * One undici Pool per origin, dispatched to directly: `request()` builds a promise, a body
 * stream and an abort signal per request, which at thousands a second cost more than the
 * templating and signing. Paths are resolved against the base URL once each.
 */
class Targets {
  private readonly pools = new Map<string, Pool>();
  private readonly resolved = new Map<string, { pool: Pool; origin: string; path: string }>();
  constructor(
    private readonly baseUrl: string,
    private readonly connections: number,
  ) {}

  of(path: string): { pool: Pool; origin: string; path: string } {
    let target = this.resolved.get(path);
    if (!target) {
      const url = new URL(path, this.baseUrl);
      let pool = this.pools.get(url.origin);
      if (!pool) {
        pool = new Pool(url.origin, {
          connections: this.connections,
          pipelining: 1,
          keepAliveTimeout: 30_000,
        });
        this.pools.set(url.origin, pool);
      }
      target = { pool, origin: url.origin, path: `${url.pathname}${url.search}` };
      this.resolved.set(path, target);
    }
    return target;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p: Dispatcher) => p.destroy().catch(() => {})));
  }
}

/**
 * undici compiles its HTTP parser (WebAssembly) on its first connection: ~15 ms in which a run
 * that just started would send its first requests late. One request to a sink in this process,
 * before the schedule's clock starts, pays for that without touching the service under test.
 */
async function warmClient(): Promise<void> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const pool = new Pool(`http://127.0.0.1:${(sink.address() as AddressInfo).port}`);
  try {
    const res = await pool.request({ path: "/", method: "POST", body: "warm" });
    await res.body.dump();
  } catch {
    // A warm-up that fails costs only the warm-up.
  } finally {
    await pool.destroy().catch(() => {});
    sink.closeAllConnections();
    await new Promise((resolve) => sink.close(resolve));
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
