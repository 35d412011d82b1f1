import { describe, expect, it } from "vitest";
import { seededRandom } from "./index.ts";

describe("seededRandom", () => {
  it("replays the same sequence for the same seed and differs for another", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = [a.alphanumeric(24), a.next()];
    expect([b.alphanumeric(24), b.next()]).toEqual(first);
    expect(c.alphanumeric(24)).not.toEqual(first[0]);
  });

  it("stays within [0, 1) and uses only id characters", () => {
    const r = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(r.alphanumeric(200)).toMatch(/^[0-9A-Za-z]{200}$/);
  });
});
