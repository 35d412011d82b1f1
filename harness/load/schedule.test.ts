import { describe, expect, it } from "vitest";
import { intendedTimes, rateAt } from "./schedule.ts";

describe("intendedTimes", () => {
  it("spaces a constant rate evenly from zero", () => {
    const times = intendedTimes({ rate: 200, durationMs: 1000, rampMs: 0 });
    expect(times.length).toBe(200);
    expect(times[0]).toBe(0);
    expect(times[1]).toBeCloseTo(5);
    expect(times[199]).toBeCloseTo(995);
  });

  it("ramps linearly: a quarter of the ramp's requests in its first half, then the full rate", () => {
    // 100/s over a 2 s ramp sends 100 during the ramp (the triangle's area), then 100/s.
    const times = intendedTimes({ rate: 100, durationMs: 4000, rampMs: 2000 });
    expect(times.length).toBe(300);
    const inFirstHalf = [...times].filter((t) => t < 1000).length;
    expect(inFirstHalf).toBeGreaterThanOrEqual(24);
    expect(inFirstHalf).toBeLessThanOrEqual(26);
    expect([...times].filter((t) => t < 2000).length).toBe(100);
    // After the ramp, 10 ms apart.
    expect((times[250] as number) - (times[249] as number)).toBeCloseTo(10);
    // Gaps shrink through the ramp: sends come faster as the rate grows.
    expect((times[10] as number) - (times[9] as number)).toBeGreaterThan(
      (times[90] as number) - (times[89] as number),
    );
  });

  it("is sorted and inside the run", () => {
    const times = intendedTimes({ rate: 333, durationMs: 3000, rampMs: 1000 });
    for (let i = 1; i < times.length; i++)
      expect(times[i] as number).toBeGreaterThanOrEqual(times[i - 1] as number);
    expect(times.at(-1) as number).toBeLessThan(3000);
  });

  it("tells the intended rate at a moment", () => {
    const profile = { rate: 100, durationMs: 4000, rampMs: 2000 };
    expect(rateAt(profile, 500)).toBe(25);
    expect(rateAt(profile, 3000)).toBe(100);
  });
});
