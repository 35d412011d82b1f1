import { describe, expect, it } from "vitest";
import { shrinkSet } from "./shrink.ts";

/** A judge that fails while every needed item is in, counting how many subsets it judged. */
function needing(needed: string[]) {
  const judge = async (subsets: string[][]) => {
    judge.judged += subsets.length;
    return subsets.map((s) => needed.every((n) => s.includes(n)));
  };
  judge.judged = 0;
  return judge;
}

describe("shrinkSet (ddmin)", () => {
  it("takes 6 webhooks and 2 faults down to the 1 webhook and 1 fault the failure needs", async () => {
    const items = ["w1", "w2", "w3", "w4", "w5", "w6", "rule-a", "rule-b"];
    const judge = needing(["w4", "rule-b"]);
    expect(await shrinkSet(items, judge)).toEqual(["w4", "rule-b"]);
    // Far fewer runs than the 2^8 subsets: ddmin is quadratic at worst.
    expect(judge.judged).toBeLessThanOrEqual(items.length ** 2);
  });

  it("keeps an item that is needed alone, and everything when everything is needed", async () => {
    expect(await shrinkSet(["a", "b", "c"], needing(["c"]))).toEqual(["c"]);
    expect(await shrinkSet(["a", "b", "c"], needing(["a", "b", "c"]))).toEqual(["a", "b", "c"]);
  });

  it("is 1-minimal when two items far apart are needed together", async () => {
    const items = Array.from({ length: 11 }, (_, i) => `x${i}`);
    expect(await shrinkSet(items, needing(["x0", "x10"]))).toEqual(["x0", "x10"]);
  });

  it("picks the first failing subset in order, so equal judgements give equal results", async () => {
    // Either half alone fails: the first half is taken, every time.
    const judge = async (subsets: string[][]) =>
      subsets.map((s) => s.includes("a") || s.includes("d"));
    const once = await shrinkSet(["a", "b", "c", "d"], judge);
    expect(once).toEqual(["a"]);
    expect(await shrinkSet(["a", "b", "c", "d"], judge)).toEqual(once);
  });
});
