import { describe, expect, it } from "vitest";
import { decimal } from "./sql.ts";

describe("decimal: numbers and numeric strings in one form", () => {
  it("makes a bigint's string and the number a user writes the same", () => {
    expect(decimal("4900")).toBe(decimal(4900));
    expect(decimal("4900.00")).toBe("4900");
    expect(decimal("0049.50")).toBe("49.5");
    expect(decimal(49.5)).toBe("49.5");
    expect(decimal("-0.0")).toBe("0");
    expect(decimal("-12")).toBe("-12");
  });

  it("keeps every digit of an int8 beyond 2^53", () => {
    expect(decimal("9223372036854775807")).toBe("9223372036854775807");
    expect(decimal("9223372036854775807")).not.toBe(decimal("9223372036854775806"));
  });

  it("leaves what is not a plain decimal to JSON comparison", () => {
    expect(decimal("1e3")).toBeUndefined();
    expect(decimal("NaN")).toBeUndefined();
    expect(decimal("abc")).toBeUndefined();
    expect(decimal(null)).toBeUndefined();
    expect(decimal(Number.NaN)).toBeUndefined();
  });
});
