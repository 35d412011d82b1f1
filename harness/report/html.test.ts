import { describe, expect, it } from "vitest";
import type { LoadResult } from "../load/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import { aggregateResult, bucketWidthMs, loadSummaryOf, toHtmlReport } from "./html.ts";
import { failedResult } from "./sample-results.ts";
import { waterfallOf } from "./waterfall.ts";

function pageData(html: string) {
  const match = /<script id="faultline-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  if (!match?.[1]) throw new Error("no data script in the page");
  return JSON.parse(match[1]);
}

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function entry(conn: number, atMs: number, outcome: "ok" | string, tx: TraceEntry["tx"]) {
  return {
    conn,
    at: iso(atMs),
    sql: "SELECT 1",
    kind: "extended",
    durationMs: 1,
    result: outcome === "ok" ? { tag: "SELECT 1", rows: 1 } : { sqlstate: outcome, message: "m" },
    tx,
    database: "d",
    applicationName: "a",
  } satisfies TraceEntry;
}

/** The flagship's broken session: fine, then 42703, then 25P02 until the end. */
function cascadeResult(): ScenarioResult {
  const result = failedResult([], {
    deliveries: [200, 500, 500].map((status, i) => ({
      index: i,
      label: `w${i}`,
      eventId: `evt_${i}`,
      type: "checkout.session.completed",
      attempt: 1,
      status,
      responseBody: "",
      startedAt: new Date(T0 + i * 20),
      finishedAt: new Date(T0 + i * 20 + 10),
    })),
    faults: [{ conn: 2, rule: "r", fault: "sqlError", sql: "SELECT 1", at: iso(30) }],
  });
  result.trace = [
    entry(2, 0, "ok", "T"),
    entry(2, 1, "ok", "T"),
    entry(2, 20, "42703", "E"),
    entry(2, 25, "25P02", "E"),
    entry(2, 26, "25P02", "E"),
    entry(1, 42, "ok", "I"),
  ];
  return result;
}

describe("toHtmlReport", () => {
  it("inlines uPlot and loads nothing from the network", () => {
    const html = toHtmlReport({ title: "t", sides: [] });
    expect(html).toContain("uPlot");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);
  });

  it("keeps evidence that looks like markup inside its script element", () => {
    const evidence = ["</script><script>alert(1)</script>", "a\u2028b"];
    const html = toHtmlReport({
      title: "<t>",
      sides: [{ label: "x", results: [failedResult(evidence)] }],
    });
    expect(html).toContain("<title>&lt;t&gt;</title>");
    expect(pageData(html).sides[0].results[0].invariants[0].evidence).toEqual(evidence);
  });

  it("carries the counted timeline, the lanes, the faults, latency and the load panel", () => {
    const latency = [{ t: 1, p50: 2, p90: 3, p99: 4 }];
    const load = {
      requestedRate: 200,
      achievedRate: 150,
      sent: 9000,
      acked: 8900,
      late: 400,
      dropped: 12,
      latency: { p50: 5, p90: 9, p99: 40, p999: 90, max: 120 },
      byStatus: { "200": 8900, "500": 100 },
      thresholds: [{ source: "p99<300ms", passed: true, actual: 40 }],
      proxyBusyPercent: 31,
      rateNotHeld: "could not hold 200/s",
    };
    const side = pageData(
      toHtmlReport({
        title: "t",
        sides: [{ label: "x", results: [cascadeResult()], latency, load }],
      }),
    ).sides[0];
    expect(side.latency).toEqual(latency);
    expect(side.load).toEqual(load);
    const charts = side.results[0].charts;
    expect(charts.faultMarks).toEqual([0.03]);
    expect(charts.lanes.map((l: { conns: number[] }) => l.conns)).toEqual([[1], [2]]);
    // No per-statement rows reach the page: the counts do.
    expect(side.results[0].trace).toBeUndefined();
  });
});

describe("the delivery waterfall", () => {
  it("puts each statement under the delivery it served, the 42703 as cause and its 25P02s as cascade", () => {
    const w = waterfallOf(cascadeResult(), T0);
    const rows = w.deliveries.map((d) => [
      d.n,
      d.status,
      d.role ?? "",
      d.statements.map((s) => `${s.conn}:${s.sqlstate ?? s.outcome}:${s.role ?? ""}`),
    ]);
    expect(rows).toEqual([
      [1, 200, "", ["2:ok:", "2:ok:"]],
      [2, 500, "cause", ["2:42703:cause", "2:25P02:cascade", "2:25P02:cascade"]],
      [3, 500, "", ["1:ok:"]],
    ]);
    expect(w.cause).toMatchObject({ delivery: 2, sqlstate: "42703", aborted: 2, atMs: 20 });
    expect(w.cause?.abortedDeliveries).toEqual([2]);
    expect(w.outside).toEqual([]);
  });

  it("gives a statement at the millisecond one delivery ends and the next starts to the one with none yet", () => {
    // The flagship's shape: one connection, deliveries back to back at millisecond precision,
    // a 42703 in the first and each later delivery's BEGIN a 25P02.
    const at = (ms: number) => new Date(T0 + ms);
    const result = failedResult([], {
      deliveries: [
        [0, 21],
        [21, 23],
        [23, 25],
      ].map(([from, to], i) => ({
        index: i,
        label: `w${i}`,
        eventId: `evt_${i}`,
        type: "checkout.session.completed",
        attempt: 1,
        status: 500,
        responseBody: "",
        startedAt: at(from as number),
        finishedAt: at(to as number),
      })),
    });
    result.trace = [
      entry(1, 13, "ok", "T"),
      entry(1, 16, "42703", "E"),
      entry(1, 18, "25P02", "E"),
      entry(1, 23, "25P02", "E"),
      entry(1, 25, "25P02", "E"),
    ];
    const w = waterfallOf(result, T0);
    expect(w.deliveries.map((d) => d.statements.map((s) => s.atMs))).toEqual([
      [13, 16, 18],
      [23],
      [25],
    ]);
    expect(w.deliveries.map((d) => d.role)).toEqual(["cause", "cascade", "cascade"]);
    expect(w.cause).toMatchObject({ delivery: 1, aborted: 3, abortedDeliveries: [1, 2, 3] });
  });

  it("leaves an error the service rolled back a plain error, with nothing aborted", () => {
    const result = cascadeResult();
    result.trace = [entry(2, 20, "42703", "E"), { ...entry(2, 22, "ok", "I"), sql: "ROLLBACK" }];
    const w = waterfallOf(result, T0);
    expect(w.deliveries[1]?.statements.map((s) => s.role)).toEqual([undefined, undefined]);
    expect(w.deliveries[1]?.role).toBeUndefined();
    expect(w.cause).toMatchObject({ sqlstate: "42703", aborted: 0, abortedDeliveries: [] });
  });

  it("lists 60 deliveries of a load, from just before the first failure", () => {
    const w = pageData(
      toHtmlReport({ title: "load", sides: [{ label: "load", results: [largeLoad()] }] }),
    ).sides[0].results[0].waterfall;
    expect(w.deliveries).toHaveLength(60);
    // Delivery 0 is the first failing one (every fourth fails): nothing before it to show.
    expect(w.notShownBefore).toBe(0);
    expect(w.notShownAfter).toBe(12_000 - 60);
    expect(w.deliveries[0].statements.map((s: { sqlstate?: string }) => s.sqlstate ?? "")).toEqual([
      "",
      "42703",
      "",
      "",
      "",
    ]);
  });
});

describe("gate's page data", () => {
  it("marks a two-sided report as BEFORE and AFTER and counts each result's HTTP statuses", () => {
    const data = pageData(
      toHtmlReport({
        title: "faultline gate",
        comparison: true,
        sides: [
          { label: "baseline: a", results: [cascadeResult()] },
          { label: "candidate: b", results: [failedResult([])] },
        ],
      }),
    );
    expect(data.comparison).toBe(true);
    expect(data.sides[0].results[0].statuses).toEqual({ "200": 1, "500": 2 });
    expect(data.sides[1].results[0].statuses).toEqual({});
  });
});

describe("bucketWidthMs", () => {
  it("picks a readable width keeping at most 120 buckets", () => {
    expect(bucketWidthMs(85)).toBe(5);
    expect(bucketWidthMs(2_000)).toBe(20);
    expect(bucketWidthMs(20_000)).toBe(200);
    expect(bucketWidthMs(60_000)).toBe(500);
    expect(bucketWidthMs(120_000)).toBe(1000);
    expect(bucketWidthMs(3_600_000)).toBe(30_000);
    expect(bucketWidthMs(24 * 3_600_000) / 60_000).toBe(12);
  });
});

describe("aggregateResult", () => {
  it("keeps the cascade: 42703 then 25P02 as their own runs, the aborted stretch open", () => {
    const charts = aggregateResult(cascadeResult());
    if (!charts) throw new Error("no charts");
    expect(charts.t0).toBe(T0);
    expect(charts.bucketedLanes).toBe(false);
    const lane = charts.lanes.find((l) => l.conns[0] === 2);
    expect(lane?.runs.map((r) => [r.result, r.sqlstate ?? "", r.count])).toEqual([
      ["ok", "", 2],
      ["error", "42703", 1],
      ["error", "25P02", 2],
    ]);
    expect(lane?.aborted).toEqual([{ from: 0.02, to: 0.027, open: true, share: 1 }]);
    // Counts per bucket, not rates: a 5 ms bucket holding one delivery reads 1, not 200/s.
    const http500 = charts.series.find((s) => s.label === "HTTP 500");
    expect(http500?.counts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(Math.max(...(http500?.counts ?? []))).toBe(1);
    expect(charts.timeUnit).toBe("ms");
    expect(charts.series.map((s) => s.label)).toEqual([
      "HTTP 200",
      "HTTP 500",
      "SQLSTATE 25P02",
      "SQLSTATE 42703",
    ]);
  });

  it("has no charts for a result with nothing timed", () => {
    expect(aggregateResult(failedResult([]))).toBeUndefined();
  });

  it("marks one line per bucket past 300 faults", () => {
    const result = failedResult([], {
      faults: Array.from({ length: 1000 }, (_, i) => ({
        conn: 1,
        rule: "r",
        fault: "delay",
        sql: undefined,
        at: iso(i * 60),
      })),
    });
    const charts = aggregateResult(result);
    expect(charts?.faultCount).toBe(1000);
    expect(charts?.bucketMs).toBe(500);
    expect(charts?.faultMarks.length).toBe(120);
  });

  it("shares lanes between sessions that never overlap, past 48 sessions", () => {
    const result = failedResult([]);
    // A connection per request, one at a time: 200 sessions.
    result.trace = Array.from({ length: 200 }, (_, i) => entry(i + 1, i * 10, "ok", "I"));
    const charts = aggregateResult(result);
    expect(charts?.lanes.length).toBe(1);
    expect(charts?.lanes[0]?.conns.length).toBe(200);
  });
});

/**
 * A minute at 200/s, as `faultline load` hands it over: 12,000 deliveries, 60,000 statements
 * on 8 pooled sessions, 42703 → ROLLBACK on a quarter of requests, one session stuck aborted.
 */
function largeLoad(): ScenarioResult {
  const deliveries: ScenarioResult["deliveries"] = [];
  const trace: TraceEntry[] = [];
  for (let i = 0; i < 12_000; i++) {
    const at = i * 5;
    const failing = i % 4 === 0;
    const conn = (i % 8) + 1;
    deliveries.push({
      index: i,
      label: `load ${i}`,
      eventId: `evt_${i}`,
      type: "checkout.session.completed",
      attempt: 1,
      status: failing ? 500 : 200,
      responseBody: "",
      startedAt: new Date(T0 + at),
      finishedAt: new Date(T0 + at + 4),
    });
    if (conn === 8 && i > 6000) {
      for (let k = 0; k < 5; k++) trace.push(entry(conn, at + k * 0.5, "25P02", "E"));
      continue;
    }
    trace.push(entry(conn, at, "ok", "T"));
    trace.push(entry(conn, at + 0.5, failing ? "42703" : "ok", failing ? "E" : "T"));
    trace.push(entry(conn, at + 1, "ok", failing ? "I" : "T"));
    trace.push(entry(conn, at + 1.5, "ok", "T"));
    trace.push(entry(conn, at + 2, "ok", "I"));
  }
  return failedResult([], {
    deliveries,
    trace,
    faults: Array.from({ length: 600 }, (_, i) => ({
      conn: 1,
      rule: "r",
      fault: "sqlError",
      sql: "SELECT 1",
      at: iso(i * 100),
    })),
  });
}

describe("a large load's report", () => {
  it("counts 60,000 statements into a page of well under a few MB, quickly", () => {
    const result = largeLoad();
    expect(result.trace?.length).toBe(60_000);
    const started = performance.now();
    const html = toHtmlReport({ title: "load", sides: [{ label: "load", results: [result] }] });
    const ms = performance.now() - started;
    console.log(
      `large report: 12,000 deliveries, 60,000 statements → ${(html.length / 1024).toFixed(0)} KiB in ${ms.toFixed(0)} ms`,
    );
    expect(html.length).toBeLessThan(1_000_000);
    expect(ms).toBeLessThan(5_000);

    const charts = pageData(html).sides[0].results[0].charts;
    expect(charts.bucketMs).toBe(500);
    expect(charts.bucketedLanes).toBe(true);
    // Every delivery and error counted.
    const total = (label: string) =>
      charts.series
        .find((s: { label: string }) => s.label === label)
        .counts.reduce((a: number, b: number) => a + b, 0);
    expect(Math.round(total("HTTP 200") + total("HTTP 500"))).toBe(12_000);
    expect(Math.round(total("SQLSTATE 25P02"))).toBe(5 * 750);
    expect(charts.lanes).toHaveLength(8);
    for (const lane of charts.lanes) expect(lane.runs.length).toBeLessThanOrEqual(121);
    // The stuck session's aborted half-minute is one solid band; the pooled sessions that
    // recovered after each 42703 show faint merged stretches, not a thousand slivers.
    const stuck = charts.lanes.find((l: { conns: number[] }) => l.conns[0] === 8);
    expect(stuck.aborted.at(-1)).toMatchObject({ open: true, share: 1 });
    expect(stuck.aborted.at(-1).to - stuck.aborted.at(-1).from).toBeGreaterThan(29);
    const pooled = charts.lanes.find((l: { conns: number[] }) => l.conns[0] === 1);
    expect(pooled.aborted.length).toBeLessThan(200);
    expect(pooled.aborted.every((a: { share: number }) => a.share < 1)).toBe(true);
    // Mixed buckets keep their counts, so a few errors among many oks still show.
    const mixed = pooled.runs.find((r: { mix?: unknown }) => r.mix);
    expect(mixed.mix.error).toBeGreaterThan(0);
    expect(mixed.mix.ok).toBeGreaterThan(mixed.mix.error);
  });
});

describe("loadSummaryOf", () => {
  it("takes the panel's figures from a load result", () => {
    const latency = { count: 10, p50: 1, p90: 2, p95: 2.5, p99: 3, "p99.9": 4, max: 5, avg: 1 };
    const result = {
      requestedRate: 200,
      load: {
        achievedRate: 190,
        sent: 100,
        acked: 99,
        late: 3,
        dropped: 1,
        latency,
        byStatus: { "200": 99, "500": 1 },
      },
      thresholds: [{ threshold: "p99<300ms", passed: true, actual: "3ms" }],
      proxy: { busyMs: 10, busyPercent: 12.5 },
      rateNotHeld: "could not hold",
    } as unknown as LoadResult;
    expect(loadSummaryOf(result)).toEqual({
      requestedRate: 200,
      achievedRate: 190,
      sent: 100,
      acked: 99,
      late: 3,
      dropped: 1,
      latency: { p50: 1, p90: 2, p99: 3, p999: 4, max: 5 },
      byStatus: { "200": 99, "500": 1 },
      thresholds: [{ source: "p99<300ms", passed: true, actual: "3ms" }],
      proxyBusyPercent: 12.5,
      rateNotHeld: "could not hold",
    });
  });
});

describe("evidence", () => {
  it("shows an invariant's first 200 lines of evidence and says how many more there are", () => {
    const evidence = Array.from({ length: 2500 }, (_, i) => `undelivered #${i}`);
    const shown = pageData(
      toHtmlReport({ title: "t", sides: [{ label: "x", results: [failedResult(evidence)] }] }),
    ).sides[0].results[0].invariants[0].evidence;
    expect(shown).toHaveLength(201);
    expect(shown[199]).toBe("undelivered #199");
    expect(shown[200]).toBe("… and 2300 more lines (all of them in --json)");
  });
});
