import { describe, expect, it } from "vitest";
import { toHtmlReport } from "./html.ts";
import { failedResult } from "./sample-results.ts";

function pageData(html: string) {
  const match = /<script id="faultline-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  if (!match?.[1]) throw new Error("no data script in the page");
  return JSON.parse(match[1]);
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

  it("carries the trace, the faults and a latency series to the page", () => {
    const result = failedResult([], {
      faults: [
        { conn: 1, rule: "r", fault: "sqlError", sql: "SELECT 1", at: "2026-01-01T00:00:00.500Z" },
      ],
    });
    result.trace = [
      {
        conn: 1,
        at: "2026-01-01T00:00:00.400Z",
        sql: "SELECT 1",
        kind: "simple",
        durationMs: 1,
        result: { sqlstate: "42703", message: "no column" },
        tx: "E",
        database: "d",
        applicationName: "a",
      },
    ];
    const latency = [{ t: 1, p50: 2, p90: 3, p99: 4 }];
    const side = pageData(
      toHtmlReport({ title: "t", sides: [{ label: "x", results: [result], latency }] }),
    ).sides[0];
    expect(side.latency).toEqual(latency);
    expect(side.results[0].faults[0].at).toBe(Date.parse("2026-01-01T00:00:00.500Z"));
    expect(side.results[0].trace[0]).toMatchObject({
      conn: 1,
      result: "error",
      sqlstate: "42703",
      tx: "E",
    });
  });
});
