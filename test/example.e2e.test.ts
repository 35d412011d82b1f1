import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPython } from "../examples/python-billing/python.ts";
import { type CliRun, runCli } from "./cli.ts";

// Any service, through its own faultline.config.ts: the Python billing example has another
// stack, schema (dbmate migrations), route, readiness path and environment names than the
// bundled payments service, and the CLI must judge it with the same invariants.
const CONFIG = "examples/python-billing/faultline.config.ts";
const SCENARIOS = [
  "bad-signatures",
  "invoice-redelivery",
  "tax-column-missing",
  "tax-column-present",
];

interface JsonReport {
  exitCode: number;
  scenarios: {
    name: string;
    verdict: string;
    invariants: { name: string; passed: boolean; evidence: string[] }[];
    deliveries: { status: number }[];
    error?: { message: string };
  }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-example-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(label: string, extra: string[]): Promise<{ run: CliRun; report: JsonReport }> {
  const json = path.join(dir, `${label}.json`);
  // PYTHON: a python3 with psycopg2 (Debian's /usr/bin/python3 when the one on PATH lacks it).
  const cli = await runCli(["run", "--config", CONFIG, ...extra, "--json", json], {
    PYTHON: findPython(),
  });
  const report = JSON.parse(
    await readFile(json, "utf8").catch(() => {
      throw new Error(`no JSON report (exit ${cli.code}):\n${cli.stdout}\n${cli.stderr}`);
    }),
  ) as JsonReport;
  return { run: cli, report };
}

function scenario(report: JsonReport, name: string) {
  const found = report.scenarios.find((s) => s.name === name);
  if (!found) throw new Error(`no scenario ${name} in ${report.scenarios.map((s) => s.name)}`);
  return found;
}

describe("examples/python-billing through its faultline.config.ts", () => {
  it("passes every scenario against the hotfixed service", async () => {
    const { run: cli, report } = await run("fixed", []);
    expect(cli.code, `${cli.stdout}\n${cli.stderr}`).toBe(0);
    expect(report.scenarios.map((s) => s.name).sort()).toEqual(SCENARIOS);
    for (const s of report.scenarios) expect(s.verdict, s.name).toBe("pass");
    // The cascade scenario really hit the missing column and went on: every webhook landed.
    expect(scenario(report, "tax-column-missing").deliveries.map((d) => d.status)).toEqual([
      200, 200, 200,
    ]);
    expect(scenario(report, "bad-signatures").deliveries.map((d) => d.status)).toEqual([
      400, 400, 400, 200,
    ]);
  });

  it("reproduces the 25P02 cascade against the pre-hotfix service", async () => {
    const { run: cli, report } = await run("broken", [
      "--service",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it
      'BILLING_VARIANT=broken exec "${PYTHON:-python3}" app.py',
    ]);
    expect(cli.code, `${cli.stdout}\n${cli.stderr}`).toBe(1);
    const missing = scenario(report, "tax-column-missing");
    expect(missing.verdict).toBe("fail");
    expect(missing.deliveries.map((d) => d.status)).toEqual([500, 500, 500]);
    const verdict = (name: string) => missing.invariants.find((i) => i.name === name)?.passed;
    expect(verdict("noCascade")).toBe(false);
    expect(verdict("processingContinues")).toBe(false);
    expect(verdict("noAbortedIdleConnections")).toBe(false);
    expect(verdict("rollsBackAfterError")).toBe(false);
    // Postgres's own log: the swallowed 42703 on tax_cents, then 25P02 for what followed.
    const evidence = missing.invariants.find((i) => i.name === "noCascade")?.evidence ?? [];
    expect(evidence.some((e) => e.includes("42703") && e.includes("tax_cents"))).toBe(true);
    expect(evidence.filter((e) => e.includes("25P02")).length).toBeGreaterThanOrEqual(3);
    expect(cli.stdout).toMatch(
      /FAIL {2}tax-column-missing .*violated: noCascade, processingContinues/,
    );

    // With the full schema, with redeliveries or bad signatures, the old code has no bug to show.
    for (const name of ["tax-column-present", "invoice-redelivery", "bad-signatures"])
      expect(scenario(report, name).verdict, name).toBe("pass");
  });
});
