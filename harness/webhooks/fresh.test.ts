import { describe, expect, it } from "vitest";
import { freshValue, planVariable } from "./fresh.ts";

describe("values made unique per request", () => {
  it("makes ids and emails unique and keeps everything else", () => {
    expect(freshValue(planVariable("cus_KnownCustomer01"), "a7")).toBe("cus_KnownCustomer01_a7");
    expect(freshValue(planVariable("in_1Renewal"), "a7")).toBe("in_1Renewal_a7");
    expect(freshValue(planVariable("known@example.com"), "a7")).toBe("known+a7@example.com");
    expect(freshValue(planVariable("500"), "a7")).toBe("500");
    expect(freshValue(planVariable(500), "a7")).toBe(500);
    expect(freshValue(planVariable("paid"), "a7")).toBe("paid");
    expect(freshValue(planVariable(null), "a7")).toBe(null);
  });
});
