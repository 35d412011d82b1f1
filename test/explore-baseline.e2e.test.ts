import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

// A gate on a service that already has weak points: main's explore report is the baseline, and
// a pull request fails only on a harmful finding that report does not have.
const PRESENT = path.join(ROOT, "scenarios", "credits-balance-present.scenario.ts");
// On the broken service every undefined-column site cascades, so the first candidate alone is
// a finding to compare.
const EXPLORE = [
  "explore",
  PRESENT,
  "--service",
  "payments:broken",
  "--faults",
  "undefined-column",
  "--max-runs",
  "1",
  "--quiet",
];

interface Report {
  faultline: number;
  command: string;
  candidates: { fault: { kind: string; target: string }; outcome: string }[];
}

let dir: string;
let mainReport: Report;
const mainJson = () => path.join(dir, "main-explore.json");

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-explore-baseline-"));
  const first = await runCli([
    ...EXPLORE,
    "--out",
    path.join(dir, "found-main"),
    "--json",
    mainJson(),
    "--junit",
    path.join(dir, "reports", "explore.xml"),
    "--html",
    path.join(dir, "reports", "explore.html"),
  ]);
  expect(first.stderr).toBe("");
  expect(first.code).toBe(1);
  mainReport = JSON.parse(await readFile(mainJson(), "utf8")) as Report;
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("faultline explore --baseline-report", () => {
  it("writes --junit and --html beside --json, each naming the harmful finding", async () => {
    const harmful = mainReport.candidates.filter((c) => c.outcome === "harmful");
    expect(harmful).toHaveLength(1);
    const target = harmful[0]?.fault.target as string;
    const junit = await readFile(path.join(dir, "reports", "explore.xml"), "utf8");
    expect(junit).toMatch(/<testsuite name="faultline explore"[^>]* tests="1" failures="1"/);
    expect(junit).toContain(`name="undefined-column at ${target}"`);
    const html = await readFile(path.join(dir, "reports", "explore.html"), "utf8");
    expect(html).toContain("undefined-column");
    expect(html).toMatch(/class="cell o-harmful" href="#c\d+"/);
  });

  it("passes when every harmful finding is in the baseline, and lists them as known", async () => {
    const run = await runCli([
      ...EXPLORE,
      "--out",
      path.join(dir, "found-pr"),
      "--baseline-report",
      mainJson(),
    ]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^HARMFUL {2}undefined-column at /m);
    expect(run.stdout).toMatch(/^known {4}undefined-column at .* \(in .*main-explore\.json\)$/m);
    expect(run.stdout).toMatch(/^against .*main-explore\.json: 0 new harmful, 1 known, 0 fixed$/m);
    // Main has filed it: not shrunk, not written again.
    expect(run.stdout).toContain("not shrunk or written again");
    expect(existsSync(path.join(dir, "found-pr"))).toBe(false);
    expect(run.code).toBe(0);
  }, 120_000);

  it("fails on a harmful finding the baseline does not have, and says which is new", async () => {
    const clean = path.join(dir, "clean-explore.json");
    await writeFile(clean, JSON.stringify({ ...mainReport, candidates: [] }));
    const run = await runCli([
      ...EXPLORE,
      "--out",
      path.join(dir, "found-new"),
      "--baseline-report",
      clean,
    ]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatch(/^NEW {6}undefined-column at .* {2}→ noCascade: /m);
    expect(run.stdout).toMatch(/: 1 new harmful, 0 known, 0 fixed$/m);
    expect(run.stdout).toMatch(/^ {9}written: /m);
    expect(run.code).toBe(1);
  }, 120_000);

  it("refuses a baseline that is not an explore report, naming the file and the field, before running anything", async () => {
    const wrong = path.join(dir, "run-report.json");
    await writeFile(wrong, JSON.stringify({ faultline: 1, command: "run", scenarios: [] }));
    const run = await runCli([
      ...EXPLORE,
      "--out",
      path.join(dir, "unused"),
      "--baseline-report",
      wrong,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${wrong}: command: expected "explore", found "run"`);
    expect(run.stdout).not.toMatch(/^explored /m);
    const missing = await runCli([
      ...EXPLORE,
      "--baseline-report",
      path.join(dir, "no-such-report.json"),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      "no-such-report.json: cannot read the baseline explore report",
    );
  });
});
