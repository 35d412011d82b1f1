import { describe, expect, it } from "vitest";
import { parseThreshold } from "./parse.ts";
import { evaluateThresholds, newLatencyHistogram, summarize } from "./stats.ts";

describe("latency histogram", () => {
  it("reports percentiles in ms within HdrHistogram's 3 digits", () => {
    const h = newLatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) h.recordValue(ms * 1000);
    const s = summarize(h);
    expect(s.count).toBe(1000);
    expect(s.p50).toBeCloseTo(500, -1);
    expect(s.p99).toBeCloseTo(990, -1);
    expect(s["p99.9"]).toBeCloseTo(999, -1);
    expect(s.max).toBeCloseTo(1000, -1);
  });

  it("keeps a stall's tail: one 2 s latency among fast ones shows at max and p99.9", () => {
    const h = newLatencyHistogram();
    for (let i = 0; i < 999; i++) h.recordValue(2000);
    h.recordValue(2_000_000);
    const s = summarize(h);
    expect(s.p50).toBeCloseTo(2, 1);
    expect(s.max).toBeGreaterThan(1990);
  });
});

describe("evaluateThresholds", () => {
  const latency = {
    count: 10,
    p50: 50,
    p90: 90,
    p95: 95,
    p99: 120,
    "p99.9": 300,
    max: 400,
    avg: 60,
  };
  const judge = (t: string, errorPercent = 0, achievedRate = 200) =>
    evaluateThresholds([parseThreshold(t)], { latency, errorPercent, achievedRate })[0];

  it("passes and fails latency thresholds on the edge as k6 does", () => {
    expect(judge("p99<300ms")).toMatchObject({ passed: true, actual: "120ms" });
    expect(judge("p99<120ms")?.passed).toBe(false);
    expect(judge("p99<=120ms")?.passed).toBe(true);
    expect(judge("max<0.3s")?.passed).toBe(false);
  });

  it("judges error share and achieved rate", () => {
    expect(judge("errors<0.1%", 0.05)?.passed).toBe(true);
    expect(judge("errors<0.1%", 0.1)?.passed).toBe(false);
    expect(judge("rate>=190/s", 0, 189.9)).toMatchObject({ passed: false, actual: "189.9/s" });
    expect(judge("rate>=190/s", 0, 195)?.passed).toBe(true);
  });
});

describe("percentiles never above the maximum", () => {
  it("clamps a percentile's bucket top to the exact maximum", () => {
    const histogram = newLatencyHistogram();
    for (const us of [12_863, 44_479, 55_519, 57_962]) histogram.recordValue(us);
    const summary = summarize(histogram);
    expect(summary.max).toBe(57.962);
    expect(summary["p99.9"]).toBeLessThanOrEqual(summary.max);
    expect(summary.p99).toBeLessThanOrEqual(summary.max);
  });
});
