import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.ts";

interface Report {
  scenarios: {
    name: string;
    verdict: string;
    faults: { rule: string }[];
    invariants: { name: string; passed: boolean; evidence: string[] }[];
  }[];
}

const FAULT_SCENARIOS = [
  "scenarios/commit-connection-lost.scenario.ts",
  "scenarios/serialization-failure-retry.scenario.ts",
  "scenarios/statement-timeout.scenario.ts",
  "scenarios/pool-exhaustion.scenario.ts",
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-faults-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(service: string) {
  const json = path.join(dir, `${service.replace(":", "-")}.json`);
  const traces = path.join(dir, `traces-${service.replace(":", "-")}`);
  const cli = await runCli([
    "run",
    ...FAULT_SCENARIOS,
    "--service",
    service,
    "--json",
    json,
    "--trace-dir",
    traces,
  ]);
  const report = JSON.parse(await readFile(json, "utf8")) as Report;
  return {
    cli,
    report,
    traces,
    byName: (name: string) => report.scenarios.find((s) => s.name === name),
  };
}

describe("fault scenarios through the proxy", () => {
  it("the hotfixed service survives every injected fault", async () => {
    const { cli, report, traces, byName } = await run("payments:fixed");
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(report.scenarios).toHaveLength(4);
    for (const scenario of report.scenarios) {
      expect(scenario.verdict, scenario.name).toBe("pass");
      // Each scenario's fault really fired.
      expect(scenario.faults.length, scenario.name).toBeGreaterThan(0);
    }
    expect(byName("commit-connection-lost")?.faults[0]?.rule).toBe("commit-reply-lost");
    // The trace was kept: the COMMIT whose reply was lost is in it, marked with its rule.
    const trace = (await readFile(path.join(traces, "commit-connection-lost.ndjson"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(trace.some((e) => e.kind === "COMMIT" && e.rule === "commit-reply-lost")).toBe(true);
  });

  it("the pre-hotfix service cascades when a statement fails mid-transaction", async () => {
    const { cli, byName } = await run("payments:broken");
    expect(cli.code).toBe(1);
    for (const name of ["serialization-failure-retry", "statement-timeout"]) {
      const scenario = byName(name);
      expect(scenario?.verdict, name).toBe("fail");
      const rollback = scenario?.invariants.find((i) => i.name === "rollsBackAfterError");
      expect(rollback?.passed, name).toBe(false);
      expect(rollback?.evidence.join("\n")).toMatch(/25P02|no further statement/);
      expect(scenario?.invariants.find((i) => i.name === "noCascade")?.passed, name).toBe(false);
    }
  });
});
