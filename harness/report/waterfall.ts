import type { TraceEntry } from "../proxy/index.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import type { Delivery } from "../webhooks/index.ts";
import type {
  CascadeCause,
  StatementRole,
  Waterfall,
  WaterfallDelivery,
  WaterfallStatement,
} from "./page/data.ts";

/** Deliveries listed at most: a load sends thousands, a person reads the first failures. */
const MAX_DELIVERIES = 60;
/** Deliveries listed before the first failing one, to show what healthy looked like. */
const DELIVERIES_BEFORE_FAILURE = 3;
/** Statements listed per delivery, and outside any. */
const MAX_STATEMENTS = 40;
/** SQL longer than this is cut: the page shows one line per statement. */
const MAX_SQL_CHARS = 300;
// Trace and delivery times have millisecond precision; allow for rounding at either edge, as
// processingContinues does, when no window holds a statement exactly.
const SLACK_MS = 2;

interface Timed {
  entry: TraceEntry;
  at: number;
  role?: StatementRole;
}

interface Window {
  delivery: Delivery;
  from: number;
  to: number;
  statements: Timed[];
}

/**
 * The run's causes and cascades, per connection: an error that is not itself a 25P02 starts an
 * aborted stretch; the 25P02s and skipped statements after it, until the connection leaves the
 * failed transaction block, are what it aborted. An error rolled back before anything else ran
 * caused nothing, and is left a plain error.
 */
function markCascades(byConn: Map<number, Timed[]>): {
  first: Timed | undefined;
  aborted: Map<Timed, Timed[]>;
} {
  const aborted = new Map<Timed, Timed[]>();
  let first: Timed | undefined;
  for (const own of byConn.values()) {
    let cause: Timed | undefined;
    for (const t of own) {
      const { result } = t.entry;
      const code = "sqlstate" in result ? result.sqlstate : undefined;
      if ("skipped" in result || code === "25P02") {
        t.role = "cascade";
        if (cause) aborted.get(cause)?.push(t);
      } else if (code) {
        if (!first || t.at < first.at) first = t;
        if (!cause) {
          cause = t;
          aborted.set(t, []);
        }
      }
      if (t.entry.tx !== "E") cause = undefined;
    }
  }
  for (const [t, followers] of aborted) if (followers.length > 0) t.role = "cause";
  return { first, aborted };
}

/**
 * Each statement to the delivery it served: among the deliveries under way when it ran, the
 * one its connection was already serving, else one that has no statement yet (a request takes
 * a connection of its own), else the one that ends first.
 */
function attribute(statements: Timed[], windows: Window[]): Map<Timed, Window> {
  const owner = new Map<Timed, Window>();
  const serving = new Map<number, Window>();
  const byStart = [...windows].sort((a, b) => a.from - b.from);
  const active: Window[] = [];
  let next = 0;
  for (const t of statements) {
    while (next < byStart.length && (byStart[next] as Window).from - SLACK_MS <= t.at)
      active.push(byStart[next++] as Window);
    for (let i = active.length - 1; i >= 0; i--)
      if ((active[i] as Window).to + SLACK_MS < t.at) active.splice(i, 1);
    const exact = active.filter((w) => w.from <= t.at && t.at <= w.to);
    const candidates = exact.length > 0 ? exact : active;
    if (candidates.length === 0) continue;
    const current = serving.get(t.entry.conn);
    const chosen =
      (current && candidates.includes(current) ? current : undefined) ??
      candidates.find((w) => w.statements.length === 0) ??
      candidates.reduce((a, b) => (b.to < a.to ? b : a));
    chosen.statements.push(t);
    owner.set(t, chosen);
    serving.set(t.entry.conn, chosen);
  }
  return owner;
}

function statementOf(t: Timed, t0: number): WaterfallStatement {
  const { entry } = t;
  const { result } = entry;
  const base = {
    sql: entry.sql.length > MAX_SQL_CHARS ? `${entry.sql.slice(0, MAX_SQL_CHARS)}…` : entry.sql,
    conn: entry.conn,
    atMs: t.at - t0,
    durationMs: entry.durationMs,
    ...(entry.step ? { step: entry.step } : {}),
    ...(t.role ? { role: t.role } : {}),
  };
  if ("sqlstate" in result)
    return { ...base, outcome: "error", sqlstate: result.sqlstate, message: result.message };
  if ("skipped" in result) return { ...base, outcome: "skipped" };
  if ("lost" in result) return { ...base, outcome: "lost" };
  return { ...base, outcome: "ok", tag: result.tag };
}

/**
 * The run as an engineer retells it: each delivery in the order it started, the statements the
 * service ran while handling it (by time window and connection), the first error marked as the
 * cause and the statements it aborted as the cascade.
 */
export function waterfallOf(result: ScenarioResult, t0: number): Waterfall {
  const windows: Window[] = result.deliveries
    .map((delivery) => ({
      delivery,
      from: new Date(delivery.startedAt).getTime(),
      to: new Date(delivery.finishedAt).getTime(),
      statements: [] as Timed[],
    }))
    .sort((a, b) => a.from - b.from || a.delivery.index - b.delivery.index);
  const statements = (result.trace ?? [])
    .map((entry) => ({ entry, at: Date.parse(entry.at) }) as Timed)
    .sort((a, b) => a.at - b.at);
  const byConn = new Map<number, Timed[]>();
  for (const t of statements) {
    const own = byConn.get(t.entry.conn);
    if (own) own.push(t);
    else byConn.set(t.entry.conn, [t]);
  }
  const { first, aborted } = markCascades(byConn);
  const owner = attribute(statements, windows);
  const n = new Map(windows.map((w, i) => [w, i + 1]));

  let cause: CascadeCause | undefined;
  if (first && "sqlstate" in first.entry.result) {
    const followers = aborted.get(first) ?? [];
    const served = owner.get(first);
    const abortedDeliveries = [
      ...new Set(followers.flatMap((f) => n.get(owner.get(f) as Window) ?? [])),
    ];
    cause = {
      ...(served ? { delivery: n.get(served) as number } : {}),
      conn: first.entry.conn,
      sql: statementOf(first, t0).sql,
      sqlstate: first.entry.result.sqlstate,
      message: first.entry.result.message,
      atMs: statementOf(first, t0).atMs,
      aborted: followers.length,
      abortedDeliveries,
    };
  }

  const failing = windows.findIndex(
    (w) =>
      (first && owner.get(first) === w) ||
      w.delivery.status < 200 ||
      w.delivery.status >= 300 ||
      w.statements.some((s) => s.role),
  );
  const start = Math.max(
    0,
    Math.min(failing - DELIVERIES_BEFORE_FAILURE, windows.length - MAX_DELIVERIES),
  );
  const shown = windows.slice(start, start + MAX_DELIVERIES);
  const deliveries = shown.map((w): WaterfallDelivery => {
    const d = w.delivery;
    const roles = w.statements.map((s) => s.role);
    const role: StatementRole | undefined = roles.includes("cause")
      ? "cause"
      : roles.includes("cascade")
        ? "cascade"
        : undefined;
    return {
      n: n.get(w) as number,
      label: d.label,
      type: d.type,
      eventId: d.eventId,
      attempt: d.attempt,
      status: d.status,
      ...(d.error ? { error: d.error } : {}),
      ...(d.redeliveryOf ? { redeliveryOf: d.redeliveryOf } : {}),
      ...(d.duplicateOf ? { duplicateOf: d.duplicateOf } : {}),
      ...(d.signature ? { signature: d.signature } : {}),
      fromMs: w.from - t0,
      toMs: w.to - t0,
      statements: w.statements.slice(0, MAX_STATEMENTS).map((s) => statementOf(s, t0)),
      statementsNotShown: Math.max(0, w.statements.length - MAX_STATEMENTS),
      ...(role ? { role } : {}),
    };
  });
  const outside = statements.filter((t) => !owner.has(t));
  const last = statements[statements.length - 1];
  const lastWindow = windows[windows.length - 1];
  const end = Math.max(
    last ? last.at + last.entry.durationMs : t0,
    lastWindow ? Math.max(...windows.map((w) => w.to)) : t0,
  );
  return {
    spanMs: Math.max(1, end - t0),
    deliveries,
    notShownBefore: start,
    notShownAfter: windows.length - start - shown.length,
    outside: outside.slice(0, MAX_STATEMENTS).map((s) => statementOf(s, t0)),
    outsideNotShown: Math.max(0, outside.length - MAX_STATEMENTS),
    ...(cause ? { cause } : {}),
  };
}
