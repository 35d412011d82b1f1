import { describe, expect, it } from "vitest";
import { BadUsageError } from "../errors.ts";
import { parseDuration, parseRate, parseThreshold } from "./flags.ts";

describe("load flags", () => {
  it("reads rates per second or minute and durations in seconds or minutes", () => {
    expect(parseRate("200/s")).toEqual({ count: 200, perSeconds: 1 });
    expect(parseRate("600/m")).toEqual({ count: 600, perSeconds: 60 });
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("2m")).toBe(120);
    expect(parseDuration("30s", "--ramp")).toBe(30);
  });

  it("rejects what it cannot read, naming the flag and the accepted forms", () => {
    for (const bad of ["200", "0/s", "1.5/s", "200/h", "fast"])
      expect(() => parseRate(bad)).toThrow(/--rate: expected .*200\/s or 600\/m/);
    for (const bad of ["60", "0s", "1h", "1.5m"])
      expect(() => parseDuration(bad, "--ramp")).toThrow(/--ramp: expected .*45s or 2m/);
    expect(() => parseRate("x")).toThrow(BadUsageError);
  });

  it("turns thresholds into k6's expressions", () => {
    expect(parseThreshold("p99<300ms")).toMatchObject({
      metric: "http_req_duration",
      expression: "p(99)<300",
    });
    expect(parseThreshold("p99.9<=1.5s").expression).toBe("p(99.9)<=1500");
    expect(parseThreshold("avg<50ms").expression).toBe("avg<50");
    expect(parseThreshold("errors<0.1%")).toMatchObject({
      metric: "http_req_failed",
      expression: "rate<0.001",
    });
    for (const bad of ["p99>300ms", "p100<1s", "p99<300", "errors<0.1", "latency<1s"])
      expect(() => parseThreshold(bad)).toThrow(/--threshold: expected .*p99<300ms/);
  });
});
