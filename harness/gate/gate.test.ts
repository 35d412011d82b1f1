import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../scenario/index.ts";
import { type GateCell, gateExitCode, gateScenario, scenarioOutcome } from "./gate.ts";
import { cellOk, formatGateScenario, toGateJunit, toGateMarkdown } from "./report.ts";

function result(
  verdict: ScenarioResult["verdict"],
  extra: Partial<ScenarioResult> = {},
): ScenarioResult {
  return {
    file: "scenarios/x.scenario.ts",
    name: "x",
    verdict,
    durationMs: 100,
    seed: 7,
    service: "svc",
    database: "db",
    drift: [],
    deliveries: [],
    invariants: [
      verdict === "fail"
        ? {
            name: "noCascade",
            passed: false,
            expected: "no 25P02",
            seen: "2 × 25P02",
            evidence: ["a | b"],
          }
        : { name: "noCascade", passed: true, expected: "no 25P02", seen: "none", evidence: [] },
    ],
    serverErrorCount: 0,
    sqlstates: verdict === "fail" ? { "25P02": 2 } : {},
    faults: [],
    ...extra,
  };
}

function cell(baseline: ScenarioResult, candidate: ScenarioResult, schema?: string): GateCell {
  const outcome = scenarioOutcome(
    [
      baseline.verdict === "error" || candidate.verdict === "error"
        ? "error"
        : baseline.verdict === "fail"
          ? candidate.verdict === "pass"
            ? "proves the fix"
            : "not fixed"
          : candidate.verdict === "fail"
            ? "regresses"
            : "does not reproduce",
    ],
    false,
  );
  return { ...(schema ? { cell: { schema } } : {}), outcome, baseline, candidate };
}

describe("scenarioOutcome", () => {
  it("ranks error, regresses, not fixed, proves the fix, then passing on both", () => {
    expect(scenarioOutcome(["proves the fix", "does not reproduce"], false)).toBe("proves the fix");
    expect(scenarioOutcome(["proves the fix", "regresses"], false)).toBe("regresses");
    expect(scenarioOutcome(["proves the fix", "not fixed"], false)).toBe("not fixed");
    expect(scenarioOutcome(["regresses", "error"], false)).toBe("error");
    expect(scenarioOutcome(["does not reproduce"], false)).toBe("does not reproduce");
    expect(scenarioOutcome(["passes on both"], true)).toBe("passes on both");
  });
});

describe("gate verdicts", () => {
  const fixes = gateScenario({ file: "f", name: "x", mustPassOnBaseline: false }, [
    cell(result("fail"), result("pass"), "missing"),
    cell(result("pass"), result("pass"), "present"),
  ]);

  it("lets a scenario through when one cell proves the fix and the other passes on both", () => {
    expect(fixes.ok).toBe(true);
    expect(gateExitCode([fixes])).toBe(0);
    expect(fixes.cells.every((c) => cellOk(c, fixes))).toBe(true);
  });

  it("fails a scenario that reproduces nothing, unless it is a guard", () => {
    const both = [cell(result("pass"), result("pass"))];
    expect(
      gateExitCode([gateScenario({ file: "f", name: "x", mustPassOnBaseline: false }, both)]),
    ).toBe(1);
    const guard = gateScenario({ file: "f", name: "x", mustPassOnBaseline: true }, [
      { ...cell(result("pass"), result("pass")), outcome: "passes on both" },
    ]);
    expect(guard.outcome).toBe("passes on both");
    expect(gateExitCode([guard])).toBe(0);
  });

  it("puts bad input before broken infrastructure before a gate that does not hold", () => {
    const bad = result("error", { error: { code: "FL_BAD_SCENARIO", message: "m", exitCode: 2 } });
    const broken = result("error", { error: { code: "FL_POSTGRES", message: "m", exitCode: 3 } });
    const f = { file: "f", name: "x", mustPassOnBaseline: false };
    expect(
      gateExitCode([
        gateScenario(f, [cell(broken, result("pass"))]),
        gateScenario(f, [cell(bad, result("pass"))]),
      ]),
    ).toBe(2);
    expect(
      gateExitCode([
        gateScenario(f, [cell(result("pass"), result("fail"))]),
        gateScenario(f, [cell(broken, result("pass"))]),
      ]),
    ).toBe(3);
  });
});

describe("gate reports", () => {
  it("show why a side could not run: the error's head and the last lines the service printed", () => {
    const output = Array.from({ length: 20 }, (_, i) => `service line ${i + 1}`);
    const message = `the service exited with code 1 before it became healthy\n--- last 20 lines of service output ---\n${output.join("\n")}`;
    const failed = result("error", {
      error: { code: "FL_SERVICE_FAILED", message, exitCode: 3 },
    });
    const text = formatGateScenario(
      gateScenario({ file: "f", name: "x", mustPassOnBaseline: true }, [
        cell(failed, result("pass")),
      ]),
    );
    expect(text).toContain("baseline: the service exited with code 1 before it became healthy");
    expect(text).toContain("service line 20");
    expect(text).toContain("service line 13");
    expect(text).not.toContain("service line 12\n");
    expect(text).toContain("… 13 earlier line(s) (see --json)");
  });

  const regress = gateScenario({ file: "f", name: "x", mustPassOnBaseline: false }, [
    cell(result("pass"), result("fail", { replay: "faultline run f --seed 7" }), "a <b> & 'c'"),
  ]);
  const summary = {
    baseline: "old",
    candidate: "new",
    seed: 7,
    concurrency: 2,
    scenarios: [regress],
    setupMs: 1,
    totalMs: 2,
    jobsMs: 3,
    exitCode: 1,
  };

  it("JUnit: one failing testcase per cell, escaped, with the replay line", () => {
    const xml = toGateJunit(summary);
    expect(xml).toContain('tests="1" failures="1" errors="0"');
    expect(xml).not.toContain("<testsuites ");
    expect(xml).toContain('name="x [schema: a &#60;b&#62; &#38; &#39;c&#39;]"');
    expect(xml).toContain("replay: faultline run f --seed 7");
    expect(xml).toContain("25P02 in_failed_sql_transaction: baseline 0, candidate 2");
  });

  it("Markdown: a table row per cell with pipes escaped, evidence folded", () => {
    const md = toGateMarkdown(summary);
    expect(md).toContain("❌ the change is not proven");
    expect(md).toContain("| x | schema: a <b> & 'c' | ❌ regresses | PASS | FAIL | 25P02 0 → 2 |");
    expect(md).toContain(
      "<details><summary>x [schema: a &lt;b&gt; &amp; 'c']: regresses</summary>",
    );
  });
});
