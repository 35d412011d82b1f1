#!/usr/bin/env -S npx tsx
/**
 * The maximum sustainable webhook rate of the reference fixed service (payments:fixed) with the
 * faultline proxy in the path, as `faultline load` drives it (issue 9): the rate steps up
 * (50, 100, 150, 200, 300, 400 … /s, a few seconds each, each step on a fresh service and database), and
 * a step is sustained when the generator held the rate (≤ 1% sent > 10 ms late, nothing
 * dropped, at least 95% of the requested rate completed), no request failed, the invariants
 * held over every event sent and p99 < 250 ms. Stops after the first step that is not.
 * Figures are printed, not asserted.
 * Usage: npx tsx scripts/bench-load-max.ts [seconds per step] [scenario file]
 *        (defaults: 4, scenarios/credits-balance-hotfix.scenario.ts, its first matrix cell)
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  expandMatrix,
  loadScenario,
  resolveService,
  type ServiceSpec,
  startEnvironment,
} from "../harness/index.ts";
import { type LoadResult, runLoad } from "../harness/load/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.argv[2] ?? 4);
const scenarioFile = path.resolve(
  root,
  process.argv[3] ?? "scenarios/credits-balance-hotfix.scenario.ts",
);
const RATES = [50, 100, 150, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200];
const P99_LIMIT_MS = 250;

const controller = new AbortController();
process.once("SIGINT", () => controller.abort(new Error("interrupted")));

/** Why a step does not count as sustained; empty when it does. */
function shortfalls(r: LoadResult, rate: number): string[] {
  const why: string[] = [];
  if (r.rateNotHeld) why.push("rate not held");
  if (r.load.achievedRate < rate * 0.95) why.push("achieved < 95%");
  if (r.errorPercent > 0) why.push(`${r.errorPercent.toFixed(2)}% errors`);
  if (r.load.latency.p99 >= P99_LIMIT_MS) why.push(`p99 ≥ ${P99_LIMIT_MS} ms`);
  for (const i of r.invariants) if (!i.passed) why.push(`${i.name} failed`);
  if (r.targetFailure) why.push(r.targetFailure.message);
  return why;
}

const environment = await startEnvironment({ signal: controller.signal });
const service = await resolveService("payments:fixed");
try {
  const loaded = await loadScenario(scenarioFile);
  const cell = expandMatrix(loaded)[0];
  if (!cell) throw new Error(`${scenarioFile}: no scenario cell`);
  const seed = cell.scenario.randomSeed ?? 9;
  console.log(
    `payments:fixed behind the faultline proxy, ${path.relative(root, scenarioFile)} (first cell, its faults), ${seconds} s per step, on Postgres ${environment.postgres}`,
  );
  const header = [
    "requested/s",
    "achieved/s",
    "p50 ms",
    "p99 ms",
    "late %",
    "errors %",
    "invariants",
    "sustained",
  ];
  console.log(header.map((h) => h.padStart(11)).join(" "));
  let best = 0;
  for (const rate of RATES) {
    if (controller.signal.aborted) break;
    const result = await runLoad({
      environment,
      service: service.spec as ServiceSpec,
      scenario: cell,
      profile: { rate, durationMs: seconds * 1000, rampMs: 0 },
      seed,
      thresholds: [],
      faults: { kind: "scenario" },
      signal: controller.signal,
    });
    const why = shortfalls(result, rate);
    const invariants = result.invariants.every((i) => i.passed)
      ? `${result.invariants.length} pass`
      : result.invariants
          .filter((i) => !i.passed)
          .map((i) => `${i.name} ✗`)
          .join(",");
    const row = [
      String(rate),
      result.load.achievedRate.toFixed(0),
      result.load.latency.p50.toFixed(1),
      result.load.latency.p99.toFixed(1),
      result.latePercent.toFixed(2),
      result.errorPercent.toFixed(2),
      invariants,
      why.length ? "no" : "yes",
    ];
    console.log(
      `${row.map((c) => c.padStart(11)).join(" ")}${why.length ? `  (${why.join("; ")})` : ""}`,
    );
    if (why.length) break;
    best = rate;
  }
  console.log(
    best
      ? `maximum sustainable webhook rate: ${best}/s (invariants hold, p99 < ${P99_LIMIT_MS} ms, rate held)`
      : `no step was sustained, not even ${RATES[0]}/s`,
  );
} finally {
  await service.dispose();
  await environment.stop();
}
