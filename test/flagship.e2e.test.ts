import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, ROOT, runCli } from "./cli.ts";

interface JsonReport {
  exitCode: number;
  scenarios: {
    name: string;
    verdict: string;
    service: string;
    invariants: { name: string; passed: boolean; evidence: string[] }[];
    deliveries: { status: number }[];
  }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runBoth(
  service: string,
): Promise<{ run: CliRun; report: JsonReport; junit: string }> {
  const json = path.join(dir, `${service.replace(":", "-")}.json`);
  const junit = path.join(dir, `${service.replace(":", "-")}.xml`);
  const run = await runCli([
    "run",
    "scenarios/credits-balance-missing.scenario.ts",
    "scenarios/credits-balance-present.scenario.ts",
    "--service",
    service,
    "--json",
    json,
    "--junit",
    junit,
  ]);
  return {
    run,
    report: JSON.parse(await readFile(json, "utf8")) as JsonReport,
    junit: await readFile(junit, "utf8"),
  };
}

describe("the credits_balance incident, end to end", () => {
  it("reproduces the cascade against the pre-hotfix service", async () => {
    const { run, report, junit } = await runBoth("payments:broken");
    expect(run.code, run.stderr).toBe(1);

    const missing = report.scenarios.find((s) => s.name === "credits-balance-missing");
    expect(missing?.verdict).toBe("fail");
    const noCascade = missing?.invariants.find((i) => i.name === "noCascade");
    expect(noCascade?.passed).toBe(false);
    // The evidence is Postgres's own log: the swallowed 42703, then the 25P02 cascade.
    expect(
      noCascade?.evidence.some((e) => e.includes("42703") && e.includes("credits_balance")),
    ).toBe(true);
    expect(noCascade?.evidence.filter((e) => e.includes("25P02")).length).toBeGreaterThan(2);
    expect(missing?.invariants.find((i) => i.name === "processingContinues")?.passed).toBe(false);
    expect(missing?.invariants.find((i) => i.name === "noAbortedIdleConnections")?.passed).toBe(
      false,
    );
    expect(missing?.deliveries.map((d) => d.status)).toEqual([500, 500, 500, 500]);

    // With the full schema the old code had no bug to show.
    expect(report.scenarios.find((s) => s.name === "credits-balance-present")?.verdict).toBe(
      "pass",
    );

    const line = run.stdout.split("\n").find((l) => l.startsWith("FAIL  credits-balance-missing"));
    expect(line).toMatch(/\d+\.\d\ds .*violated: noCascade, processingContinues/);
    expect(run.stdout).toContain(
      "25P02: current transaction is aborted, commands ignored until end of transaction block",
    );
    expect(junit).toContain(
      '<testcase classname="faultline.payments:broken" name="credits-balance-missing"',
    );
    expect(junit).toContain("<failure");
  });

  it("passes the hotfixed service on the drifted and the full schema", async () => {
    const { run, report, junit } = await runBoth("payments:fixed");
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    for (const name of ["credits-balance-missing", "credits-balance-present"]) {
      const scenario = report.scenarios.find((s) => s.name === name);
      expect(scenario?.verdict, name).toBe("pass");
      expect(scenario?.invariants.every((i) => i.passed)).toBe(true);
    }
    const missing = report.scenarios.find((s) => s.name === "credits-balance-missing");
    expect(missing?.deliveries.map((d) => d.status)).toEqual([200, 200, 200, 200]);
    expect(run.stdout).toMatch(/^PASS {2}credits-balance-missing {2}\d+\.\d\ds/m);
    expect(run.stdout).toContain("2 passed, 0 failed, 0 errored");
    expect(junit).not.toContain("<failure");
  });

  it("runs with no arguments: every shipped scenario against payments:fixed", async () => {
    const run = await runCli(["run"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("against payments:fixed");
    expect(run.stdout).toContain("PASS  credits-balance-missing");
    expect(run.stdout).toContain("PASS  credits-balance-present");
    expect(run.stdout).toContain("PASS  commit-connection-lost");
    const shipped = (await readdir(path.join(ROOT, "scenarios"))).filter((f) =>
      f.endsWith(".scenario.ts"),
    );
    expect(run.stdout).toContain(`${shipped.length} scenario(s)`);
    // credits-balance-hotfix runs two cells, one per schema.
    expect(run.stdout).toContain(`${shipped.length + 1} passed, 0 failed, 0 errored`);
  });

  it("runs a service given as a shell command line, with VAR=value before the program", async () => {
    const run = await runCli([
      "run",
      "scenarios/credits-balance-missing.scenario.ts",
      "--service",
      "PAYMENTS_VARIANT=broken node --import tsx fixtures/services/payments/main.ts",
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain("FAIL  credits-balance-missing");
    expect(run.stdout).toContain("noCascade");
  });
});
