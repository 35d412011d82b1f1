import { describe, expect, it } from "vitest";
import { exitCodeOf, type ScenarioResult } from "./runner.ts";

function result(verdict: ScenarioResult["verdict"], exitCode?: number): ScenarioResult {
  return {
    file: "x.scenario.ts",
    name: "x",
    verdict,
    durationMs: 1,
    seed: 1,
    service: "s",
    database: undefined,
    drift: [],
    deliveries: [],
    invariants: [],
    serverErrorCount: 0,
    sqlstates: {},
    faults: [],
    ...(exitCode === undefined ? {} : { error: { code: "FL", message: "m", exitCode } }),
  };
}

describe("exitCodeOf", () => {
  it("is 0 only when every scenario passed", () => {
    expect(exitCodeOf([result("pass"), result("pass")])).toBe(0);
    expect(exitCodeOf([result("pass"), result("fail")])).toBe(1);
  });

  it("ranks bad input over broken infrastructure over failed invariants", () => {
    expect(exitCodeOf([result("fail"), result("error", 3)])).toBe(3);
    expect(exitCodeOf([result("error", 3), result("error", 2), result("fail")])).toBe(2);
  });
});

describe("stripeRetrySchedule", () => {
  it("backs off exponentially from a minute, at most a day apart, for three days", async () => {
    const { stripeRetrySchedule } = await import("./runner.ts");
    const delays = stripeRetrySchedule();
    expect(delays.slice(0, 3)).toEqual([60, 120, 240]);
    expect(Math.max(...delays)).toBeLessThanOrEqual(86_400);
    expect(delays.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3 * 86_400);
    expect(stripeRetrySchedule(3)).toEqual([60, 120]);
  });
});
