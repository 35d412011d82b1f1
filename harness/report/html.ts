import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { LoadResult } from "../load/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import type {
  AbortedStretch,
  Aggregated,
  DeliverySpan,
  HtmlLoadSummary,
  LaneRun,
  LatencyPoint,
  MarkResult,
  PageData,
  PageResult,
} from "./page/data.ts";
import { pageScript } from "./page-script.ts";
import type { Reporter } from "./reporter.ts";
import { waterfallOf } from "./waterfall.ts";
import { writeReportFile } from "./write.ts";

export type {
  AbortedStretch,
  Aggregated,
  HtmlLoadSummary,
  Lane,
  LaneRun,
  LatencyPoint,
} from "./page/data.ts";

/** One column of the report: a service's results (gate has two, baseline and candidate). */
export interface HtmlReportSide {
  label: string;
  results: ScenarioResult[];
  /** Latency percentiles over time (the load command's). */
  latency?: LatencyPoint[];
  /** The load command's figures, shown above the charts. */
  load?: HtmlLoadSummary;
}

/** What the HTML report shows. */
export interface HtmlReportInput {
  title: string;
  sides: HtmlReportSide[];
  /** The two sides are a baseline and a candidate (gate): shown as BEFORE and AFTER. */
  comparison?: boolean;
}

/** The summary panel's figures from a load run's result. */
export function loadSummaryOf(result: LoadResult): HtmlLoadSummary {
  const { load } = result;
  return {
    requestedRate: result.requestedRate,
    achievedRate: load.achievedRate,
    sent: load.sent,
    acked: load.acked,
    late: load.late,
    dropped: load.dropped,
    latency: {
      p50: load.latency.p50,
      p90: load.latency.p90,
      p99: load.latency.p99,
      p999: load.latency["p99.9"],
      max: load.latency.max,
    },
    byStatus: load.byStatus,
    thresholds: result.thresholds.map((t) => ({
      source: t.threshold,
      passed: t.passed,
      actual: t.actual,
    })),
    ...(result.proxy ? { proxyBusyPercent: result.proxy.busyPercent } : {}),
    ...(result.rateNotHeld ? { rateNotHeld: result.rateNotHeld } : {}),
  };
}

/** At most this many timeline buckets: enough to see a spike, few enough to stay light. */
const MAX_BUCKETS = 120;
/** Bucket widths a person reads easily, in milliseconds. */
const NICE_WIDTHS_MS = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
/** Beyond this many runs of marks over all lanes, lanes are drawn one run per bucket. */
const MAX_LANE_RUNS = 4000;
/** Beyond this many sessions, sessions that never overlap share a lane. */
const MAX_LANES = 48;
/** Beyond this many injected faults, one mark per bucket that had any. */
const MAX_FAULT_MARKS = 300;
/** Beyond this many deliveries, the swimlane bands no delivery: they would blur into one. */
const MAX_DELIVERY_SPANS = 200;
/** Runs shorter than this read their time axes in milliseconds: "0.035 s" is harder to read. */
const MS_AXIS_BELOW_MS = 5000;

/**
 * The timeline's bucket width for a run of `spanMs`: the narrowest readable width that keeps
 * at most MAX_BUCKETS buckets (10 ms for a flagship run, 1 s for a minute's load).
 */
export function bucketWidthMs(spanMs: number): number {
  for (const width of NICE_WIDTHS_MS) if (spanMs / width <= MAX_BUCKETS) return width;
  return Math.ceil(spanMs / MAX_BUCKETS / 60_000) * 60_000;
}

/** Worse outcomes win when statements share a mark. */
const SEVERITY: Record<MarkResult, number> = { ok: 0, lost: 1, error: 2 };

function resultOf(entry: TraceEntry): MarkResult {
  // A statement the server skipped after its batch failed never ran: drawn like a lost one.
  if ("lost" in entry.result || "skipped" in entry.result) return "lost";
  return "sqlstate" in entry.result ? "error" : "ok";
}

function sqlstateOf(entry: TraceEntry): string | undefined {
  return "sqlstate" in entry.result ? entry.result.sqlstate : undefined;
}

function mostFrequent(counts: Record<string, number> | undefined): string | undefined {
  let best: string | undefined;
  for (const [code, n] of Object.entries(counts ?? {}))
    if (best === undefined || n > (counts?.[best] ?? 0)) best = code;
  return best;
}

/**
 * Join stretches closer than `gap` seconds, so thousands of 1 ms stretches draw as one band,
 * its `share` telling a session that recovered each time from one that stayed aborted.
 */
function mergeStretches(stretches: AbortedStretch[], gap: number): AbortedStretch[] {
  const out: (AbortedStretch & { aborted: number })[] = [];
  for (const s of [...stretches].sort((a, b) => a.from - b.from)) {
    const last = out[out.length - 1];
    if (last && s.from - last.to <= gap) {
      last.aborted += s.to - s.from;
      last.to = Math.max(last.to, s.to);
      if (s.open) last.open = true;
    } else out.push({ ...s, aborted: s.to - s.from });
  }
  return out.map(({ aborted, ...s }) => ({
    ...s,
    share: s.to > s.from ? Math.round(Math.min(1, aborted / (s.to - s.from)) * 100) / 100 : 1,
  }));
}

/**
 * One session's statements as runs: consecutive statements with the same result and SQLSTATE
 * merge while less than `gap` seconds apart, so a long healthy stretch is one mark and the
 * 42703 that starts a cascade stays its own. With `bucket` (seconds), every statement in a
 * bucket merges whatever its result, and the run takes the worst.
 */
function runsOf(
  entries: TraceEntry[],
  atMs: (e: TraceEntry) => number,
  t0: number,
  gap: number,
  bucket?: number,
): LaneRun[] {
  const runs: (LaneRun & { key: string })[] = [];
  let last: (LaneRun & { key: string }) | undefined;
  for (const e of entries) {
    const from = (atMs(e) - t0) / 1000;
    const to = from + e.durationMs / 1000;
    const result = resultOf(e);
    const sqlstate = sqlstateOf(e);
    const key = bucket ? String(Math.floor(from / bucket)) : `${result}:${sqlstate ?? ""}`;
    if (last && last.key === key && (bucket || from - last.to <= gap)) {
      last.to = Math.max(last.to, to);
      last.count++;
      if (result !== last.result || last.mix) {
        last.mix ??= { ok: 0, error: 0, lost: 0, [last.result]: last.count - 1 };
        last.mix[result]++;
      }
      if (SEVERITY[result] > SEVERITY[last.result]) last.result = result;
      if (sqlstate) {
        last.sqlstates ??= {};
        last.sqlstates[sqlstate] = (last.sqlstates[sqlstate] ?? 0) + 1;
      }
      continue;
    }
    last = { key, from, to, count: 1, result };
    if (sqlstate) last.sqlstates = { [sqlstate]: 1 };
    runs.push(last);
  }
  return runs.map(({ key: _key, ...run }) => {
    const sqlstate = mostFrequent(run.sqlstates);
    return sqlstate ? { ...run, sqlstate } : run;
  });
}

/** Stretches where a session sat in a failed transaction block (ReadyForQuery 'E'). */
function abortedOf(
  entries: TraceEntry[],
  atMs: (e: TraceEntry) => number,
  t0: number,
): AbortedStretch[] {
  const aborted: AbortedStretch[] = [];
  let from: number | null = null;
  for (const e of entries) {
    const at = (atMs(e) - t0) / 1000;
    // From the statement that left it there to the next one that did not.
    if (e.tx === "E" && from === null) from = at;
    else if (e.tx !== "E" && from !== null) {
      aborted.push({ from, to: at, share: 1 });
      from = null;
    }
  }
  const last = entries[entries.length - 1];
  if (from !== null && last)
    aborted.push({
      from,
      to: (atMs(last) - t0 + last.durationMs) / 1000,
      open: true,
      share: 1,
    });
  return aborted;
}

/**
 * Sessions into lanes: one lane each up to MAX_LANES; beyond that (a service opening a
 * connection per request), a session joins the first lane whose last session had ended.
 */
function packSessions(
  sessions: { conn: number; first: number; last: number }[],
): { conns: number[]; last: number }[] {
  const lanes: { conns: number[]; last: number }[] = [];
  const pack = sessions.length > MAX_LANES;
  for (const s of sessions) {
    const free = pack ? lanes.find((l) => l.last < s.first) : undefined;
    if (free) {
      free.conns.push(s.conn);
      free.last = s.last;
    } else lanes.push({ conns: [s.conn], last: s.last });
  }
  return lanes;
}

/**
 * Count a result's deliveries, statements and faults into timeline buckets and lane runs,
 * so a load run of tens of thousands of statements embeds as a few thousand numbers.
 */
export function aggregateResult(result: ScenarioResult): Aggregated | undefined {
  const trace = result.trace ?? [];
  const deliveries = result.deliveries.map((d) => ({
    status: d.status,
    startedAt: new Date(d.startedAt).getTime(),
    finishedAt: new Date(d.finishedAt).getTime(),
  }));
  const faultTimes = result.faults.map((f) => Date.parse(f.at));
  let t0 = Number.POSITIVE_INFINITY;
  let t1 = Number.NEGATIVE_INFINITY;
  const see = (t: number) => {
    if (!Number.isFinite(t)) return;
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
  };
  for (const d of deliveries) {
    see(d.startedAt);
    see(d.finishedAt);
  }
  // ISO times parsed once: a long load has tens of thousands, each needed several times.
  const parsed = new Map<TraceEntry, number>();
  for (const e of trace) {
    const at = Date.parse(e.at);
    parsed.set(e, at);
    see(at);
    see(at + e.durationMs);
  }
  for (const t of faultTimes) see(t);
  if (!Number.isFinite(t0)) return undefined;
  const atMs = (e: TraceEntry) => parsed.get(e) ?? Date.parse(e.at);

  const spanMs = Math.max(50, t1 - t0);
  const bucketMs = bucketWidthMs(spanMs);
  const n = Math.floor(spanMs / bucketMs) + 1;
  const x = Array.from({ length: n }, (_, i) => (i * bucketMs) / 1000);
  const indexOf = (t: number) => Math.min(n - 1, Math.max(0, Math.floor((t - t0) / bucketMs)));
  const counts = new Map<string, { kind: "status" | "sqlstate"; key: string; ys: number[] }>();
  const add = (kind: "status" | "sqlstate", key: string, t: number) => {
    const id = `${kind}:${key}`;
    let c = counts.get(id);
    if (!c) {
      c = { kind, key, ys: new Array<number>(n).fill(0) };
      counts.set(id, c);
    }
    c.ys[indexOf(t)] = (c.ys[indexOf(t)] ?? 0) + 1;
  };
  for (const d of deliveries) add("status", String(d.status), d.startedAt);
  for (const e of trace) {
    const code = sqlstateOf(e);
    if (code) add("sqlstate", code, atMs(e));
  }
  const byKey = (a: { key: string }, b: { key: string }) =>
    a.key.localeCompare(b.key, "en", { numeric: true });
  const statuses = [...counts.values()].filter((c) => c.kind === "status").sort(byKey);
  const codes = [...counts.values()].filter((c) => c.kind === "sqlstate").sort(byKey);
  const series = [...statuses, ...codes].map((c) => ({
    label:
      c.kind === "status" ? `HTTP ${c.key === "0" ? "no response" : c.key}` : `SQLSTATE ${c.key}`,
    kind: c.kind,
    key: c.key,
    counts: c.ys,
  }));

  const faultSeconds = faultTimes.map((t) => (t - t0) / 1000);
  const faultMarks =
    faultSeconds.length > MAX_FAULT_MARKS
      ? [...new Set(faultTimes.map((t) => (indexOf(t) * bucketMs) / 1000))]
      : faultSeconds;

  // Lanes: each session's statements in order, as runs.
  const bySession = new Map<number, TraceEntry[]>();
  for (const e of trace) {
    let own = bySession.get(e.conn);
    if (!own) {
      own = [];
      bySession.set(e.conn, own);
    }
    own.push(e);
  }
  for (const own of bySession.values()) own.sort((a, b) => atMs(a) - atMs(b));
  // A statement's worth of gap at the chart's resolution (a thousandth of the run) merges.
  const gap = spanMs / 1000 / 1000;
  let runsBySession = new Map(
    [...bySession].map(([conn, own]) => [conn, runsOf(own, atMs, t0, gap)] as const),
  );
  const total = [...runsBySession.values()].reduce((sum, runs) => sum + runs.length, 0);
  const bucketedLanes = total > MAX_LANE_RUNS;
  if (bucketedLanes)
    runsBySession = new Map(
      [...bySession].map(
        ([conn, own]) => [conn, runsOf(own, atMs, t0, gap, bucketMs / 1000)] as const,
      ),
    );
  const sessions = [...bySession]
    .map(([conn, own]) => ({
      conn,
      first: atMs(own[0] as TraceEntry),
      last: atMs(own[own.length - 1] as TraceEntry),
    }))
    .sort((a, b) => a.first - b.first || a.conn - b.conn);
  const packed = packSessions(sessions);
  // Lanes read top to bottom by connection id, as a person counts sessions.
  if (!bucketedLanes && packed.every((l) => l.conns.length === 1))
    packed.sort((a, b) => (a.conns[0] ?? 0) - (b.conns[0] ?? 0));
  const lanes = packed.map(({ conns }) => ({
    conns,
    runs: conns.flatMap((c) => runsBySession.get(c) ?? []),
    aborted: mergeStretches(
      conns.flatMap((c) => abortedOf(bySession.get(c) ?? [], atMs, t0)),
      gap,
    ),
  }));
  const deliverySpans: DeliverySpan[] =
    deliveries.length > MAX_DELIVERY_SPANS
      ? []
      : [...deliveries]
          .sort((a, b) => a.startedAt - b.startedAt)
          .map((d, i) => ({
            n: i + 1,
            from: (d.startedAt - t0) / 1000,
            to: (d.finishedAt - t0) / 1000,
            status: d.status,
          }));
  return {
    t0,
    spanSeconds: spanMs / 1000,
    timeUnit: spanMs < MS_AXIS_BELOW_MS ? "ms" : "s",
    bucketMs,
    x,
    series,
    faultMarks,
    faultCount: faultTimes.length,
    lanes,
    bucketedLanes,
    deliverySpans,
    statements: trace.length,
    deliveries: deliveries.length,
  };
}

let uplotAssets: { js: string; css: string } | undefined;

/**
 * uPlot's browser build, read from node_modules at report time so the file opens with no
 * network; resolved from this module, so it is found from the packed dist too.
 */
function uplot(): { js: string; css: string } {
  if (!uplotAssets) {
    const require = createRequire(import.meta.url);
    uplotAssets = {
      js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
      css: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    };
  }
  return uplotAssets;
}

/** JSON safe inside a <script> element: no `</script>` or `<!--` can end it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/** Evidence lines per invariant the page shows; a load's noLostEvents can list thousands. */
const MAX_EVIDENCE_LINES = 200;

/** The browser's copy of a result: the verdicts, and the charts' data already counted. */
function pageResult(result: ScenarioResult): PageResult {
  const invariants = result.invariants.map((inv) =>
    inv.evidence.length > MAX_EVIDENCE_LINES
      ? {
          ...inv,
          evidence: [
            ...inv.evidence.slice(0, MAX_EVIDENCE_LINES),
            `… and ${inv.evidence.length - MAX_EVIDENCE_LINES} more lines (all of them in --json)`,
          ],
        }
      : inv,
  );
  const statuses: Record<string, number> = {};
  for (const d of result.deliveries) statuses[d.status] = (statuses[d.status] ?? 0) + 1;
  const charts = aggregateResult(result);
  return {
    name: result.name,
    ...(result.cell ? { cell: result.cell } : {}),
    verdict: result.verdict,
    service: result.service,
    seed: result.seed,
    durationMs: result.durationMs,
    ...(result.error ? { error: result.error } : {}),
    invariants,
    sqlstates: result.sqlstates,
    statuses,
    ...(charts ? { charts, waterfall: waterfallOf(result, charts.t0) } : {}),
  };
}

/**
 * One self-contained HTML page: first each delivery and the statements it ran (BEFORE and AFTER
 * for a gate), then the load summary, timeline, connection swimlanes, latency and verdicts.
 */
export function toHtmlReport(input: HtmlReportInput): string {
  const { js, css } = uplot();
  const data: PageData = {
    title: input.title,
    comparison: input.comparison === true && input.sides.length === 2,
    sides: input.sides.map((side) => ({
      label: side.label,
      ...(side.load ? { load: side.load } : {}),
      latency: side.latency ?? [],
      results: side.results.map(pageResult),
    })),
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(input.title)}</title>
<style>${css}
${PAGE_CSS}</style>
<script>${js}</script>
</head><body>
<h1>${escapeHtml(input.title)}</h1>
<div id="story"></div>
<main id="sides" class="sides-${input.sides.length}"></main>
<script id="faultline-data" type="application/json">${scriptJson(data)}</script>
<script>${pageScript()}</script>
</body></html>
`;
}

const PAGE_CSS = `
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
.sides-2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
section.side { min-width: 0; }
section.side > h2 { margin: 0 0 8px; }
article.result { border: 1px solid #ccc; border-radius: 6px; padding: 8px; margin-bottom: 16px; }
.verdict-pass { color: #1a7f37; } .verdict-fail { color: #cf222e; } .verdict-error { color: #9a6700; }
table.invariants { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.invariants th:nth-child(1) { width: 22%; } table.invariants th:nth-child(2) { width: 4.5em; } table.invariants th:nth-child(3) { width: 28%; }
table.invariants td { overflow-wrap: anywhere; }
table.invariants td, table.invariants th { border-top: 1px solid #ddd; padding: 4px; vertical-align: top; text-align: left; }
pre.evidence { margin: 0; white-space: pre-wrap; font-size: 12px; max-height: 12em; overflow: auto; }
h3 { margin: 8px 0 4px; font-size: 15px; } h4 { margin: 8px 0 2px; font-size: 13px; }
.empty { color: #888; font-style: italic; }
.load-panel { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; margin-bottom: 16px; display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 4px 24px; }
.load-panel h3 { grid-column: 1 / -1; }
.load-panel dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; }
.load-panel dt { color: #555; } .load-panel dd { margin: 0; font-variant-numeric: tabular-nums; }
.load-panel .warning { grid-column: 1 / -1; background: #fff1e5; border: 1px solid #bc4c00; border-radius: 4px; padding: 6px 8px; color: #953800; }
.threshold-pass { color: #1a7f37; } .threshold-fail { color: #cf222e; font-weight: 600; }
.u-legend { font-size: 12px; }
#story { margin-bottom: 24px; }
.story-columns.sides-2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
.story-side { min-width: 0; }
.story-side > h2 { margin: 0 0 8px; } .story-side > h2 small { font-weight: normal; color: #555; }
section.waterfall { border: 1px solid #ccc; border-radius: 6px; padding: 8px; margin-bottom: 16px; }
section.waterfall > h3 { margin-top: 0; }
.wf-summary { margin: 4px 0 10px; padding: 8px 10px; background: #ffebe9; border-left: 4px solid #cf222e; border-radius: 4px; line-height: 1.6; }
.wf-summary.wf-clean { background: #dafbe1; border-left-color: #1a7f37; }
.wf-summary.wf-handled { background: #fff8c5; border-left-color: #bf8700; }
.wf-summary code { font-size: 12px; background: #fff8; padding: 0 3px; }
.wf-rows { display: grid; grid-template-columns: minmax(0, 3fr) 4.5em minmax(9em, 2fr) 5.5em minmax(60px, 1.5fr); max-height: 80vh; overflow: auto; }
.wf-row { display: contents; }
.wf-row > div { padding: 3px 6px; border-top: 1px solid #eee; min-width: 0; }
.wf-head > div { font-weight: 600; color: #555; border-top: none; position: sticky; top: 0; background: #fff; z-index: 1; }
.wf-scale { display: flex; justify-content: space-between; font-weight: normal !important; }
.wf-delivery > div { border-top: 1px solid #bbb; background: #f6f8fa; padding-top: 6px; }
.wf-delivery.role-cause > div { background: #ffd8d3; }
.wf-delivery.role-cascade > div { background: #ffe8d6; }
.wf-sub { color: #555; font-size: 12px; }
.wf-statement > div:first-child { padding-left: 22px; }
.wf-sql { font-size: 12px; display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.wf-statement .wf-what { display: flex; gap: 4px; align-items: baseline; }
.wf-conn, .wf-time { font-size: 12px; color: #555; font-variant-numeric: tabular-nums; }
.wf-result { font-size: 12px; overflow-wrap: break-word; }
.wf-message { color: #555; }
.wf-statement.outcome-error .wf-result { color: #cf222e; font-weight: 600; }
.wf-statement.role-cause > div { background: #ffebe9; }
.wf-statement.role-cause > div:first-child { box-shadow: inset 4px 0 #cf222e; }
.wf-statement.role-cascade > div { background: #fff5ec; }
.wf-statement.role-cascade > div:first-child { box-shadow: inset 4px 0 #fb8f44; }
.wf-statement.role-cascade .wf-result { color: #bc4c00; }
.wf-more { grid-column: 1 / -1; color: #888; font-style: italic; font-size: 12px; padding: 2px 22px; }
.wf-track { position: relative; }
.wf-bar { position: absolute; top: 35%; height: 30%; min-width: 3px; border-radius: 2px; background: #8c959f; }
.wf-bar.delivery { top: 25%; height: 50%; opacity: 0.8; }
.wf-bar.status-2xx { background: #2da44e; } .wf-bar.status-4xx { background: #bf8700; } .wf-bar.status-5xx, .wf-bar.status-0xx { background: #cf222e; }
.wf-bar.outcome-ok { background: #2da44e; } .wf-bar.outcome-error { background: #cf222e; }
.role-cascade .wf-bar.outcome-error, .wf-bar.outcome-skipped { background: #fb8f44; }
.status-chip { color: #fff; border-radius: 10px; padding: 1px 8px; font-weight: 600; font-size: 12px; white-space: nowrap; }
.badge { border-radius: 4px; padding: 0 5px; font-size: 11px; font-weight: 700; letter-spacing: 0.03em; white-space: nowrap; }
.badge-cause { background: #cf222e; color: #fff; } .badge-error { background: #bf8700; color: #fff; } .badge-cascade { background: #fb8f44; color: #fff; }
section.comparison { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; margin-bottom: 16px; }
section.comparison > h2 { margin: 0 0 8px; }
.before-after { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.before-after h3 { margin: 0; }
ul.deltas { margin: 8px 0 0; padding-left: 20px; }
.delta.better b { color: #1a7f37; } .delta.worse b { color: #cf222e; } .delta.same b { color: #555; }
`;

/** Writes the HTML report of a `run` to `file` when the run ends. */
export function htmlReporter(file: string, title = "faultline run"): Reporter {
  return {
    async onRunEnd(summary) {
      await writeReportFile(
        file,
        toHtmlReport({ title, sides: [{ label: title, results: summary.results }] }),
      );
    },
  };
}
