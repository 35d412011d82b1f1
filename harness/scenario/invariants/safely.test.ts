import { describe, expect, it } from "vitest";
import { PostgresFailedError } from "../../errors.ts";
import type { ScenarioDatabase } from "../../postgres/index.ts";
import {
  evaluateSafely,
  type Invariant,
  type InvariantContext,
  prepareSafely,
} from "./invariant.ts";

// An invariant whose own SQL fails (drift dropped a column it reads) fails, saying why; a
// faultline error (Postgres gone) still ends the run.
function invariant(fail: { prepare?: Error; evaluate?: Error }): Invariant {
  return {
    name: "reads",
    schema: undefined as never,
    label: () => "reads(users.credits_balance)",
    async prepare() {
      if (fail.prepare) throw fail.prepare;
      return 1;
    },
    async evaluate() {
      if (fail.evaluate) throw fail.evaluate;
      return { name: "reads", passed: true, expected: "", seen: "", evidence: [] };
    },
  };
}

const db = {} as ScenarioDatabase;
const context = {} as InvariantContext;
const spec = { invariant: "reads" };

describe("judging an invariant whose own query fails", () => {
  it("fails it with the reason when prepare threw", async () => {
    const broken = invariant({ prepare: new Error('column "credits_balance" does not exist') });
    const prepared = await prepareSafely(broken, spec, db);
    const verdict = await evaluateSafely(broken, spec, context, prepared);
    expect(verdict).toMatchObject({
      name: "reads(users.credits_balance)",
      passed: false,
      seen: 'could not be judged: column "credits_balance" does not exist',
    });
  });

  it("fails it with the reason when evaluate threw, and passes through a faultline error", async () => {
    const verdict = await evaluateSafely(
      invariant({ evaluate: new Error("boom") }),
      spec,
      context,
      1,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.seen).toBe("could not be judged: boom");
    await expect(
      evaluateSafely(invariant({ evaluate: new PostgresFailedError("gone") }), spec, context, 1),
    ).rejects.toThrow("gone");
    expect((await evaluateSafely(invariant({}), spec, context, 1)).passed).toBe(true);
  });
});
