import type { RunSummary, ScenarioResult } from "../scenario/index.ts";

/**
 * For the reporters' tests: a failed result of the flagship's shape (noCascade violated with
 * `evidence`, idempotent passed), with any field overridden, and a summary of some results.
 */
export function failedResult(
  evidence: string[],
  overrides: Partial<ScenarioResult> = {},
): ScenarioResult {
  return {
    file: "scenarios/a.scenario.ts",
    name: "a",
    verdict: "fail",
    durationMs: 1234,
    seed: 9,
    service: "payments:broken",
    database: "fl_a",
    drift: ["no users.credits_balance"],
    deliveries: [],
    invariants: [
      { name: "noCascade", passed: false, expected: "no 25P02", seen: "3 × 25P02", evidence },
      { name: "idempotent", passed: true, expected: "x", seen: "y", evidence: [] },
    ],
    serverErrorCount: 3,
    sqlstates: { "25P02": 3 },
    faults: [],
    ...overrides,
  };
}

export function summaryOf(
  results: ScenarioResult[],
  overrides: Partial<RunSummary> = {},
): RunSummary {
  return {
    results,
    seed: 9,
    concurrency: 1,
    setupMs: 1,
    totalMs: 2500,
    exitCode: results.some((r) => r.verdict !== "pass") ? 1 : 0,
    ...overrides,
  };
}
