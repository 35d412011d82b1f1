import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
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

/** One column of the report: a service's results (gate has two, baseline and candidate). */
export interface HtmlReportSide {
  label: string;
  results: ScenarioResult[];
  /** Latency percentiles over time (the load command's). */
  latency?: LatencyPoint[];
}

/** What the HTML report shows. */
export interface HtmlReportInput {
  title: string;
  sides: HtmlReportSide[];
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

/** The browser's copy of a result: only what the charts and the verdicts need. */
function pageResult(result: ScenarioResult) {
  return {
    name: result.name,
    cell: result.cell,
    verdict: result.verdict,
    service: result.service,
    seed: result.seed,
    durationMs: result.durationMs,
    error: result.error,
    deliveries: result.deliveries.map((d) => ({
      label: d.label,
      status: d.status,
      startedAt: new Date(d.startedAt).getTime(),
      finishedAt: new Date(d.finishedAt).getTime(),
    })),
    faults: result.faults.map((f) => ({ ...f, at: Date.parse(f.at) })),
    invariants: result.invariants,
    sqlstates: result.sqlstates,
    trace: (result.trace ?? []).map((e) => ({
      conn: e.conn,
      at: Date.parse(e.at),
      durationMs: e.durationMs,
      sql: e.sql,
      result: "lost" in e.result ? "lost" : "sqlstate" in e.result ? "error" : "ok",
      sqlstate: "sqlstate" in e.result ? e.result.sqlstate : undefined,
      tx: e.tx,
      rule: e.rule,
    })),
  };
}

/** One self-contained HTML page: timeline, connection swimlanes, latency, invariant verdicts. */
export function toHtmlReport(input: HtmlReportInput): string {
  const { js, css } = uplot();
  const data = {
    title: input.title,
    sides: input.sides.map((side) => ({
      label: side.label,
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
section.side > h2 { margin: 0 0 8px; }
article.result { border: 1px solid #ccc; border-radius: 6px; padding: 8px; margin-bottom: 16px; }
.verdict-pass { color: #1a7f37; } .verdict-fail { color: #cf222e; } .verdict-error { color: #9a6700; }
table.invariants { border-collapse: collapse; width: 100%; }
table.invariants td, table.invariants th { border-top: 1px solid #ddd; padding: 4px; vertical-align: top; text-align: left; }
pre.evidence { margin: 0; white-space: pre-wrap; font-size: 12px; max-height: 12em; overflow: auto; }
h3 { margin: 8px 0 4px; font-size: 15px; } h4 { margin: 8px 0 2px; font-size: 13px; }
.empty { color: #888; font-style: italic; }
`;

// Runs in the browser. Plain ES2020: it is inlined as is, not compiled.
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
  const width = () => Math.max(320, Math.floor(document.getElementById("sides").clientWidth / data.sides.length) - 40);
  const charts = [];
  window.faultlineReport = { data, charts, lanes: [] };

  // Vertical lines where the proxy injected a fault: drawn by a uPlot hook on the plot canvas.
  function faultMarks(faults, t0) {
    return { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = "#8250df"; ctx.setLineDash([4, 3]); ctx.lineWidth = 2;
      for (const f of faults) {
        const x = u.valToPos((f.at - t0) / 1000, "x", true);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      }
      ctx.restore();
    }] } };
  }

  function timeline(result, t0, t1, into) {
    // Flagship runs last a fraction of a second, load runs minutes: about 40 buckets either way,
    // each scaled to a per-second rate.
    const span = Math.max(0.05, (t1 - t0) / 1000);
    const bucket = Math.max(0.005, span / 40);
    const n = Math.ceil(span / bucket) + 1;
    const xs = Array.from({ length: n }, (_, i) => i * bucket);
    const perSecond = (times) => {
      const ys = new Array(n).fill(0);
      for (const t of times) ys[Math.min(n - 1, Math.floor((t - t0) / 1000 / bucket))] += 1 / bucket;
      return ys;
    };
    const statuses = [...new Set(result.deliveries.map((d) => d.status))].sort();
    const sqlstates = [...new Set(result.trace.filter((e) => e.sqlstate).map((e) => e.sqlstate))].sort();
    const series = [{ label: "s" }];
    const columns = [xs];
    for (const s of statuses) {
      series.push({ label: "HTTP " + (s || "no response"), stroke: statusColour(s), width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
      columns.push(perSecond(result.deliveries.filter((d) => d.status === s).map((d) => d.startedAt)));
    }
    sqlstates.forEach((code, i) => {
      series.push({ label: "SQLSTATE " + code, stroke: palette[i % palette.length], dash: [6, 3], width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
      columns.push(perSecond(result.trace.filter((e) => e.sqlstate === code).map((e) => e.at)));
    });
    const box = el("div", { class: "chart timeline", "data-series": String(series.length - 1) });
    into.append(el("h4", {}, "Webhooks/s by HTTP status, errors/s by SQLSTATE; dashed purple lines: faults injected (" + result.faults.length + ")"), box);
    charts.push(new uPlot({
      width: width(), height: 220,
      scales: { x: { time: false } },
      axes: [{ label: "seconds" }, { label: "per second" }],
      series, plugins: [faultMarks(result.faults, t0)],
    }, columns, box));
  }

  function swimlanes(result, t0, t1, into) {
    const conns = [...new Set(result.trace.map((e) => e.conn))].sort((a, b) => a - b);
    if (conns.length === 0) { into.append(el("p", { class: "empty" }, "No statements traced.")); return; }
    const lane = new Map(conns.map((c, i) => [c, i]));
    const entries = [...result.trace].sort((a, b) => a.at - b.at);
    const xs = entries.map((e) => (e.at - t0) / 1000);
    const series = [{ label: "s" }];
    const columns = [xs];
    for (const kind of ["ok", "error", "lost"]) {
      series.push({ label: kind, stroke: resultColour[kind], fill: resultColour[kind], paths: () => null,
        points: { show: true, size: 9, fill: resultColour[kind] } });
      columns.push(entries.map((e) => e.result === kind ? lane.get(e.conn) : null));
    }
    // Stretches where a session sat in a failed transaction block (ReadyForQuery 'E'): from the
    // statement that left it there to the next one that did not.
    const lanes = conns.map((conn) => {
      const own = entries.filter((e) => e.conn === conn);
      const aborted = [];
      let from = null;
      for (const e of own) {
        if (e.tx === "E" && from === null) from = e.at;
        else if (e.tx !== "E" && from !== null) { aborted.push({ from, to: e.at }); from = null; }
      }
      if (from !== null) aborted.push({ from, to: own[own.length - 1].at + own[own.length - 1].durationMs, open: true });
      return { result: result.name, conn, marks: own.map((e) => ({ at: e.at, result: e.result, sqlstate: e.sqlstate, sql: e.sql })), aborted };
    });
    window.faultlineReport.lanes.push(...lanes);
    const shade = { hooks: { drawClear: [(u) => {
      const ctx = u.ctx;
      ctx.save(); ctx.fillStyle = "rgba(207, 34, 46, 0.18)";
      const rowH = Math.abs(u.valToPos(0, "y", true) - u.valToPos(1, "y", true));
      for (const l of lanes) {
        const y = u.valToPos(lane.get(l.conn), "y", true);
        for (const a of l.aborted) {
          const x0 = u.valToPos((a.from - t0) / 1000, "x", true);
          const x1 = Math.max(x0 + 4, u.valToPos((a.to - t0) / 1000, "x", true));
          ctx.fillRect(x0, y - rowH * 0.35, x1 - x0, rowH * 0.7);
        }
      }
      ctx.restore();
    }] } };
    const labels = { hooks: { draw: [(u) => {
      const ctx = u.ctx;
      ctx.save(); ctx.font = Math.round(10 * devicePixelRatio) + "px monospace"; ctx.fillStyle = "#222";
      entries.forEach((e, i) => {
        if (!e.sqlstate) return;
        ctx.fillText(e.sqlstate, u.valToPos(xs[i], "x", true) + 5, u.valToPos(lane.get(e.conn), "y", true) - 6);
      });
      ctx.restore();
    }] } };
    const box = el("div", { class: "chart swimlane", "data-lanes": String(conns.length) });
    into.append(el("h4", {}, "Postgres sessions (one lane per connection): green ok, red error, grey lost; shaded: transaction aborted"), box);
    charts.push(new uPlot({
      width: width(), height: Math.max(120, 40 + 28 * conns.length),
      // The same time axis as the timeline above, so a lane lines up with the webhook it served.
      scales: { x: { time: false, range: [0, Math.max(0.05, (t1 - t0) / 1000)] }, y: { range: [-0.7, conns.length - 0.3] } },
      axes: [{ label: "seconds" }, { label: "conn", values: (u, ticks) => ticks.map((t) => Number.isInteger(t) && conns[t] !== undefined ? "#" + conns[t] : ""), splits: () => conns.map((_, i) => i) }],
      series, plugins: [shade, labels, faultMarks(result.faults, t0)],
      cursor: { drag: { x: true, y: false } },
    }, columns, box));
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
    latency(side.latency, section);
    for (const result of side.results) {
      const cell = result.cell ? " [" + Object.entries(result.cell).map(([k, v]) => k + "=" + v).join(", ") + "]" : "";
      const article = el("article", { class: "result", "data-verdict": result.verdict },
        el("h3", {}, result.name + cell + " — ", el("span", { class: "verdict-" + result.verdict }, result.verdict)),
        el("div", {}, "service " + result.service + ", seed " + result.seed + ", " + result.durationMs + " ms; SQLSTATEs " +
          (Object.entries(result.sqlstates).map(([k, v]) => k + "×" + v).join(" ") || "none")));
      if (result.error) article.append(el("pre", { class: "evidence" }, result.error.code + ": " + result.error.message));
      section.append(article);
      const times = [...result.deliveries.flatMap((d) => [d.startedAt, d.finishedAt]), ...result.trace.map((e) => e.at), ...result.faults.map((f) => f.at)];
      if (times.length > 0) {
        const t0 = Math.min(...times), t1 = Math.max(...times);
        timeline(result, t0, t1, article);
        swimlanes(result, t0, t1, article);
      }
      invariants(result, article);
    }
  }
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
