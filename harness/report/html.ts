import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { LoadResult } from "../load/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import type { Reporter } from "./reporter.ts";
import { writeReportFile } from "./write.ts";

/** One latency sample over time: seconds since the run started, percentiles in milliseconds. */
export interface LatencyPoint {
  t: number;
  p50: number;
  p90: number;
  p99: number;
}

/** A load run's figures for the summary panel: rates per second, latencies in milliseconds. */
export interface HtmlLoadSummary {
  requestedRate: number;
  achievedRate: number;
  sent: number;
  acked: number;
  late: number;
  dropped: number;
  latency: { p50: number; p90: number; p99: number; p999: number; max: number };
  byStatus: Record<string, number>;
  /** `actual` as measured, a number or a number with its unit (`"12.5ms"`). */
  thresholds: { source: string; passed: boolean; actual?: number | string }[];
  /** The proxy's time in its handlers as a share of one CPU core, in percent. */
  proxyBusyPercent?: number;
  /** Why the generator could not hold the requested rate, when it could not. */
  rateNotHeld?: string;
}

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

/**
 * The timeline's bucket width for a run of `spanMs`: the narrowest readable width that keeps
 * at most MAX_BUCKETS buckets (10 ms for a flagship run, 1 s for a minute's load).
 */
export function bucketWidthMs(spanMs: number): number {
  for (const width of NICE_WIDTHS_MS) if (spanMs / width <= MAX_BUCKETS) return width;
  return Math.ceil(spanMs / MAX_BUCKETS / 60_000) * 60_000;
}

/** A statement's outcome as the lanes colour it. */
type MarkResult = "ok" | "error" | "lost";
/** Worse outcomes win when statements share a mark. */
const SEVERITY: Record<MarkResult, number> = { ok: 0, lost: 1, error: 2 };

/**
 * Consecutive statements of one session drawn as one mark: from the first's start to the
 * last's end, in seconds since the run's start, coloured by the worst result among them.
 */
export interface LaneRun {
  from: number;
  to: number;
  count: number;
  result: MarkResult;
  /** The most frequent SQLSTATE among them, if any failed. */
  sqlstate?: string;
  /** SQLSTATEs among them and how many of each. */
  sqlstates?: Record<string, number>;
  /** When statements of different results share the run (per bucket): how many of each. */
  mix?: Record<MarkResult, number>;
}

/** Where a session sat in a failed transaction block, in seconds since the run's start. */
export interface AbortedStretch {
  from: number;
  to: number;
  /** Still aborted at the session's last statement. */
  open?: boolean;
  /** The part of from..to the session really was aborted (stretches close together merge). */
  share: number;
}

/** One lane of the swimlane: a session (or sessions that never overlapped, on huge runs). */
export interface Lane {
  conns: number[];
  runs: LaneRun[];
  /**
   * Stretches (seconds since the start) where the session sat in a failed transaction block;
   * `share` is how much of a merged stretch really was (1: aborted throughout).
   */
  aborted: AbortedStretch[];
}

/** The timeline and the lanes, counted in Node so the page carries no per-statement rows. */
export interface Aggregated {
  /** Epoch milliseconds of the run's first event; every other time is seconds after it. */
  t0: number;
  spanSeconds: number;
  bucketMs: number;
  /** Bucket starts, in seconds. */
  x: number[];
  /** Per-second rates per bucket, by HTTP status (of deliveries) or SQLSTATE (of statements). */
  series: { label: string; kind: "status" | "sqlstate"; key: string; perSecond: number[] }[];
  /** Where faults fired, in seconds; one per bucket when there were more than MAX_FAULT_MARKS. */
  faultMarks: number[];
  faultCount: number;
  lanes: Lane[];
  /** Whether lanes show one run per bucket (the run had too many statements to draw each). */
  bucketedLanes: boolean;
  statements: number;
  deliveries: number;
}

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
  const perSecond = 1000 / bucketMs;
  const counts = new Map<string, { kind: "status" | "sqlstate"; key: string; ys: number[] }>();
  const add = (kind: "status" | "sqlstate", key: string, t: number) => {
    const id = `${kind}:${key}`;
    let c = counts.get(id);
    if (!c) {
      c = { kind, key, ys: new Array<number>(n).fill(0) };
      counts.set(id, c);
    }
    c.ys[indexOf(t)] = (c.ys[indexOf(t)] ?? 0) + perSecond;
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
    // Rates to 0.01/s: a few digits each keep a long run's page small.
    perSecond: c.ys.map((y) => Math.round(y * 100) / 100),
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
  return {
    t0,
    spanSeconds: spanMs / 1000,
    bucketMs,
    x,
    series,
    faultMarks,
    faultCount: faultTimes.length,
    lanes,
    bucketedLanes,
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
function pageResult(result: ScenarioResult) {
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
  return {
    name: result.name,
    cell: result.cell,
    verdict: result.verdict,
    service: result.service,
    seed: result.seed,
    durationMs: result.durationMs,
    error: result.error,
    invariants,
    sqlstates: result.sqlstates,
    charts: aggregateResult(result),
  };
}

/** One self-contained HTML page: load summary, timeline, connection swimlanes, latency, verdicts. */
export function toHtmlReport(input: HtmlReportInput): string {
  const { js, css } = uplot();
  const data = {
    title: input.title,
    sides: input.sides.map((side) => ({
      label: side.label,
      load: side.load,
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
<main id="sides" class="sides-${input.sides.length}"></main>
<script id="faultline-data" type="application/json">${scriptJson(data)}</script>
<script>${PAGE_JS}</script>
</body></html>
`;
}

const PAGE_CSS = `
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
.sides-2 { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
section.side { min-width: 0; }
section.side > h2 { margin: 0 0 8px; }
article.result { border: 1px solid #ccc; border-radius: 6px; padding: 8px; margin-bottom: 16px; }
.verdict-pass { color: #1a7f37; } .verdict-fail { color: #cf222e; } .verdict-error { color: #9a6700; }
table.invariants { border-collapse: collapse; width: 100%; }
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
`;

// Runs in the browser. Plain ES2020: it is inlined as is, not compiled. The data arrives
// counted (timeline buckets, lane runs), so drawing does no per-statement work.
const PAGE_JS = String.raw`
(function () {
  const data = JSON.parse(document.getElementById("faultline-data").textContent);
  const statusColour = (s) => s === 0 ? "#6e7781" : s < 300 ? "#2da44e" : s < 500 ? "#bf8700" : "#cf222e";
  const palette = ["#cf222e", "#8250df", "#bc4c00", "#0969da", "#1b7c83", "#953800", "#6639ba"];
  const resultColour = { ok: "#2da44e", error: "#cf222e", lost: "#6e7781" };
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c);
    return node;
  };
  const fmt = (n, digits) => typeof n === "number" ? n.toLocaleString("en", { maximumFractionDigits: digits === undefined ? 1 : digits }) : String(n);
  const width = () => Math.max(320, Math.floor(document.getElementById("sides").clientWidth / data.sides.length) - 40);
  const charts = [];
  window.faultlineReport = { data, charts, lanes: [] };

  // Vertical lines where the proxy injected a fault: drawn by a uPlot hook on the plot canvas.
  function faultMarks(marks) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#8250df"; ctx.setLineDash([4, 3]); ctx.lineWidth = 2;
      for (const t of marks) {
        const x = u.valToPos(t, "x", true);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      }
      ctx.restore();
    }] } };
  }

  function loadPanel(load, into) {
    const dl = (rows) => el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const panel = el("div", { class: "load-panel" }, el("h3", {}, "Load"));
    const held = load.achievedRate >= load.requestedRate * 0.99;
    const unanswered = load.sent - Object.values(load.byStatus).reduce((a, b) => a + b, 0);
    panel.append(
      dl([
        ["requested", fmt(load.requestedRate) + "/s"],
        ["achieved", fmt(load.achievedRate) + "/s" + (held ? "" : " (" + fmt((load.achievedRate / load.requestedRate) * 100) + "% of requested)")],
        ["sent", fmt(load.sent, 0)],
        ["acknowledged (2xx)", fmt(load.acked, 0)],
        ["sent > 10 ms late", fmt(load.late, 0)],
        ["dropped", fmt(load.dropped, 0)],
      ]),
      dl([["p50", fmt(load.latency.p50) + " ms"], ["p90", fmt(load.latency.p90) + " ms"], ["p99", fmt(load.latency.p99) + " ms"],
        ["p99.9", fmt(load.latency.p999) + " ms"], ["max", fmt(load.latency.max) + " ms"]]),
      dl([
        ...Object.entries(load.byStatus).map(([s, n]) => ["HTTP " + (s === "0" ? "no response" : s), fmt(n, 0)]),
        ...(unanswered > 0 ? [["never answered", fmt(unanswered, 0)]] : []),
        ...(load.proxyBusyPercent === undefined ? [] : [["proxy busy", fmt(load.proxyBusyPercent) + "% of a core"]]),
      ]),
    );
    if (load.thresholds.length) {
      const list = el("dl", { class: "thresholds" });
      for (const t of load.thresholds) {
        list.append(el("dt", {}, t.source),
          el("dd", { class: t.passed ? "threshold-pass" : "threshold-fail" }, (t.passed ? "✓ pass" : "✗ FAIL") + (t.actual === undefined ? "" : " (" + fmt(t.actual, 3) + ")")));
      }
      panel.append(list);
    }
    if (load.rateNotHeld) panel.append(el("div", { class: "warning rate-not-held" }, "⚠ " + load.rateNotHeld));
    if (load.achievedRate < load.requestedRate * 0.9)
      panel.append(el("div", { class: "warning service-behind" }, "⚠ requests completed at " + fmt(load.achievedRate) + "/s of the " +
        fmt(load.requestedRate) + "/s requested: the service fell behind, so latency climbs and late requests go unanswered"));
    if (load.proxyBusyPercent !== undefined && load.proxyBusyPercent > 80)
      panel.append(el("div", { class: "warning proxy-bound" }, "The proxy was busy " + fmt(load.proxyBusyPercent) + "% of a core: it, not the service, may have limited this load."));
    into.append(panel);
  }

  function timeline(result, c, into) {
    const series = [{ label: "s" }];
    const columns = [c.x];
    let code = 0;
    for (const s of c.series) {
      series.push(s.kind === "status"
        ? { label: s.label, stroke: statusColour(Number(s.key)), width: 2, paths: uPlot.paths.stepped({ align: 1 }) }
        : { label: s.label, stroke: palette[code++ % palette.length], dash: [6, 3], width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
      columns.push(s.perSecond);
    }
    const box = el("div", { class: "chart timeline", "data-series": String(series.length - 1), "data-bucket-ms": String(c.bucketMs) });
    const faults = c.faultCount === c.faultMarks.length ? c.faultCount : c.faultCount + ", one line per " + c.bucketMs + " ms with any";
    into.append(el("h4", {}, "Webhooks/s by HTTP status, errors/s by SQLSTATE, per " + c.bucketMs + " ms; dashed purple lines: faults injected (" + faults + ")"), box);
    charts.push(new uPlot({
      width: width(), height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "seconds" }, { label: "per second" }],
      series, plugins: [faultMarks(c.faultMarks)],
    }, columns, box));
  }

  function swimlanes(result, c, into) {
    const lanes = c.lanes;
    if (lanes.length === 0) { into.append(el("p", { class: "empty" }, "No statements traced.")); return; }
    window.faultlineReport.lanes.push(...lanes.map((l) => ({ result: result.name, conn: l.conns[0], ...l })));
    const laneName = (l) => l.conns.length === 1 ? "#" + l.conns[0] : l.conns.length + " sessions";
    const rowH = (u) => Math.abs(u.valToPos(0, "y", true) - u.valToPos(1, "y", true));
    const shade = { hooks: { drawClear: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      const h = rowH(u);
      lanes.forEach((l, i) => {
        const y = u.valToPos(i, "y", true);
        for (const a of l.aborted) {
          // A merged stretch the session was aborted for only part of is shaded lighter.
          ctx.fillStyle = "rgba(207, 34, 46, " + (0.08 + 0.17 * a.share).toFixed(3) + ")";
          const x0 = u.valToPos(a.from, "x", true);
          const x1 = Math.max(x0 + 4, u.valToPos(a.to, "x", true));
          ctx.fillRect(x0, y - h * 0.4, x1 - x0, h * 0.8);
        }
      });
      ctx.restore();
    }] } };
    // Each run a bar from its first statement to its last, at least a dot wide; a SQLSTATE
    // label where the code changes along the lane and there is room to read it.
    const marks = { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      const px = devicePixelRatio;
      ctx.save();
      ctx.font = Math.round(10 * px) + "px monospace";
      const h = Math.min(rowH(u) * 0.45, 10 * px);
      const left = u.bbox.left, right = u.bbox.left + u.bbox.width;
      lanes.forEach((l, i) => {
        const y = u.valToPos(i, "y", true);
        let lastCode = null, lastLabel = -Infinity;
        for (const r of l.runs) {
          const x0 = u.valToPos(r.from, "x", true);
          const x1 = Math.max(x0 + 6 * px, u.valToPos(r.to, "x", true));
          if (x1 < left || x0 > right) continue;
          if (r.mix) {
            // A bucket of mixed results: a stacked bar, each result its share of the height,
            // errors at least a line high so a few among thousands still show.
            let top = y - h / 2;
            for (const kind of ["error", "lost", "ok"]) {
              if (!r.mix[kind]) continue;
              const part = kind === "ok" ? y + h / 2 - top : Math.max(2 * px, (h * r.mix[kind]) / r.count);
              ctx.fillStyle = resultColour[kind];
              ctx.fillRect(x0, top, x1 - x0, part);
              top += part;
            }
          } else {
            ctx.fillStyle = resultColour[r.result];
            ctx.fillRect(x0, y - h / 2, x1 - x0, h);
          }
          if (r.sqlstate && r.sqlstate !== lastCode && x0 - lastLabel > 44 * px) {
            ctx.fillStyle = "#222";
            ctx.fillText(r.sqlstate + (r.count > 1 ? "×" + r.count : ""), x0 + 2 * px, y - h / 2 - 3 * px);
            lastLabel = x0;
          }
          if (r.sqlstate) lastCode = r.sqlstate;
        }
      });
      ctx.restore();
    }] } };
    const box = el("div", { class: "chart swimlane", "data-lanes": String(lanes.length) });
    const how = c.bucketedLanes ? "each bar one " + c.bucketMs + " ms of a session's statements, stacked by result" : "each bar a session's consecutive statements of one result";
    into.append(el("h4", {}, "Postgres sessions (one lane per connection; " + c.statements.toLocaleString("en") + " statements, " + how + "): green ok, red error, grey lost; shaded: transaction aborted"), box);
    const legend = ["ok", "error", "lost"].map((kind) => ({ label: kind, stroke: resultColour[kind], fill: resultColour[kind], paths: () => null, points: { show: false } }));
    charts.push(new uPlot({
      width: width(), height: Math.max(120, 40 + Math.min(28, Math.max(12, 600 / lanes.length)) * lanes.length),
      // The same time axis as the timeline above, so a lane lines up with the webhook it served.
      scales: { x: { time: false, range: [0, Math.max(0.05, c.spanSeconds)] }, y: { range: [-0.7, lanes.length - 0.3] } },
      axes: [{ label: "seconds" }, { label: "conn", values: (u, ticks) => ticks.map((t) => Number.isInteger(t) && lanes[t] ? laneName(lanes[t]) : ""), splits: () => lanes.map((_, i) => i) }],
      series: [{ label: "s" }, ...legend], plugins: [shade, marks, faultMarks(c.faultMarks)],
      cursor: { drag: { x: true, y: false } },
    }, [[0, c.spanSeconds], [null, null], [null, null], [null, null]], box));
  }

  function latency(points, into) {
    if (points.length === 0) return;
    const box = el("div", { class: "chart latency" });
    into.append(el("h3", {}, "Latency percentiles over time"), box);
    charts.push(new uPlot({
      width: width(), height: 220, scales: { x: { time: false } },
      axes: [{ label: "seconds" }, { label: "ms" }],
      series: [{ label: "s" },
        { label: "p50", stroke: "#2da44e", width: 2 },
        { label: "p90", stroke: "#bf8700", width: 2 },
        { label: "p99", stroke: "#cf222e", width: 2 }],
    }, [points.map((p) => p.t), points.map((p) => p.p50), points.map((p) => p.p90), points.map((p) => p.p99)], box));
  }

  function invariants(result, into) {
    const table = el("table", { class: "invariants" },
      el("tr", {}, el("th", {}, "invariant"), el("th", {}, "verdict"), el("th", {}, "expected / seen"), el("th", {}, "evidence")));
    for (const inv of result.invariants) {
      table.append(el("tr", {},
        el("td", {}, inv.name),
        el("td", { class: inv.passed ? "verdict-pass" : "verdict-fail" }, inv.passed ? "pass" : "FAIL"),
        el("td", {}, "expected " + inv.expected, el("br"), "seen " + inv.seen),
        el("td", {}, el("pre", { class: "evidence" }, inv.evidence.join("\n")))));
    }
    into.append(el("h4", {}, "Invariants"), table);
  }

  for (const side of data.sides) {
    const section = el("section", { class: "side" }, el("h2", {}, side.label));
    document.getElementById("sides").append(section);
    if (side.load) loadPanel(side.load, section);
    latency(side.latency, section);
    for (const result of side.results) {
      const cell = result.cell ? " [" + Object.entries(result.cell).map(([k, v]) => k + "=" + v).join(", ") + "]" : "";
      const article = el("article", { class: "result", "data-verdict": result.verdict },
        el("h3", {}, result.name + cell + " — ", el("span", { class: "verdict-" + result.verdict }, result.verdict)),
        el("div", {}, "service " + result.service + ", seed " + result.seed + ", " + result.durationMs + " ms; SQLSTATEs " +
          (Object.entries(result.sqlstates).map(([k, v]) => k + "×" + v).join(" ") || "none")));
      if (result.error) article.append(el("pre", { class: "evidence" }, result.error.code + ": " + result.error.message));
      section.append(article);
      if (result.charts) {
        timeline(result, result.charts, article);
        swimlanes(result, result.charts, article);
      }
      invariants(result, article);
    }
  }

  // Charts follow the window's width; one resize per frame however many events arrive.
  let pending = false;
  window.addEventListener("resize", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      const w = width();
      for (const chart of charts) chart.setSize({ width: w, height: chart.height });
    });
  });
  window.faultlineReport.renderMs = performance.now();
})();
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
