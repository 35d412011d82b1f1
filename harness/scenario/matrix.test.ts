import { describe, expect, it } from "vitest";
import {
  addRule,
  creditsApplied,
  creditsPending,
  dropColumn,
  noCascade,
  redeliver,
  webhook,
} from "./define.ts";
import { describeCell, expandMatrix, withDeliveryPolicy } from "./matrix.ts";
import { formatIssues, type Scenario, scenarioSchema } from "./schema.ts";

const base = {
  name: "hotfix",
  drift: [dropColumn("users.legacy")],
  seed: { users: [{ email: "known@example.com" }] },
  webhooks: [
    webhook("checkout.session.completed", { email: "a@example.com" }, "first"),
    webhook("checkout.session.completed", { email: "b@example.com" }),
    addRule({
      name: "boom",
      match: { sql: "INSERT" },
      fault: { type: "preset", name: "deadlock_detected" },
    }),
    webhook("checkout.session.completed", { email: "c@example.com" }),
    redeliver("first"),
  ],
  invariants: [noCascade()],
};

function cellsOf(input: unknown) {
  return expandMatrix({ file: "x.scenario.ts", scenario: scenarioSchema.parse(input) });
}

function errorOf(input: unknown): string {
  const parsed = scenarioSchema.safeParse(input);
  if (parsed.success) throw new Error("expected the scenario to be rejected");
  return formatIssues(parsed.error.issues);
}

describe("expandMatrix", () => {
  it("leaves a scenario without a matrix as its one cell", () => {
    const cells = cellsOf(base);
    expect(cells).toHaveLength(1);
    expect(cells[0]?.cell).toBeUndefined();
  });

  it("runs every combination of the axes, schema first, and labels each cell", () => {
    const cells = cellsOf({
      ...base,
      matrix: {
        schema: [
          {
            name: "credits missing",
            drift: [dropColumn("users.credits_balance")],
            invariants: [creditsPending()],
          },
          [],
          dropColumn("users.email_verified"),
        ],
        delivery: ["inOrder", "concurrent"],
      },
    });
    expect(cells.map((c) => describeCell(c.cell))).toEqual([
      "schema: credits missing, delivery: inOrder",
      "schema: credits missing, delivery: concurrent",
      "schema: as migrated, delivery: inOrder",
      "schema: as migrated, delivery: concurrent",
      "schema: no users.email_verified, delivery: inOrder",
      "schema: no users.email_verified, delivery: concurrent",
    ]);
    // The scenario's own drift comes first; the cell's is added to it.
    expect(cells[0]?.scenario.drift).toEqual([
      { dropColumn: "users.legacy" },
      { dropColumn: "users.credits_balance" },
    ]);
    expect(cells[2]?.scenario.drift).toEqual([{ dropColumn: "users.legacy" }]);
    // A named schema's invariants are checked in its cells only.
    expect(cells[0]?.scenario.invariants.map((i) => i.invariant)).toEqual([
      "noCascade",
      "creditsPending",
    ]);
    expect(cells[2]?.scenario.invariants.map((i) => i.invariant)).toEqual(["noCascade"]);
    for (const cell of cells) expect(cell.scenario.matrix).toBeUndefined();
  });

  it("adds a named value's seed rows after the scenario's", () => {
    const [cell] = cellsOf({
      ...base,
      matrix: {
        schema: [
          {
            name: "with balance",
            drift: [],
            seed: { users: [{ email: "rich@example.com" }] },
            invariants: [creditsApplied()],
          },
        ],
      },
    });
    expect(cell?.scenario.seed.users).toEqual([
      { email: "known@example.com" },
      { email: "rich@example.com" },
    ]);
  });

  it("merges a fault set's rules after the scenario's own", () => {
    const cells = cellsOf({
      ...base,
      faults: {
        seed: 3,
        rules: [
          {
            name: "own",
            match: { sql: "UPDATE" },
            fault: { type: "preset", name: "query_canceled" },
          },
        ],
      },
      matrix: {
        faults: [
          "none",
          {
            name: "lost commits",
            seed: 9,
            rules: [
              {
                name: "cut",
                match: { sql: "COMMIT" },
                fault: { type: "preset", name: "connection_failure" },
              },
            ],
          },
        ],
      },
    });
    expect(cells.map((c) => c.cell?.faults)).toEqual(["none", "lost commits"]);
    expect(cells[0]?.scenario.faults?.rules.map((r) => r.name)).toEqual(["own"]);
    expect(cells[1]?.scenario.faults?.rules.map((r) => r.name)).toEqual(["own", "cut"]);
    expect(cells[1]?.scenario.faults?.seed).toBe(9);
  });
});

describe("withDeliveryPolicy", () => {
  const webhooks = scenarioSchema.parse(base).webhooks as Scenario["webhooks"];

  it("batches each run of consecutive webhooks, keeping rule steps where they were", () => {
    const shuffled = withDeliveryPolicy(webhooks, "shuffled");
    expect(
      shuffled.map((s) =>
        s.batch ? `batch×${s.batch.length} ${s.order}` : s.addRule ? "rule" : "one",
      ),
    ).toEqual(["batch×2 shuffled", "rule", "batch×2 shuffled"]);
  });

  it("duplicates every webhook, and leaves inOrder alone", () => {
    expect(
      withDeliveryPolicy(webhooks, "duplicated").filter((s) => s.duplicates === 1),
    ).toHaveLength(4);
    expect(withDeliveryPolicy(webhooks, "inOrder")).toBe(webhooks);
  });
});

describe("matrix validation", () => {
  it("names an unknown axis", () => {
    expect(errorOf({ ...base, matrix: { schemas: [[]] } })).toContain(
      'field "matrix.schemas": unknown field',
    );
  });

  it("rejects an empty matrix and an empty axis", () => {
    expect(errorOf({ ...base, matrix: {} })).toContain("expected at least one axis");
    expect(errorOf({ ...base, matrix: { schema: [] } })).toContain('field "matrix.schema"');
  });

  it("rejects two values with the same label, since reports tell cells apart by it", () => {
    expect(errorOf({ ...base, matrix: { schema: [[], []] } })).toContain(
      'field "matrix.schema[1]": two values of this axis are both called "as migrated"',
    );
  });

  it("names a bad delivery policy", () => {
    expect(errorOf({ ...base, matrix: { delivery: ["sideways"] } })).toContain(
      'field "matrix.delivery[0]"',
    );
  });
});
