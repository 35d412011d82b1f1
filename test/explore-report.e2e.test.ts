import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Locator } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Candidate, type ExploreReport, exploreHtml } from "../harness/explore/index.ts";
import { launchChromium } from "./browser.ts";
import { ROOT } from "./cli.ts";

// Debian's chromium package, as test/html-report.e2e.test.ts opens it.
// Gitignored; the screenshots stay here after the run for a person to look at.
const OUT = path.join(ROOT, "test-output", "explore-report");

let browser: Browser;

/** The browser globals the test reads inside the page (the tsconfig has no DOM lib). */
interface PageGlobals {
  getComputedStyle(element: unknown): { backgroundColor: string };
  location: { hash: string };
  innerHeight: number;
  scrollY: number;
}
const background = (cell: Locator) =>
  cell.evaluate(
    (el) => (globalThis as unknown as PageGlobals).getComputedStyle(el).backgroundColor,
  );

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

const SELECT =
  "SELECT id, credits_balance FROM users WHERE email = $1 AND note <> 'a&b' /* hint */";
const INSERT =
  "INSERT INTO credit_grants (user_id, credits) SELECT id, ? FROM users WHERE credits < 0 AND name = 'O''Brien & co'";
const KINDS = ["undefined-column", "serialization-failure", "deadlock", "statement-timeout"];
const OUTCOMES = ["survived", "failed safe", "survived", "errored"] as const;

/** Enough candidates that the evidence runs pages below the matrix: a click must scroll. */
function report(): ExploreReport {
  const candidates: Candidate[] = [];
  const targets = [
    "public.users.credits_balance",
    SELECT,
    INSERT,
    "COMMIT",
    ...Array.from({ length: 8 }, (_, i) => `UPDATE users SET n = n + ? WHERE id = $${i + 1}`),
  ];
  for (const [t, target] of targets.entries())
    for (const [k, kind] of KINDS.entries()) {
      const id = candidates.length + 1;
      const harmful = target === INSERT && kind === "deadlock";
      candidates.push({
        id,
        scenario: "credits-balance-present",
        fault: { kind, target, rules: [], drift: [] },
        outcome: harmful ? "harmful" : OUTCOMES[(t + k) % OUTCOMES.length],
        failed: harmful ? ["noCascade"] : [],
        ...(harmful
          ? {
              seen: "noCascade: seen 5 × 25P02 after <42703>",
              file: "faultline/found/credits-balance-present-deadlock-insert.scenario.ts",
              webhooks: { kept: 1, of: 4 },
            }
          : {}),
      });
    }
  return {
    candidates,
    sites: targets.length - 1,
    columns: 1,
    pruned: [],
    failedClean: [],
    notRun: 0,
    ms: 61_000,
  };
}

describe("explore --html page", () => {
  it("draws the matrix, and a harmful cell leads to that candidate's evidence", async () => {
    const explored = report();
    const file = path.join(OUT, "explore.html");
    writeFileSync(file, exploreHtml(explored, { command: "faultline explore scenarios" }));
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
    const screenshot = path.join(OUT, "explore.png");
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(`explore report screenshot: ${screenshot}`);
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);

    const cells = page.locator("table.matrix a.cell");
    await expect(cells.count()).resolves.toBe(explored.candidates.length);
    await expect(page.locator("table.matrix tbody th").nth(1).textContent()).resolves.toBe(SELECT);
    const harmful = page.locator("table.matrix a.cell.o-harmful");
    await expect(harmful.count()).resolves.toBe(1);
    await expect(harmful.textContent()).resolves.toBe("HARMFUL");
    // Drawn red, the survivors green: the colours the legend promises, besides the labels.
    await expect(background(harmful)).resolves.toBe("rgb(198, 40, 40)");
    await expect(background(page.locator("table.matrix a.cell.o-survived").first())).resolves.toBe(
      "rgb(201, 235, 205)",
    );

    const finding = explored.candidates.find((c) => c.outcome === "harmful") as Candidate;
    await harmful.click();
    await expect(
      page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash),
    ).resolves.toBe(`#c${finding.id}`);
    const target = page.locator(":target");
    await expect(target.getAttribute("id")).resolves.toBe(`c${finding.id}`);
    await expect(target.isVisible()).resolves.toBe(true);
    const inView = await target.evaluate((el) => {
      const { innerHeight, scrollY } = globalThis as unknown as PageGlobals;
      const box = el.getBoundingClientRect();
      // The browser scrolls it to the top, give or take a subpixel.
      return box.top > -1 && box.top < innerHeight && scrollY > 0;
    });
    expect(inView).toBe(true);
    const evidence = (await target.textContent()) ?? "";
    expect(evidence).toContain(`deadlock at ${INSERT}`);
    expect(evidence).toContain("noCascade: seen 5 × 25P02 after <42703>");
    expect(evidence).toContain("credits-balance-present-deadlock-insert.scenario.ts");
    expect(evidence).toMatch(/webhooks kept\s*1 of 4/);
    await page.screenshot({ path: path.join(OUT, "explore-evidence.png") });
    await page.close();
  });
});
