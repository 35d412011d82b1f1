import { createServer, type Server } from "node:net";
import { onExit } from "../lifecycle/index.ts";
import { seededRandom } from "../random/index.ts";
import { RuleSet, type RuleSpec } from "./rules.ts";
import { type FaultEvent, type ProxyShared, type ScenarioRoute, Session } from "./session.ts";
import { TraceWriter } from "./trace.ts";

/** How to start a proxy. */
export interface ProxyOptions {
  upstream: { host: string; port: number };
  /** Where to listen; port 0 (the default) picks a free one. */
  listen?: { host?: string; port?: number };
  rules?: RuleSpec[];
  /** Seed for probabilistic rules and jitter: the same seed replays the same faults. */
  seed?: number;
  /** NDJSON file every statement is appended to. */
  tracePath?: string;
  /** Told of every fault that fires. */
  onFault?(event: FaultEvent): void;
  /**
   * Send every connection to this database, whatever its startup message asks for (the
   * `database` parameter is rewritten). Unset, each connection keeps its own.
   */
  database?: string;
}

/**
 * The next scenario of a proxy that outlives scenarios. Each field means what it means in
 * `ProxyOptions`; an omitted one takes its default there (no routing, no rules, seed 0, no
 * trace, no listener), never the previous scenario's value.
 */
export interface NextScenario {
  database?: string;
  rules?: RuleSpec[];
  seed?: number;
  tracePath?: string;
  onFault?(event: FaultEvent): void;
}

/** A running proxy. */
export interface StartedProxy extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The rules in force (the current scenario's); add and remove them while traffic flows. */
  readonly rules: RuleSet;
  /** The current scenario's trace file. */
  readonly tracePath: string | undefined;
  /** The database new connections are routed to, if routing is on. */
  readonly database: string | undefined;
  /** Client connections open now. */
  connections(): number;
  /**
   * Milliseconds of this process's main thread the proxy has spent so far, cumulative from
   * start: the time inside its socket read handlers (framing, rule matching, trace formatting,
   * and the socket writes they make, which are synchronous) plus held-back writes of latency
   * faults and trace batches written from the flush timer. Wall time measured with
   * performance.now(), so it is CPU only while the thread is not preempted. Not counted: the
   * kernel's and libuv's socket work outside those handlers (epoll, reads into buffers), the
   * file system thread pool writing the trace, garbage collection that happens to run outside
   * the handlers, accepting connections and connecting upstream. Idle, it stays where it was.
   * Its growth over an interval divided by the interval is the proxy's share of the thread.
   */
  busyMs(): number;
  /** Resolve once every trace line of statements completed so far is on disk. */
  flushTrace(): Promise<void>;
  /**
   * Route new connections to `database` (rewriting the startup message), with new rules, seed,
   * trace file and fault listener, after ending every open client connection and waiting until
   * they are gone. Each is ended as `pg_terminate_backend` ends one (FATAL 57P01, both sockets
   * closed) and its backend has exited when this resolves, so the old database can be dropped.
   * New connections go to the new scenario at once, also while old ones are being ended. The
   * old trace file is flushed and closed. Rejects, changing nothing, for an invalid rule.
   */
  beginScenario(next: NextScenario): Promise<{ closed: number }>;
  /** Stop listening, cut every connection, close the trace. */
  stop(): Promise<void>;
}

/** Start a fault-injecting Postgres wire-protocol proxy in front of `upstream`. */
export async function startProxy(options: ProxyOptions): Promise<StartedProxy> {
  const rules = new RuleSet(seededRandom(options.seed ?? 0), options.rules ?? []);
  // Every trace file still open: the current scenario's, and an old one while its connections end.
  const traces = new Set<TraceWriter>();
  const route = (next: NextScenario, current?: ScenarioRoute): ScenarioRoute => {
    const onFault = next.onFault;
    let trace: TraceWriter | undefined;
    if (next.tracePath) {
      // The same file twice keeps one writer: two streams appending to one file interleave.
      trace =
        current?.trace?.path === next.tracePath ? current.trace : new TraceWriter(next.tracePath);
      traces.add(trace);
    }
    return { database: next.database, trace, onFault: (event) => onFault?.(event) };
  };
  let ids = 0;
  const shared: ProxyShared = {
    upstream: options.upstream,
    rules,
    scenario: route(options),
    startedAt: Date.now(),
    cancelKeys: new Map(),
    sessions: new Set(),
    nextId: () => ++ids,
    busy: { ms: 0 },
  };
  // busyMs of trace writers already closed.
  let retiredTraceMs = 0;
  const retire = async (trace: TraceWriter) => {
    await trace.close();
    retiredTraceMs += trace.busyMs;
  };
  const server: Server = createServer({ noDelay: true }, (socket) => {
    new Session(socket, shared);
  });
  server.on("error", () => {});
  const host = options.listen?.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen?.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const unregister = onExit(() => server.close());
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of [...shared.sessions]) session.close(true);
      });
      await Promise.all([...traces].map(retire));
      traces.clear();
      unregister();
    })();
    return stopping;
  };
  // Scenario switches run one after another, never interleaved.
  let switching: Promise<unknown> = Promise.resolve();
  const beginScenario = (next: NextScenario): Promise<{ closed: number }> => {
    const result = switching.then(async () => {
      // Built before anything changes, so a bad rule leaves the current scenario in force.
      const nextRules = new RuleSet(seededRandom(next.seed ?? 0), next.rules ?? []);
      const old = shared.scenario;
      const scenario = route(next, old);
      shared.rules = nextRules;
      shared.scenario = scenario;
      // Rules' afterMs/untilMs windows count from the scenario's start, as with a proxy per scenario.
      shared.startedAt = Date.now();
      // Connections still before their startup packet are routed under the new scenario when
      // it comes; only those already sent somewhere are ended.
      const ending = [...shared.sessions].filter((s) => s.routed && s.scenario !== scenario);
      await Promise.all(ending.map((session) => session.terminate()));
      if (old.trace && old.trace !== scenario.trace) {
        traces.delete(old.trace);
        await retire(old.trace);
      }
      return { closed: ending.length };
    });
    switching = result.catch(() => {});
    return result;
  };
  return {
    host,
    port,
    get rules() {
      return shared.rules;
    },
    get tracePath() {
      return shared.scenario.trace?.path;
    },
    get database() {
      return shared.scenario.database;
    },
    connections: () => shared.sessions.size,
    busyMs: () => {
      let ms = shared.busy.ms + retiredTraceMs;
      for (const trace of traces) ms += trace.busyMs;
      return ms;
    },
    flushTrace: async () => {
      await Promise.all([...traces].map((trace) => trace.flush()));
    },
    beginScenario,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
