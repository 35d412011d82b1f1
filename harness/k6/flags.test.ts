import { describe, expect, it } from "vitest";
import { parseRateSpec, parseThreshold } from "../load/index.ts";
import { k6Rate, k6Threshold } from "./flags.ts";

describe("k6 flags (parsed by faultline load's parser)", () => {
  it("keeps the rate in the unit the user wrote, as k6's timeUnit", () => {
    expect(k6Rate(parseRateSpec("200/s"))).toEqual({ count: 200, perSeconds: 1 });
    expect(k6Rate(parseRateSpec("600/m"))).toEqual({ count: 600, perSeconds: 60 });
    expect(k6Rate(parseRateSpec("50"))).toEqual({ count: 50, perSeconds: 1 });
  });

  it("refuses a fractional rate k6 cannot iterate, saying what to write instead", () => {
    expect(() => k6Rate(parseRateSpec("0.5/s"))).toThrow(/whole number .* 0\.5\/s is 30\/m/);
  });

  it("turns thresholds into k6's expressions on the metric each reads", () => {
    const k6 = (text: string) => k6Threshold(parseThreshold(text));
    expect(k6("p99<300ms")).toMatchObject({ metric: "http_req_duration", expression: "p(99)<300" });
    expect(k6("p99.9<=1.5s").expression).toBe("p(99.9)<=1500");
    expect(k6("avg<50ms").expression).toBe("avg<50");
    expect(k6("errors<0.1%")).toMatchObject({
      metric: "http_req_failed",
      expression: "rate<0.001",
    });
    expect(k6("rate>=190/s")).toMatchObject({ metric: "http_reqs", expression: "rate>=190" });
  });
});
