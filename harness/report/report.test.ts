import { describe, expect, it } from "vitest";
import { formatScenarioResult } from "./console.ts";
import { failedResult } from "./sample-results.ts";

const failed = failedResult(["ERROR 25P02: <current> & \u0001aborted"]);

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
