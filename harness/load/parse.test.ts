import { describe, expect, it } from "vitest";
import { BadUsageError } from "../errors.ts";
import { parseDuration, parseRate, parseThreshold } from "./parse.ts";

describe("parseRate", () => {
  it("reads per second, per minute and bare numbers", () => {
    expect(parseRate("200/s")).toBe(200);
    expect(parseRate("12000/m")).toBe(200);
    expect(parseRate("50")).toBe(50);
    expect(parseRate("0.5/s")).toBe(0.5);
  });
  it.each(["", "0/s", "fast", "200/h", "-5", "200/s/s"])("rejects %j naming the forms", (text) => {
    expect(() => parseRate(text)).toThrow(BadUsageError);
    expect(() => parseRate(text)).toThrow(/--rate: expected <n>\/s/);
  });
});

describe("parseDuration", () => {
  it("reads units, compounds and bare seconds", () => {
    expect(parseDuration("60s")).toBe(60_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2")).toBe(2000);
    expect(parseDuration("1h")).toBe(3_600_000);
  });
  it("allows zero only where asked (--ramp)", () => {
    expect(() => parseDuration("0s")).toThrow(/--duration/);
    expect(parseDuration("0s", "--ramp", true)).toBe(0);
  });
  it.each(["", "s", "10x", "10 s", "1m 30s", "ten"])("rejects %j naming the forms", (text) => {
    expect(() => parseDuration(text, "--ramp")).toThrow(/--ramp: expected .*60s, 1m30s/);
  });
});

describe("parseThreshold", () => {
  it("reads latency, error and rate thresholds like k6's", () => {
    expect(parseThreshold("p99<300ms")).toMatchObject({ metric: "p99", op: "<", value: 300 });
    expect(parseThreshold("p50<=100ms")).toMatchObject({ metric: "p50", op: "<=", value: 100 });
    expect(parseThreshold("p99.9 < 1s")).toMatchObject({ metric: "p99.9", value: 1000 });
    expect(parseThreshold("errors<0.1%")).toMatchObject({ metric: "errors", value: 0.1 });
    expect(parseThreshold("rate>=190/s")).toMatchObject({ metric: "rate", op: ">=", value: 190 });
  });
  it.each(["p99<300", "p98<300ms", "errors<0.1", "rate>=190", "p99=300ms", "p99<fast"])(
    "rejects %j listing the accepted forms",
    (text) => {
      expect(() => parseThreshold(text)).toThrow(/--threshold: expected .*'p99<300ms'/);
    },
  );
});
