import { createServer, type Server } from "node:net";
import { onExit } from "../lifecycle/index.ts";
import { seededRandom } from "../random/index.ts";
import { RuleSet, type RuleSpec } from "./rules.ts";
import { type FaultEvent, type ProxyShared, Session } from "./session.ts";
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
}

/** A running proxy. */
export interface StartedProxy extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The rules in force; add and remove them while traffic flows. */
  readonly rules: RuleSet;
  readonly tracePath: string | undefined;
  /** Client connections open now. */
  connections(): number;
  /** Resolve once every trace line of statements completed so far is on disk. */
  flushTrace(): Promise<void>;
  /** Stop listening, cut every connection, close the trace. */
  stop(): Promise<void>;
}

/** Start a fault-injecting Postgres wire-protocol proxy in front of `upstream`. */
export async function startProxy(options: ProxyOptions): Promise<StartedProxy> {
  const random = seededRandom(options.seed ?? 0);
  const rules = new RuleSet(random, options.rules ?? []);
  const trace = options.tracePath ? new TraceWriter(options.tracePath) : undefined;
  let ids = 0;
  const shared: ProxyShared = {
    upstream: options.upstream,
    rules,
    trace,
    startedAt: Date.now(),
    cancelKeys: new Map(),
    sessions: new Set(),
    nextId: () => ++ids,
    onFault: (event) => options.onFault?.(event),
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
      await trace?.close();
      unregister();
    })();
    return stopping;
  };
  return {
    host,
    port,
    rules,
    tracePath: options.tracePath,
    connections: () => shared.sessions.size,
    flushTrace: async () => {
      await trace?.flush();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
