import { describe, expect, it } from "vitest";
import type { InvariantResult, ScenarioResult } from "../scenario/index.ts";
import type { ScenarioRun } from "../suite/index.ts";
import "./index.ts";

function invariant(name: string, passed: boolean, evidence: string[] = []): InvariantResult {
  return {
    name,
    passed,
    expected: `${name} expected`,
    seen: passed ? "none" : `${name} seen`,
    evidence,
  };
}

function cell(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    file: "scenarios/credits-balance-missing.scenario.ts",
    name: "credits-balance-missing",
    verdict: "pass",
    durationMs: 300,
    seed: 20261127,
    service: "payments:fixed",
    database: "faultline_x",
    drift: [],
    deliveries: [],
    invariants: [invariant("noCascade", true), invariant("processingContinues", true)],
    serverErrorCount: 0,
    sqlstates: {},
    faults: [],
    ...overrides,
  };
}

const CAUSE =
  'cause: … ERROR 42703: column "credits_balance" does not exist — statement: SELECT id, email, credits_balance FROM users WHERE stripe_customer_id = $1';

const cascading = cell({
  verdict: "fail",
  service: "payments:broken",
  sqlstates: { "42703": 1, "25P02": 6 },
  invariants: [
    invariant("noCascade", false, [CAUSE, "… ERROR 25P02: current transaction is aborted"]),
    invariant("processingContinues", true),
    invariant("userResolved(known@example.com)", false, ["no user known@example.com"]),
  ],
  replay:
    "npx faultline run scenarios/credits-balance-missing.scenario.ts --service payments:broken --seed 20261127",
});

function run(...cells: ScenarioResult[]): ScenarioRun {
  const worst = cells.find((c) => c.verdict === "fail") ?? (cells[0] as ScenarioResult);
  return { ...worst, cells };
}

/** The message a failing expectation throws. */
function failure(assertion: () => void): string {
  try {
    assertion();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the expectation passed");
}

describe("toHaveNoCascade", () => {
  it("passes without 25P02, and .not passes with it", () => {
    expect(run(cell())).toHaveNoCascade();
    expect(run(cascading)).not.toHaveNoCascade();
  });

  it("shows the SQLSTATE counts, most frequent first, the first evidence, the seed and the replay line", () => {
    const message = failure(() => expect(run(cascading)).toHaveNoCascade());
    expect(message).toContain(
      "expected credits-balance-missing to have no 25P02 cascade (in_failed_sql_transaction), but it had one",
    );
    expect(message).toContain(
      "SQLSTATEs: 25P02 in_failed_sql_transaction × 6, 42703 undefined_column × 1",
    );
    expect(message).toContain(`first evidence: ${CAUSE}`);
    expect(message).toContain("payments:broken, seed 20261127");
    expect(message).toContain(
      "replay: npx faultline run scenarios/credits-balance-missing.scenario.ts --service payments:broken --seed 20261127",
    );
  });

  it("under .not, says no cell had a cascade, with the counts there were", () => {
    const message = failure(() =>
      expect(run(cell({ sqlstates: { "42703": 1 } }))).not.toHaveNoCascade(),
    );
    expect(message).toContain(
      "to have a 25P02 cascade (in_failed_sql_transaction), but it had none",
    );
    expect(message).toContain("SQLSTATEs: 42703 undefined_column × 1");
    // No replay line was recorded: the scenario's file, service and seed make one.
    expect(message).toContain(
      "replay: npx faultline run scenarios/credits-balance-missing.scenario.ts --service payments:fixed --seed 20261127",
    );
  });

  it("counts a failed noCascade invariant as a cascade even when the trace saw none", () => {
    const fromLog = cell({ verdict: "fail", invariants: [invariant("noCascade", false, [CAUSE])] });
    expect(failure(() => expect(fromLog).toHaveNoCascade())).toContain("SQLSTATEs: none");
  });

  it("judges every cell of a matrix and names the one that cascaded", () => {
    const migrated = cell({ cell: { schema: "as migrated" }, service: "payments:broken" });
    const dropped = { ...cascading, cell: { schema: "column dropped" } };
    const message = failure(() => expect(run(migrated, dropped)).toHaveNoCascade());
    expect(message).toContain("but it had one in 1 of 2 cells");
    expect(message).toContain("credits-balance-missing (schema: column dropped) — payments:broken");
    expect(message).not.toContain("schema: as migrated");
    expect(run(migrated, dropped)).not.toHaveNoCascade();
  });

  it("a scenario value's result says how to replay it by seed", () => {
    const value = cell({ file: 'scenario "inline"', name: "inline", sqlstates: { "25P02": 2 } });
    expect(failure(() => expect(value).toHaveNoCascade())).toContain(
      "replay: runScenario(scenario, { seed: 20261127 })",
    );
  });

  it("fails with or without .not on a cell that could not be judged, or on something else", () => {
    const errored = cell({
      verdict: "error",
      error: { code: "FL_SERVICE_FAILED", message: "the service exited with code 1", exitCode: 3 },
    });
    for (const assertion of [
      () => expect(errored).toHaveNoCascade(),
      () => expect(errored).not.toHaveNoCascade(),
    ])
      expect(failure(assertion)).toContain("could not be judged: the service exited with code 1");
    const pending = Promise.resolve(cell());
    expect(failure(() => expect(pending).not.toHaveNoCascade())).toContain(
      "did you forget to await it?",
    );
  });
});

describe("toPassInvariant", () => {
  it("passes when the invariant held, and .not when it failed", () => {
    expect(run(cell())).toPassInvariant("noCascade");
    expect(run(cascading)).not.toPassInvariant("noCascade");
    expect(run(cascading)).toPassInvariant("processingContinues");
  });

  it("shows expected, seen and the evidence of the failed invariant, with the seed", () => {
    const message = failure(() => expect(run(cascading)).toPassInvariant("noCascade"));
    expect(message).toContain(
      "expected invariant noCascade to pass in credits-balance-missing, but it failed",
    );
    expect(message).toContain("✗ noCascade");
    expect(message).toContain("expected: noCascade expected");
    expect(message).toContain("seen: noCascade seen");
    expect(message).toContain(CAUSE);
    expect(message).toContain("seed 20261127");
  });

  it("takes a bare kind for the invariants named after their argument", () => {
    expect(failure(() => expect(run(cascading)).toPassInvariant("userResolved"))).toContain(
      "✗ userResolved(known@example.com)",
    );
    expect(run(cascading)).not.toPassInvariant("userResolved(known@example.com)");
  });

  it("an unknown name fails with or without .not, listing the names there are", () => {
    for (const assertion of [
      () => expect(run(cascading)).toPassInvariant("noCascde"),
      () => expect(run(cascading)).not.toPassInvariant("noCascde"),
    ])
      expect(failure(assertion)).toBe(
        'credits-balance-missing has no invariant named "noCascde"; it has: noCascade, processingContinues, userResolved(known@example.com)',
      );
  });

  it("under .not, shows it passed in every cell", () => {
    const a = cell({ cell: { delivery: "inOrder" } });
    const b = cell({ cell: { delivery: "shuffled" } });
    const message = failure(() => expect(run(a, b)).not.toPassInvariant("noCascade"));
    expect(message).toContain("to fail in credits-balance-missing, but it passed in every cell");
    expect(message).toContain("(delivery: inOrder)");
    expect(message).toContain("(delivery: shuffled)");
  });

  it("shows at most five evidence lines and how many more there were", () => {
    const lines = Array.from({ length: 8 }, (_, i) => `line ${i + 1}`);
    const many = cell({ verdict: "fail", invariants: [invariant("idempotent", false, lines)] });
    const message = failure(() => expect(many).toPassInvariant("idempotent"));
    expect(message).toContain("line 5");
    expect(message).not.toContain("line 6");
    expect(message).toContain("… and 3 more");
  });
});
