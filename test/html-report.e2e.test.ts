import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHtmlReport } from "../harness/index.ts";
import { loadSummaryOf } from "../harness/report/index.ts";
import { launchChromium } from "./browser.ts";
import { ROOT, runCli } from "./cli.ts";

// Debian's chromium package; the report is judged by what a real browser draws.
// Gitignored; the screenshots stay here after the run for a person to look at.
const OUT = path.join(ROOT, "test-output", "html-report");

interface Lane {
  result: string;
  conn: number;
  runs: { from: number; to: number; result: string; sqlstate?: string; count: number }[];
  aborted: { from: number; to: number; share: number }[];
}

let browser: Browser;

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** Open the report offline; what the console said and which requests it tried to make. */
async function open(file: string, screenshot: string) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) requests.push(r.url());
  });
  const started = Date.now();
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => (globalThis as { faultlineReport?: unknown }).faultlineReport);
  const openMs = Date.now() - started;
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`html report screenshot: ${screenshot}`);
  return { page, consoleErrors, requests, openMs };
}

describe("--html", () => {
  it("draws the flagship's broken run: timeline, the 42703 → 25P02 lane, verdicts", async () => {
    const file = path.join(OUT, "broken-run.html");
    const run = await runCli([
      "run",
      "scenarios/credits-balance-missing.scenario.ts",
      "--service",
      "payments:broken",
      "--html",
      file,
    ]);
    expect(run.code, run.stderr).toBe(1);
    const { page, consoleErrors, requests } = await open(file, path.join(OUT, "broken-run.png"));
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);

    // First on the page, under the title (once): the waterfall of deliveries.
    await expect(page.locator("h1").allTextContents()).resolves.toEqual(["faultline run"]);
    await expect(page.locator("h2").count()).resolves.toBe(0);
    const first = await page.locator("h1 + #story > :first-child").getAttribute("class");
    expect(first).toContain("story-columns");
    const waterfall = page.locator("section.waterfall").first();
    await expect(waterfall.boundingBox()).resolves.toMatchObject({ y: expect.any(Number) });
    const deliveries = waterfall.locator(".wf-row.wf-delivery");
    await expect(deliveries.count()).resolves.toBe(4);
    // The failing delivery holds the 42703, marked as the cause, and the 25P02s it aborted.
    const causeRow = waterfall.locator(".wf-statement[data-role=cause]");
    await expect(causeRow.count()).resolves.toBe(1);
    await expect(causeRow.getAttribute("data-sqlstate")).resolves.toBe("42703");
    await expect(causeRow.textContent()).resolves.toMatch(
      /CAUSE.*credits_balance.*42703 undefined_column/,
    );
    const cascadeRows = waterfall.locator(".wf-statement[data-role=cascade]");
    expect(await cascadeRows.count()).toBeGreaterThanOrEqual(3);
    expect(
      new Set(
        await cascadeRows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-sqlstate"))),
      ),
    ).toEqual(new Set(["25P02"]));
    // The cause sits under its delivery, the first, which is marked; later ones as the cascade.
    const roles = await waterfall
      .locator(".wf-row")
      .evaluateAll((rows) =>
        rows
          .filter((r) => r.matches(".wf-delivery, .wf-statement[data-role]"))
          .map((r) =>
            r.matches(".wf-delivery")
              ? `#${r.getAttribute("data-n")}:${r.getAttribute("data-role") ?? ""}`
              : r.getAttribute("data-role"),
          ),
      );
    expect(roles.slice(0, 2)).toEqual(["#1:cause", "cause"]);
    expect(roles.slice(2)).toContain("#2:cascade");
    await expect(waterfall.locator(".wf-summary").textContent()).resolves.toMatch(
      /Cause: 42703 undefined_column while handling #1.*\d+ later statements? in \d+ deliver/,
    );

    // Legends name their series and nothing else: no "s: --" entry for the time axis.
    const legend = await page.locator(".u-legend .u-series").allTextContents();
    expect(legend.length).toBeGreaterThan(0);
    expect(legend.filter((l) => l.trim() === "" || l.includes("--"))).toEqual([]);
    // A 50 ms run's axes count milliseconds, and its timeline counts per bucket, not per second.
    const timelineHeading = await page
      .locator("h4", { hasText: "Webhooks by HTTP status" })
      .textContent();
    expect(timelineHeading).toMatch(/per \d+ ms/);
    const axisLabels = await page.evaluate(() =>
      (
        globalThis as unknown as { faultlineReport: { charts: { axes: { label?: string }[] }[] } }
      ).faultlineReport.charts.map((c) => c.axes.map((a) => a.label)),
    );
    expect(axisLabels[0]?.[0]).toBe("ms since the run's first event");
    expect(axisLabels[0]?.[1]).toMatch(/^count per \d+ ms$/);

    // uPlot drew a canvas for the timeline and one for the swimlane.
    expect(await page.locator(".chart.timeline canvas").count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator(".chart.swimlane canvas").count()).toBeGreaterThanOrEqual(1);
    const seriesLabels = await page.locator(".chart.timeline .u-legend .u-label").allTextContents();
    expect(seriesLabels).toEqual(expect.arrayContaining(["SQLSTATE 42703", "SQLSTATE 25P02"]));
    expect(seriesLabels.some((l) => /^HTTP 5\d\d$/.test(l))).toBe(true);

    // The chart's own data, not just the page's: the timeline has non-zero deliveries.
    const timelineSums = await page.evaluate(() => {
      const report = (
        globalThis as unknown as { faultlineReport: { charts: { data: number[][] }[] } }
      ).faultlineReport;
      return report.charts[0]?.data.slice(1).map((ys) => ys.reduce((a, b) => a + (b ?? 0), 0));
    });
    expect(timelineSums?.some((s) => s > 0)).toBe(true);

    const lanes = await page.evaluate(
      () => (globalThis as unknown as { faultlineReport: { lanes: Lane[] } }).faultlineReport.lanes,
    );
    const cascade = lanes.find((lane) => {
      const codes = lane.runs.map((m) => m.sqlstate);
      const first = codes.indexOf("42703");
      return first >= 0 && codes.slice(first + 1).includes("25P02") && lane.aborted.length > 0;
    });
    expect(cascade, JSON.stringify(lanes.map((l) => l.runs.map((m) => m.sqlstate)))).toBeDefined();
    const start = cascade?.runs.find((m) => m.sqlstate === "42703")?.from ?? 0;
    expect(cascade?.aborted.some((a) => a.from <= start && a.to > start && a.share === 1)).toBe(
      true,
    );

    await expect(page.locator("article.result[data-verdict=fail]").count()).resolves.toBe(1);
    const verdicts = await page.locator("table.invariants td.verdict-fail").count();
    expect(verdicts).toBeGreaterThan(0);
    await page.close();
  });

  it("gate: baseline and candidate side by side", async () => {
    const file = path.join(OUT, "gate.html");
    const run = await runCli([
      "gate",
      "scenarios/credits-balance-missing.scenario.ts",
      "--baseline",
      "payments:broken",
      "--candidate",
      "payments:fixed",
      "--html",
      file,
    ]);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const { page, consoleErrors, requests } = await open(file, path.join(OUT, "gate.png"));
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    const sides = await page.locator("section.side > h2").allTextContents();
    expect(sides).toEqual([
      expect.stringMatching(/^baseline: /),
      expect.stringMatching(/^candidate: /),
    ]);
    // BEFORE and AFTER side by side, the SQLSTATEs and statuses counted across.
    const deltas = page.locator("section.comparison li.delta");
    await expect(
      deltas.locator("xpath=self::*[@data-sqlstate='25P02']").textContent(),
    ).resolves.toMatch(/^25P02 in_failed_sql_transaction: [1-9]\d* → 0$/);
    await expect(
      page.locator("section.comparison li[data-status='500']").textContent(),
    ).resolves.toMatch(/^HTTP 500: [1-9]\d* → 0$/);
    await expect(page.locator(".story-side > h2").allTextContents()).resolves.toEqual([
      expect.stringMatching(/^BEFORE baseline: /),
      expect.stringMatching(/^AFTER candidate: /),
    ]);
    const [before, after] = [0, 1].map((i) => page.locator(".story-side").nth(i));
    await expect(before?.locator(".wf-statement[data-role=cause]").count()).resolves.toBe(1);
    await expect(after?.locator(".wf-statement[data-role]").count()).resolves.toBe(0);
    await expect(after?.locator(".wf-summary").textContent()).resolves.toMatch(
      /Nothing was aborted/,
    );
    const [beforeBox, afterBox] = await Promise.all([before?.boundingBox(), after?.boundingBox()]);
    expect(afterBox?.x ?? 0).toBeGreaterThan((beforeBox?.x ?? 0) + (beforeBox?.width ?? 0) - 1);

    const baseline = page.locator("section.side").nth(0);
    const candidate = page.locator("section.side").nth(1);
    await expect(baseline.locator("article.result[data-verdict=fail]").count()).resolves.toBe(1);
    await expect(candidate.locator("article.result[data-verdict=pass]").count()).resolves.toBe(1);
    expect(await candidate.locator(".chart.swimlane canvas").count()).toBeGreaterThanOrEqual(1);
    const [left, right] = await Promise.all([baseline.boundingBox(), candidate.boundingBox()]);
    expect(right?.x ?? 0).toBeGreaterThan((left?.x ?? 0) + (left?.width ?? 0) - 1);
    await page.close();
  });

  it("draws a load run's latency percentiles over time and warns of a rate not held", async () => {
    // A series and figures of the load command's shape, the warnings' cases all present.
    const latency = Array.from({ length: 60 }, (_, t) => ({
      t,
      p50: 20 + t,
      p90: 40 + t,
      p99: 90 + 2 * t,
    }));
    const load = {
      requestedRate: 2000,
      achievedRate: 1500,
      sent: 100_000,
      acked: 90_000,
      late: 9_000,
      dropped: 20,
      latency: { p50: 20, p90: 40, p99: 150, p999: 300, max: 900 },
      byStatus: { "200": 90_000, "500": 9_000 },
      thresholds: [],
      proxyBusyPercent: 93,
      rateNotHeld: "the generator could not hold 2000/s",
    };
    const file = path.join(OUT, "latency.html");
    writeFileSync(
      file,
      toHtmlReport({
        title: "faultline load",
        sides: [{ label: "load", results: [], latency, load }],
      }),
    );
    const { page, consoleErrors, requests } = await open(file, path.join(OUT, "latency.png"));
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator(".chart.latency canvas").count()).toBeGreaterThanOrEqual(1);
    const labels = await page.locator(".chart.latency .u-legend .u-label").allTextContents();
    expect(labels).toEqual(expect.arrayContaining(["p50", "p90", "p99"]));
    const panel = page.locator(".load-panel");
    await expect(panel.locator(".rate-not-held").textContent()).resolves.toContain(
      "could not hold 2000/s",
    );
    await expect(panel.locator(".service-behind").count()).resolves.toBe(1);
    await expect(panel.locator(".proxy-bound").count()).resolves.toBe(1);
    await expect(panel.textContent()).resolves.toMatch(/never answered\s*1,000/);
    await page.close();
  });

  it("a load of thousands of requests: small file, quick to open, every chart with data, resizes", async () => {
    const file = path.join(OUT, "load-large.html");
    const json = path.join(OUT, "load-large.json");
    const run = await runCli([
      "load",
      "scenarios/credits-balance-hotfix.scenario.ts",
      "--cell",
      "schema=credits_balance missing",
      "--service",
      "payments:fixed",
      "--rate",
      "150/s",
      "--duration",
      "20s",
      // One threshold no run meets and one every run does: the panel shows both verdicts.
      "--threshold",
      "p99<0.001ms",
      "--threshold",
      "errors<=100%",
      "--quiet",
      "--json",
      json,
      "--html",
      file,
    ]);
    expect(run.code, run.stderr + run.stdout).toBe(1);
    const result = JSON.parse(readFileSync(json, "utf8"));
    expect(result.load.sent).toBeGreaterThan(2500);
    // How many the service answers depends on the machine (40,000 statements when idle, 8,000
    // with other suites running); the open model sends them all regardless.
    expect(result.statements).toBeGreaterThan(2_000);
    const bytes = statSync(file).size;
    const { page, consoleErrors, requests, openMs } = await open(
      file,
      path.join(OUT, "load-large.png"),
    );
    const renderMs = await page.evaluate(
      () =>
        (globalThis as unknown as { faultlineReport: { renderMs: number } }).faultlineReport
          .renderMs,
    );
    console.log(
      `large load report: ${result.load.sent} requests, ${result.statements} statements → ${(bytes / 1024).toFixed(0)} KiB; opened in ${openMs} ms (script done ${renderMs.toFixed(0)} ms after navigation)`,
    );
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    expect(bytes).toBeLessThan(3_000_000);
    expect(openMs).toBeLessThan(5_000);

    // Each chart's own data: deliveries per second, latency points, lanes with runs.
    const charts = await page.evaluate(() => {
      const report = (
        globalThis as unknown as {
          faultlineReport: {
            charts: {
              data: (number | null)[][];
              width: number;
              root: { parentElement: { className: string } | null };
            }[];
          };
        }
      ).faultlineReport;
      return report.charts.map((c) => ({
        kind: c.root.parentElement?.className ?? "",
        sums: c.data.slice(1).map((ys) => ys.reduce<number>((a, b) => a + (b ?? 0), 0)),
        width: c.width,
      }));
    });
    const kind = (name: string) => charts.find((c) => c.kind.includes(name));
    expect(kind("latency")?.sums.every((s) => s > 0)).toBe(true);
    expect(kind("timeline")?.sums.some((s) => s > 0)).toBe(true);
    const lanes = await page.evaluate(
      () => (globalThis as unknown as { faultlineReport: { lanes: Lane[] } }).faultlineReport.lanes,
    );
    expect(lanes.reduce((n, l) => n + l.runs.reduce((m, r) => m + r.count, 0), 0)).toBe(
      result.statements,
    );

    // The charts follow the window.
    await page.setViewportSize({ width: 800, height: 900 });
    await page.waitForFunction(
      (before) =>
        (
          globalThis as unknown as { faultlineReport: { charts: { width: number }[] } }
        ).faultlineReport.charts.every((c) => c.width < before - 300),
      Math.min(...charts.map((c) => c.width)),
    );
    await page.close();

    // The summary panel from the same run's figures, as `load --html` passes them.
    const panelFile = path.join(OUT, "load-panel.html");
    writeFileSync(
      panelFile,
      toHtmlReport({
        title: "faultline load",
        sides: [
          {
            label: "payments:fixed at 150/s",
            results: [],
            latency: result.seconds,
            load: loadSummaryOf(result),
          },
        ],
      }),
    );
    const panel = await open(panelFile, path.join(OUT, "load-panel.png"));
    expect(panel.consoleErrors).toEqual([]);
    const text = await panel.page.locator(".load-panel").textContent();
    expect(text).toContain("150/s");
    expect(text).toContain(`${result.load.sent.toLocaleString("en")}`);
    expect(text).toMatch(/p99\.9\s*[\d.,]+ ms/);
    await expect(panel.page.locator(".load-panel .threshold-fail").textContent()).resolves.toMatch(
      /FAIL/,
    );
    await expect(panel.page.locator(".load-panel .threshold-pass").count()).resolves.toBe(1);
    await expect(panel.page.locator(".load-panel .rate-not-held").count()).resolves.toBe(
      result.rateNotHeld ? 1 : 0,
    );
    await panel.page.close();
  });
});
