import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "../scenario/index.ts";
import { formatScenarioResult } from "./console.ts";

const failed: ScenarioResult = {
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
    {
      name: "noCascade",
      passed: false,
      expected: "no 25P02",
      seen: "3 × 25P02",
      evidence: ["ERROR 25P02: <current> & \u0001aborted"],
    },
    { name: "idempotent", passed: true, expected: "x", seen: "y", evidence: [] },
  ],
  serverErrorCount: 3,
  sqlstates: { "25P02": 3 },
  faults: [],
};

describe("console reporter", () => {
  it("prints verdict, time and the violated invariants with evidence", () => {
    const text = formatScenarioResult(failed);
    const [head, ...rest] = text.split("\n");
    expect(head).toMatch(/^FAIL {2}a {2}1\.23s .*violated: noCascade$/);
    expect(rest.join("\n")).toContain("✗ noCascade: expected no 25P02; seen 3 × 25P02");
    expect(rest.join("\n")).toContain("ERROR 25P02");
    expect(text).not.toContain("✗ idempotent");
  });
});
