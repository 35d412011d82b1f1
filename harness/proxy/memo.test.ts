import { describe, expect, it } from "vitest";
import { TextMemo } from "./memo.ts";

describe("TextMemo", () => {
  it("keeps remembering texts that repeat", () => {
    const memo = new TextMemo<number>(8);
    let computed = 0;
    for (let i = 0; i < 1000; i++) memo.getOr(`SELECT ${i % 4}`, () => ++computed);
    expect(computed).toBe(4);
    expect(memo.storing).toBe(true);
  });

  it("stops storing texts that never repeat, and tries again later", () => {
    const memo = new TextMemo<string>(8);
    for (let i = 0; i < 9; i++) memo.getOr(`SELECT ${i}`, (k) => k.toLowerCase());
    // Full with nothing but misses: it empties and rests for 8 × its size in lookups.
    expect(memo.storing).toBe(false);
    expect(memo.size).toBe(0);
    for (let i = 0; i < 63; i++) expect(memo.getOr("SELECT 1", (k) => k)).toBe("SELECT 1");
    expect(memo.size).toBe(0);
    // Rested: a repeating text is stored again.
    memo.getOr("SELECT 1", (k) => k);
    expect(memo.storing).toBe(true);
    expect(memo.size).toBe(1);
  });

  it("forgets everything on clear", () => {
    const memo = new TextMemo<number>(8);
    memo.set("a", 1);
    memo.clear();
    expect(memo.get("a")).toBeUndefined();
  });
});
