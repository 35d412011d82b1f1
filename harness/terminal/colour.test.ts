import { describe, expect, it } from "vitest";
import { colourFor, styler } from "./colour.ts";

describe("colourFor", () => {
  it("colours a terminal only, and never with NO_COLOR", () => {
    expect(colourFor({ isTTY: true }, {})).toBe(true);
    expect(colourFor({ isTTY: false }, {})).toBe(false);
    expect(colourFor({}, {})).toBe(false);
    expect(colourFor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colourFor({ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colourFor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(colourFor({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colourFor({ isTTY: true }, { FORCE_COLOR: "0" })).toBe(false);
  });

  it("styles only when colour is on", () => {
    expect(styler(true)("red", "FAIL")).toBe("\u001b[31mFAIL\u001b[0m");
    expect(styler(false)("red", "FAIL")).toBe("FAIL");
  });
});
