import { afterAll, describe, expect, it } from "vitest";
import { ServiceFailedError } from "../errors.ts";
import {
  defineScenario,
  dropColumn,
  noCascade,
  processingContinues,
  webhook,
} from "../scenario/index.ts";
import { runScenario, stopEnvironments } from "./index.ts";

afterAll(stopEnvironments);

const missingColumn = defineScenario({
  name: "missing-column",
  randomSeed: 11,
  drift: [dropColumn("users.credits_balance")],
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_Known" }] },
  webhooks: [
    webhook("checkout.session.completed", { customer: "cus_Known", email: "known@example.com" }),
    webhook("checkout.session.completed", { customer: "cus_Known", email: "known@example.com" }),
  ],
  invariants: [noCascade(), processingContinues()],
});

describe("runScenario", () => {
  it("starts Postgres on the first call and reuses it: later calls only clone", async () => {
    const timed = async (service: string) => {
      const started = Date.now();
      const result = await runScenario(missingColumn, { config: false, service });
      return { result, ms: Date.now() - started };
    };
    const first = await timed("payments:broken");
    const again = await timed("payments:broken");
    const fixed = await timed("payments:fixed");
    console.log(
      `runScenario: first call ${first.ms} ms, the same again ${again.ms} ms, another service ${fixed.ms} ms`,
    );

    expect(first.result.verdict).toBe("fail");
    expect(first.result.sqlstates["25P02"]).toBeGreaterThan(0);
    expect(first.result.cells).toHaveLength(1);
    expect(first.result.seed).toBe(11);
    // A scenario value has no file to replay from the CLI.
    expect(first.result.replay).toBeUndefined();
    expect(again.result.verdict).toBe("fail");
    expect(fixed.result.verdict).toBe("pass");
    expect(fixed.result.sqlstates["25P02"]).toBeUndefined();
    expect(again.ms).toBeLessThan(first.ms);
  });

  it("a seed option overrides the scenario's", async () => {
    const result = await runScenario(missingColumn, { config: false, seed: 5 });
    expect(result.seed).toBe(5);
  });

  it("throws the service's failure, with its output, when it never becomes ready", async () => {
    const error = await runScenario(missingColumn, {
      config: false,
      service: { command: "echo 'listening on nothing'; exit 7" },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceFailedError);
    expect((error as ServiceFailedError).output).toContain("listening on nothing");
    expect((error as Error).message).toMatch(/exit/);
  });

  it("stops at once on an aborted signal", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await expect(
      runScenario(missingColumn, { config: false, signal: controller.signal }),
    ).rejects.toThrow("stop");
  });

  it("starts afresh after stopEnvironments", async () => {
    await stopEnvironments();
    const result = await runScenario(missingColumn, { config: false });
    expect(result.verdict).toBe("pass");
  });
});
