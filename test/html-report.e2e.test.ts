import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHtmlReport } from "../harness/index.ts";
import { ROOT, runCli } from "./cli.ts";

// Debian's chromium package; the report is judged by what a real browser draws.
const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? "/usr/bin/chromium";
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
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install -y --no-install-recommends chromium) or set FAULTLINE_CHROMIUM`,
    );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox"],
  });
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
  await page.goto(pathToFileURL(file).href);
  await page.waitForFunction(() => (globalThis as { faultlineReport?: unknown }).faultlineReport);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`html report screenshot: ${screenshot}`);
  return { page, consoleErrors, requests };
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
    const baseline = page.locator("section.side").nth(0);
    const candidate = page.locator("section.side").nth(1);
    await expect(baseline.locator("article.result[data-verdict=fail]").count()).resolves.toBe(1);
    await expect(candidate.locator("article.result[data-verdict=pass]").count()).resolves.toBe(1);
    expect(await candidate.locator(".chart.swimlane canvas").count()).toBeGreaterThanOrEqual(1);
    const [left, right] = await Promise.all([baseline.boundingBox(), candidate.boundingBox()]);
    expect(right?.x ?? 0).toBeGreaterThan((left?.x ?? 0) + (left?.width ?? 0) - 1);
    await page.close();
  });

  it("draws a load run's latency percentiles over time", async () => {
    // The load command passes this series; until it exists, a series of its shape.
    const latency = Array.from({ length: 60 }, (_, t) => ({
      t,
      p50: 20 + t,
      p90: 40 + t,
      p99: 90 + 2 * t,
    }));
    const file = path.join(OUT, "latency.html");
    writeFileSync(
      file,
      toHtmlReport({ title: "faultline load", sides: [{ label: "load", results: [], latency }] }),
    );
    const { page, consoleErrors, requests } = await open(file, path.join(OUT, "latency.png"));
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await page.locator(".chart.latency canvas").count()).toBeGreaterThanOrEqual(1);
    const labels = await page.locator(".chart.latency .u-legend .u-label").allTextContents();
    expect(labels).toEqual(expect.arrayContaining(["p50", "p90", "p99"]));
    await page.close();
  });
});
