import { describe, expect, it } from "vitest";
import { formatScenarioResult } from "./console.ts";
import { toJsonReport } from "./json.ts";
import { failedResult, summaryOf } from "./sample-results.ts";

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

describe("long evidence", () => {
  const upsert = `ERROR 42703: column "credits_balance" does not exist — statement: INSERT INTO stripe.invoices (${Array.from({ length: 400 }, (_, i) => `col_${i}`).join(", ")}) VALUES (…)`;
  const result = failedResult([upsert]);

  it("is cut on the console, its head kept and its length said", () => {
    const text = formatScenarioResult(result);
    const line = text.split("\n").find((l) => l.includes("42703")) as string;
    expect(line).toContain('ERROR 42703: column "credits_balance" does not exist');
    expect(line).toContain(`… (${upsert.length} chars; whole in --json)`);
    expect(line.length).toBeLessThan(300);
    expect(upsert.length).toBeGreaterThan(3000);
  });

  it("stays whole in the JSON report", () => {
    expect(JSON.stringify(toJsonReport(summaryOf([result])))).toContain(
      JSON.stringify(upsert).slice(1, -1),
    );
  });
});
