import { describe, expect, it } from "vitest";
import { dropColumn, noCascade, redeliver, webhook } from "./define.ts";
import { formatIssues, scenarioSchema } from "./schema.ts";

const valid = {
  name: "credits-balance-missing",
  drift: [dropColumn("users.credits_balance")],
  webhooks: [
    webhook("checkout.session.completed", { email: "a@example.com" }, "first"),
    redeliver("first"),
  ],
  invariants: [noCascade()],
};

function errorOf(input: unknown): string {
  const parsed = scenarioSchema.safeParse(input);
  if (parsed.success) throw new Error("expected the scenario to be rejected");
  return formatIssues(parsed.error.issues);
}

describe("scenarioSchema", () => {
  it("accepts the flagship shape and fills defaults", () => {
    const parsed = scenarioSchema.parse(valid);
    expect(parsed.seed).toEqual({});
    expect(parsed.drift).toEqual([{ dropColumn: "users.credits_balance" }]);
  });

  it("names a mistyped top-level field", () => {
    expect(errorOf({ ...valid, webhoks: [] })).toContain('field "webhoks": unknown field');
  });

  it("names a mistyped nested field with its position", () => {
    const webhooks = [{ fixure: "checkout.session.completed" }];
    expect(errorOf({ ...valid, webhooks })).toContain('field "webhooks[0].fixure": unknown field');
  });

  it("names an unknown invariant and lists the known ones", () => {
    const message = errorOf({ ...valid, invariants: [{ invariant: "noCascades" }] });
    expect(message).toContain('field "invariants[0].invariant"');
    expect(message).toContain("noCascade");
  });

  it("rejects a redelivery of a webhook that was never named", () => {
    expect(errorOf({ ...valid, webhooks: [redeliver("ghost")] })).toContain(
      'field "webhooks[0].redeliver": no earlier webhook has as: "ghost"',
    );
  });

  it("rejects a drift step that mixes two kinds", () => {
    expect(errorOf({ ...valid, drift: [{ dropColumn: "users.x", dropTable: "users" }] })).toContain(
      "expected exactly one of",
    );
  });

  it("rejects a sql invariant without an expectation", () => {
    expect(
      errorOf({ ...valid, invariants: [{ invariant: "sql", name: "x", query: "select 1" }] }),
    ).toContain("give exactly one of rowCount or rows");
  });
});
