import type UPlot from "uplot";
import type { Aggregated, Lane, LatencyPoint, MarkResult, PageResult } from "./data.ts";
import { el, fmt, RESULT_COLOUR, SQLSTATE_PALETTE, statusColour } from "./dom.ts";

// uPlot's browser build is inlined before this script and defines it globally.
declare const uPlot: typeof UPlot;

/** Every chart drawn, for resizing and for the tests that read their data. */
export const charts: UPlot[] = [];
/** Every lane drawn, with the result it belongs to. */
export const drawnLanes: (Lane & { result: string; conn: number | undefined })[] = [];

/** The chart width for a column of the page. */
export function chartWidth(columns: number): number {
  const sides = document.getElementById("sides");
  return Math.max(320, Math.floor((sides?.clientWidth ?? 800) / columns) - 40);
}

/** A time axis counting in the run's own unit: milliseconds for a short run, else seconds. */
function timeAxis(unit: "ms" | "s"): UPlot.Axis {
  const scale = unit === "ms" ? 1000 : 1;
  return {
    label: unit === "ms" ? "ms since the run's first event" : "seconds since the run's first event",
    values: (_u, ticks) => ticks.map((t) => fmt(t * scale, 3)),
  };
}

/** Vertical lines where the proxy injected a fault: drawn by a uPlot hook on the plot canvas. */
function faultMarks(marks: number[]): UPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#8250df";
          ctx.setLineDash([4, 3]);
          ctx.lineWidth = 2;
          for (const t of marks) {
            const x = u.valToPos(t, "x", true);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** Deliveries and errors over time: counts per bucket, or per second for buckets of a second or more. */
export function timeline(c: Aggregated, columns: number, into: HTMLElement): void {
  const perSecond = c.bucketMs >= 1000;
  const per = perSecond ? "per second" : `per ${fmt(c.bucketMs, 0)} ms`;
  const series: UPlot.Series[] = [{}];
  const columnsData: number[][] = [c.x];
  let code = 0;
  for (const s of c.series) {
    const stepped = uPlot.paths.stepped?.({ align: 1 });
    series.push(
      s.kind === "status"
        ? { label: s.label, stroke: statusColour(Number(s.key)), width: 2, paths: stepped }
        : {
            label: s.label,
            stroke: SQLSTATE_PALETTE[code++ % SQLSTATE_PALETTE.length],
            dash: [6, 3],
            width: 2,
            paths: stepped,
          },
    );
    columnsData.push(perSecond ? s.counts.map((n) => (n * 1000) / c.bucketMs) : s.counts);
  }
  const box = el("div", {
    class: "chart timeline",
    "data-series": String(series.length - 1),
    "data-bucket-ms": String(c.bucketMs),
  });
  const faults =
    c.faultCount === c.faultMarks.length
      ? String(c.faultCount)
      : `${c.faultCount}, one line per ${c.bucketMs} ms with any`;
  into.append(
    el(
      "h4",
      {},
      `Webhooks by HTTP status and errors by SQLSTATE, ${per}; dashed purple lines: faults injected (${faults})`,
    ),
    box,
  );
  charts.push(
    new uPlot(
      {
        width: chartWidth(columns),
        height: 220,
        scales: { x: { time: false } },
        axes: [timeAxis(c.timeUnit), { label: perSecond ? "per second" : `count ${per}` }],
        legend: { live: false },
        series,
        plugins: [faultMarks(c.faultMarks)],
      },
      columnsData as UPlot.AlignedData,
      box,
    ),
  );
}

/** The swimlane: one lane per Postgres session, each delivery's span banded behind it. */
export function swimlanes(
  result: PageResult,
  c: Aggregated,
  columns: number,
  into: HTMLElement,
): void {
  const lanes = c.lanes;
  if (lanes.length === 0) {
    into.append(el("p", { class: "empty" }, "No statements traced."));
    return;
  }
  drawnLanes.push(...lanes.map((l) => ({ result: result.name, conn: l.conns[0], ...l })));
  const laneName = (l: Lane) =>
    l.conns.length === 1 ? `#${l.conns[0]}` : `${l.conns.length} sessions`;
  const rowH = (u: UPlot) => Math.abs(u.valToPos(0, "y", true) - u.valToPos(1, "y", true));
  const px = devicePixelRatio;
  const shade: UPlot.Plugin = {
    hooks: {
      drawClear: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          // Alternate bands, one per delivery, so a lane's marks read against the webhook they served.
          c.deliverySpans.forEach((d, i) => {
            const x0 = u.valToPos(d.from, "x", true);
            const x1 = Math.max(x0 + 2 * px, u.valToPos(d.to, "x", true));
            ctx.fillStyle = i % 2 === 0 ? "rgba(9, 105, 218, 0.07)" : "rgba(9, 105, 218, 0.13)";
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
          });
          const h = rowH(u);
          lanes.forEach((l, i) => {
            const y = u.valToPos(i, "y", true);
            for (const a of l.aborted) {
              // A merged stretch the session was aborted for only part of is shaded lighter.
              ctx.fillStyle = `rgba(207, 34, 46, ${(0.08 + 0.17 * a.share).toFixed(3)})`;
              const x0 = u.valToPos(a.from, "x", true);
              const x1 = Math.max(x0 + 4, u.valToPos(a.to, "x", true));
              ctx.fillRect(x0, y - h * 0.4, x1 - x0, h * 0.8);
            }
          });
          ctx.restore();
        },
      ],
    },
  };
  // Each run a bar from its first statement to its last, at least a dot wide; a SQLSTATE
  // label where the code changes along the lane and there is room to read it.
  const marks: UPlot.Plugin = {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.font = `${Math.round(10 * px)}px monospace`;
          const h = Math.min(rowH(u) * 0.45, 10 * px);
          const left = u.bbox.left;
          const right = u.bbox.left + u.bbox.width;
          let lastDeliveryLabel = Number.NEGATIVE_INFINITY;
          ctx.fillStyle = "#0969da";
          for (const d of c.deliverySpans) {
            const x = u.valToPos(d.from, "x", true);
            if (x - lastDeliveryLabel < 24 * px) continue;
            ctx.fillText(`#${d.n}`, x + 2 * px, u.bbox.top + 11 * px);
            lastDeliveryLabel = x;
          }
          lanes.forEach((l, i) => {
            const y = u.valToPos(i, "y", true);
            let lastCode: string | null = null;
            let lastLabel = Number.NEGATIVE_INFINITY;
            for (const r of l.runs) {
              const x0 = u.valToPos(r.from, "x", true);
              const x1 = Math.max(x0 + 6 * px, u.valToPos(r.to, "x", true));
              if (x1 < left || x0 > right) continue;
              if (r.mix) {
                // A bucket of mixed results: a stacked bar, each result its share of the height,
                // errors at least a line high so a few among thousands still show.
                let top = y - h / 2;
                for (const kind of ["error", "lost", "ok"] as MarkResult[]) {
                  if (!r.mix[kind]) continue;
                  const part =
                    kind === "ok" ? y + h / 2 - top : Math.max(2 * px, (h * r.mix[kind]) / r.count);
                  ctx.fillStyle = RESULT_COLOUR[kind];
                  ctx.fillRect(x0, top, x1 - x0, part);
                  top += part;
                }
              } else {
                ctx.fillStyle = RESULT_COLOUR[r.result];
                ctx.fillRect(x0, y - h / 2, x1 - x0, h);
              }
              if (r.sqlstate && r.sqlstate !== lastCode && x0 - lastLabel > 44 * px) {
                ctx.fillStyle = "#222";
                ctx.fillText(
                  r.sqlstate + (r.count > 1 ? `×${r.count}` : ""),
                  x0 + 2 * px,
                  y - h / 2 - 3 * px,
                );
                lastLabel = x0;
              }
              if (r.sqlstate) lastCode = r.sqlstate;
            }
          });
          ctx.restore();
        },
      ],
    },
  };
  const box = el("div", { class: "chart swimlane", "data-lanes": String(lanes.length) });
  const how = c.bucketedLanes
    ? `each bar one ${c.bucketMs} ms of a session's statements, stacked by result`
    : "each bar a session's consecutive statements of one result";
  const bands =
    c.deliverySpans.length > 0 ? "; blue bands: deliveries #1, #2, … as listed above" : "";
  into.append(
    el(
      "h4",
      {},
      `Postgres sessions (one lane per connection; ${c.statements.toLocaleString("en")} statements, ${how}): green ok, red error, grey lost; shaded red: transaction aborted${bands}`,
    ),
    box,
  );
  const legend = (["ok", "error", "lost"] as MarkResult[]).map(
    (kind): UPlot.Series => ({
      label: kind,
      stroke: RESULT_COLOUR[kind],
      fill: RESULT_COLOUR[kind],
      paths: () => null,
      points: { show: false },
    }),
  );
  charts.push(
    new uPlot(
      {
        width: chartWidth(columns),
        height: Math.max(120, 40 + Math.min(28, Math.max(12, 600 / lanes.length)) * lanes.length),
        // The same time axis as the timeline above, so a lane lines up with the webhook it served.
        scales: {
          x: { time: false, range: [0, Math.max(0.05, c.spanSeconds)] },
          y: { range: [-0.7, lanes.length - 0.3] },
        },
        axes: [
          timeAxis(c.timeUnit),
          {
            label: "conn",
            values: (_u, ticks) =>
              ticks.map((t) => {
                const lane = Number.isInteger(t) ? lanes[t] : undefined;
                return lane ? laneName(lane) : "";
              }),
            splits: () => lanes.map((_, i) => i),
          },
        ],
        legend: { live: false },
        series: [{}, ...legend],
        plugins: [shade, marks, faultMarks(c.faultMarks)],
        cursor: { drag: { x: true, y: false } },
      },
      [
        [0, c.spanSeconds],
        [null, null],
        [null, null],
        [null, null],
      ] as unknown as UPlot.AlignedData,
      box,
    ),
  );
}

/** A load run's latency percentiles, second by second. */
export function latency(points: LatencyPoint[], columns: number, into: HTMLElement): void {
  if (points.length === 0) return;
  const box = el("div", { class: "chart latency" });
  into.append(el("h3", {}, "Latency percentiles over time"), box);
  charts.push(
    new uPlot(
      {
        width: chartWidth(columns),
        height: 220,
        scales: { x: { time: false } },
        axes: [timeAxis("s"), { label: "ms" }],
        legend: { live: false },
        series: [
          {},
          { label: "p50", stroke: "#2da44e", width: 2 },
          { label: "p90", stroke: "#bf8700", width: 2 },
          { label: "p99", stroke: "#cf222e", width: 2 },
        ],
      },
      [
        points.map((p) => p.t),
        points.map((p) => p.p50),
        points.map((p) => p.p90),
        points.map((p) => p.p99),
      ],
      box,
    ),
  );
}
