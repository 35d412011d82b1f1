/**
 * The payments incident kept as tests beside a team's others: the shipped scenario against the
 * pre-hotfix and the hotfixed service, and a scenario written inline that runs across two
 * schemas. `import "faultline/vitest"` adds the matchers to `expect`.
 */
import { fileURLToPath } from "node:url";
import {
  defineScenario,
  dropColumn,
  noCascade,
  processingContinues,
  runScenario,
  stopEnvironments,
  webhook,
} from "faultline";
import "faultline/vitest";
import { afterAll, describe, expect, it } from "vitest";

const incident = fileURLToPath(
  new URL("../../scenarios/credits-balance-missing.scenario.ts", import.meta.url),
);

afterAll(stopEnvironments);

describe("credits-balance-missing", () => {
  it("the pre-hotfix service swallows the 42703 and cascades into 25P02", async () => {
    const result = await runScenario(incident, { service: "payments:broken" });
    expect(result).not.toHaveNoCascade();
    expect(result).not.toPassInvariant("noCascade");
    expect(result.sqlstates["42703"]).toBeGreaterThan(0);
  });

  it("the hotfix rolls back, creates the unknown user and keeps processing", async () => {
    const result = await runScenario(incident, { service: "payments:fixed" });
    expect(result).toHaveNoCascade();
    expect(result).toPassInvariant("noCascade");
    expect(result).toPassInvariant("emergencyCreated");
    expect(result.verdict).toBe("pass");
  });
});

// A scenario as a value, across two schemas: the matrix runs one cell per schema.
const eitherSchema = defineScenario({
  name: "credits-balance-either-schema",
  randomSeed: 7,
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_Known" }] },
  matrix: {
    schema: [
      { name: "as migrated", drift: [] },
      { name: "column dropped", drift: [dropColumn("users.credits_balance")] },
    ],
  },
  webhooks: [
    webhook("checkout.session.completed", { customer: "cus_Known", email: "known@example.com" }),
    webhook("checkout.session.completed", { customer: "cus_New", email: "new@example.com" }),
  ],
  invariants: [noCascade(), processingContinues()],
});

describe("credits-balance-either-schema", () => {
  it("cascades on the broken service only where the column is gone", async () => {
    const result = await runScenario(eitherSchema, { service: "payments:broken" });
    expect(result.cells.map((cell) => [cell.cell?.schema, cell.verdict])).toEqual([
      ["as migrated", "pass"],
      ["column dropped", "fail"],
    ]);
    expect(result.verdict).toBe("fail");
    expect(result).not.toHaveNoCascade();
  });

  it("passes in every cell on the hotfixed service", async () => {
    const result = await runScenario(eitherSchema, { service: "payments:fixed" });
    expect(result).toHaveNoCascade();
    expect(result).toPassInvariant("processingContinues");
  });
});

// What a failing expectation prints: run with FAULTLINE_SHOW_FAILURE=1 to see it.
describe.runIf(process.env.FAULTLINE_SHOW_FAILURE === "1")("a failing expectation", () => {
  it("expects no cascade from the pre-hotfix service", async () => {
    expect(await runScenario(incident, { service: "payments:broken" })).toHaveNoCascade();
  });
});
