import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";
import { JunitFiles } from "./junit-schema.ts";

const FLAGSHIP = "scenarios/credits-balance-hotfix.scenario.ts";
const junitFiles = new JunitFiles();

interface GateJson {
  command: string;
  exitCode: number;
  seed: number;
  concurrency: number;
  baseline: string;
  candidate: string;
  versions: { faultline: string; node: string; postgres: string };
  scenarios: {
    name: string;
    outcome: string;
    ok: boolean;
    cells: {
      cell: Record<string, string>;
      outcome: string;
      baseline: { verdict: string; sqlstates: Record<string, number>; database: string };
      candidate: { verdict: string; sqlstates: Record<string, number>; database: string };
    }[];
  }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-gate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function gate(baseline: string, candidate: string, ...more: string[]) {
  const json = path.join(dir, `${baseline}-${candidate}.json`.replace(/[^\w.-]/g, "_"));
  const junit = json.replace(/\.json$/, ".xml");
  const run = await runCli([
    "gate",
    FLAGSHIP,
    "--baseline",
    baseline,
    "--candidate",
    candidate,
    "--json",
    json,
    "--junit",
    junit,
    ...more,
  ]);
  return {
    ...run,
    report: JSON.parse(await readFile(json, "utf8")) as GateJson,
    junit: await readFile(junit, "utf8"),
  };
}

describe("faultline gate on the flagship (two services × two schemas)", () => {
  it("broken → fixed proves the fix: exit 0, SQLSTATEs and invariants side by side", async () => {
    const { code, stdout, report, junit } = await gate(
      "payments:broken",
      "payments:fixed",
      "--summary",
      path.join(dir, "summary.md"),
    );
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/OK {3}credits-balance-hotfix: proves the fix/);
    expect(stdout).toMatch(/schema: credits_balance missing: proves the fix/);
    // The seed's "before: N × current transaction is aborted, after: 0".
    expect(stdout).toMatch(/25P02 in_failed_sql_transaction +[1-9]\d* +0\n/);
    expect(stdout).toMatch(/noCascade +✗ +✓/);
    expect(stdout).toContain("gate: 1 proves the fix — the change may merge");

    expect(report.command).toBe("gate");
    expect(report.versions.node).toBe(process.version);
    const [scenario] = report.scenarios;
    expect(scenario?.outcome).toBe("proves the fix");
    expect(scenario?.cells.map((c) => [c.cell.schema, c.outcome])).toEqual([
      ["credits_balance missing", "proves the fix"],
      ["credits_balance present", "does not reproduce"],
    ]);
    const missing = scenario?.cells[0];
    expect(missing?.baseline.sqlstates["25P02"]).toBeGreaterThan(0);
    expect(missing?.candidate.sqlstates["25P02"]).toBeUndefined();
    // Four cells, four databases.
    const databases = scenario?.cells.flatMap((c) => [c.baseline.database, c.candidate.database]);
    expect(new Set(databases).size).toBe(4);

    expect(junit).toContain('tests="2" failures="0" errors="0"');
    junitFiles.add("broken → fixed", junit);
    const summary = await readFile(path.join(dir, "summary.md"), "utf8");
    expect(summary).toContain("### faultline gate: ✅ the fix is proven");
    expect(summary).toMatch(
      /\| credits-balance-hotfix \| schema: credits_balance missing \| ✅ proves the fix \| FAIL \| PASS \| 25P02 [1-9]\d* → 0/,
    );
    expect(junit).toContain('name="credits-balance-hotfix [schema: credits_balance missing]"');
  });

  it("fixed → broken regresses: exit 1, the candidate's violations and a replay line", async () => {
    const { code, stdout, report, junit } = await gate("payments:fixed", "payments:broken");
    expect(code, stdout).toBe(1);
    expect(stdout).toMatch(/FAIL credits-balance-hotfix: regresses/);
    expect(stdout).toMatch(/candidate ✗ noCascade: expected no 25P02/);
    // The replay line runs the failing side on the failing cell alone.
    const replay = /replay: (.*)\n/.exec(stdout)?.[1] ?? "";
    expect(replay).toMatch(
      / run scenarios\/credits-balance-hotfix\.scenario\.ts --service payments:broken --cell 'schema=credits_balance missing' --seed 20261128$/,
    );
    const again = await promisify(execFile)("sh", ["-c", `${replay} || echo "exit $?"`], {
      cwd: ROOT,
    });
    expect(again.stdout).toContain("exit 1");
    expect(again.stdout).toMatch(
      /^FAIL {2}credits-balance-hotfix \[schema: credits_balance missing\]/m,
    );
    expect(again.stdout).toContain("0 passed, 1 failed, 0 errored");
    expect(report.scenarios[0]?.outcome).toBe("regresses");
    expect(report.exitCode).toBe(1);
    expect(junit).toContain('tests="2" failures="1" errors="0"');
    junitFiles.add("fixed → broken", junit);
    expect(junit).toMatch(/<failure type="Gate" message="regresses/);
  });

  it("fixed → fixed does not reproduce: exit 1, since the scenario proves nothing", async () => {
    const { code, stdout, report } = await gate("payments:fixed", "payments:fixed");
    expect(code, stdout).toBe(1);
    expect(stdout).toMatch(/FAIL credits-balance-hotfix: does not reproduce/);
    expect(report.scenarios[0]?.ok).toBe(false);
  });

  it("broken → broken is not fixed", async () => {
    const { code, report } = await gate("payments:broken", "payments:broken");
    expect(code).toBe(1);
    expect(report.scenarios[0]?.outcome).toBe("not fixed");
  });
});

describe("faultline gate with a guard scenario and bad usage", () => {
  it("a mustPassOnBaseline scenario passes on both: exit 0", async () => {
    const guard = path.join(dir, "guard.scenario.ts");
    const source = await readFile(path.join(ROOT, "scenarios/bad-signatures.scenario.ts"), "utf8");
    await writeFile(
      guard,
      source.replace(
        /name: "bad-signatures",/,
        'name: "bad-signatures",\n  mustPassOnBaseline: true,',
      ),
    );
    const run = await runCli([
      "gate",
      guard,
      "--baseline",
      "payments:fixed",
      "--candidate",
      "payments:fixed",
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/OK {3}bad-signatures: passes on both \(must pass on baseline\)/);
  });

  it("a --cell no scenario has is bad usage, naming the cells there are", async () => {
    const run = await runCli([
      "gate",
      FLAGSHIP,
      "--baseline",
      "payments:broken",
      "--candidate",
      "payments:fixed",
      "--cell",
      "schema=credits_balance gone",
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "--cell: no cell has schema: credits_balance gone; the cells are: credits-balance-hotfix [schema: credits_balance missing]; credits-balance-hotfix [schema: credits_balance present]",
    );
  });

  it("without --candidate, or with --service, is bad usage (exit 2)", async () => {
    const missing = await runCli(["gate", FLAGSHIP, "--baseline", "payments:broken"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--candidate is required");
    const service = await runCli([
      "gate",
      FLAGSHIP,
      "--baseline",
      "payments:broken",
      "--candidate",
      "payments:fixed",
      "--service",
      "payments:fixed",
    ]);
    expect(service.code).toBe(2);
    expect(service.stderr).toContain("--service does not apply");
  });
});

describe("faultline gate with a faultline.config.ts", () => {
  it("--baseline and --candidate replace service.command and keep env, ready and routes", async () => {
    // The Python example's config maps DATABASE_URL to BILLING_DB_URL, serves Stripe on
    // /hooks/stripe and has no /healthz: both sides only work if all of that is kept.
    const run = await runCli([
      "gate",
      "--config",
      "examples/python-billing/faultline.config.ts",
      "examples/python-billing/faultline/tax-column-missing.scenario.ts",
      "--baseline",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it
      'BILLING_VARIANT=broken exec "${PYTHON:-python3}" app.py',
      "--candidate",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it
      'exec "${PYTHON:-python3}" app.py',
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/tax-column-missing: proves the fix/);
  });
});

junitFiles.describeValid("the gate's JUnit files against Jenkins' and Ant's schemas");
