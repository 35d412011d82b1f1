import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.ts";

interface Report {
  scenarios: {
    name: string;
    verdict: string;
    deliveries: {
      label: string;
      eventId: string;
      attempt: number;
      status: number;
      duplicateOf?: string;
      signature?: string;
      startedAt: string;
      finishedAt: string;
    }[];
    invariants: { name: string; passed: boolean; seen: string }[];
  }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-delivery-e2e-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("delivery as providers really do it", () => {
  it("shuffles, duplicates, retries and mis-signs, and the hotfixed service keeps every effect exactly once", async () => {
    const json = path.join(dir, "report.json");
    const run = await runCli([
      "run",
      "scenarios/out-of-order-and-duplicates.scenario.ts",
      "scenarios/retry-until-fixed.scenario.ts",
      "scenarios/bad-signatures.scenario.ts",
      "--json",
      json,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    const byName = (name: string) => report.scenarios.find((s) => s.name === name);

    const disorder = byName("out-of-order-and-duplicates");
    expect(disorder?.deliveries).toHaveLength(24);
    // Shuffled: the first batch did not go out in the order it was written.
    const firstBatch = disorder?.deliveries
      .filter((d) => !d.duplicateOf)
      .slice(0, 8)
      .map((d) => d.label);
    expect(firstBatch).not.toEqual(["a1", "a2", "b1", "c1", "a3", "b2", "c2", "c3"]);
    expect(new Set(firstBatch)).toEqual(new Set(["a1", "a2", "b1", "c1", "a3", "b2", "c2", "c3"]));
    // Concurrent: the last eight deliveries (four events, each twice) overlapped in time.
    const concurrent = disorder?.deliveries.slice(16) ?? [];
    const latestStart = Math.max(...concurrent.map((d) => Date.parse(d.startedAt)));
    const earliestEnd = Math.min(...concurrent.map((d) => Date.parse(d.finishedAt)));
    expect(latestStart).toBeLessThanOrEqual(earliestEnd);
    expect(concurrent.filter((d) => d.duplicateOf)).toHaveLength(4);

    const retry = byName("retry-until-fixed");
    expect(retry?.deliveries.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(retry?.invariants.find((i) => i.name === "noLostEvents")?.passed).toBe(true);

    const signatures = byName("bad-signatures");
    expect(signatures?.deliveries.map((d) => [d.signature, d.status])).toEqual([
      ["wrongSecret", 400],
      ["stale", 400],
      ["tampered", 400],
    ]);
  });

  it("the pre-hotfix service never recovers: Stripe retries until it gives up, and the credit is missing", async () => {
    const json = path.join(dir, "broken.json");
    const run = await runCli([
      "run",
      "scenarios/retry-until-fixed.scenario.ts",
      "--service",
      "payments:broken",
      "--json",
      json,
    ]);
    expect(run.code).toBe(1);
    const report = JSON.parse(await readFile(json, "utf8")) as Report;
    const deliveries = report.scenarios[0]?.deliveries ?? [];
    expect(deliveries.length).toBeGreaterThan(5);
    expect(deliveries.every((d) => d.status === 500)).toBe(true);
    const lost = report.scenarios[0]?.invariants.find((i) => i.name === "noLostEvents");
    // Nothing was acknowledged, so nothing was lost: the event is reported as undelivered.
    expect(lost?.passed).toBe(true);
    expect(lost?.seen).toContain("1 never acknowledged");
  });
});
