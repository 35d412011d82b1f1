#!/usr/bin/env -S npx tsx
/**
 * How fast `faultline explore` gets through candidates: credits-balance-present against
 * payments:fixed (nothing harmful, so no shrinking), every fault kind, depth 1, through the real
 * CLI, at --concurrency 1 and at the default. Prints candidates per second and wall time for
 * each, and their ratio (measured in one run, so the machine's load cancels out). Goal (issue
 * 17): ≥ 10 candidates/s at the default on this 2-core machine. Nothing asserts on speed.
 *
 * Usage: npx tsx scripts/bench-explore.ts [--rounds 2] [--service payments:fixed]
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { median } from "./bench/format.ts";

const run = promisify(execFile);
const { values } = parseArgs({
  options: { rounds: { type: "string" }, service: { type: "string" } },
});
const rounds = Number(values.rounds ?? 2);
if (!Number.isInteger(rounds) || rounds <= 0) {
  console.error(`--rounds must be a positive integer, got ${JSON.stringify(values.rounds)}`);
  process.exit(2);
}
const service = values.service ?? "payments:fixed";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const cli = path.join(root, "bin", "faultline.mjs");
const scenario = path.join(root, "scenarios", "credits-balance-present.scenario.ts");

async function once(concurrency: string | undefined): Promise<{ candidates: number; ms: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "faultline-bench-explore-"));
  try {
    const json = path.join(dir, "report.json");
    const args = [
      cli,
      "explore",
      scenario,
      "--service",
      service,
      "--out",
      path.join(dir, "found"),
      "--json",
      json,
      "--quiet",
    ];
    if (concurrency) args.push("--concurrency", concurrency);
    const started = performance.now();
    await run(process.execPath, args, { cwd: root }).catch((error: { code?: number }) => {
      if (error.code !== 1) throw error;
    });
    const ms = performance.now() - started;
    const report = JSON.parse(await readFile(json, "utf8")) as { candidates: unknown[] };
    return { candidates: report.candidates.length, ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const results: Record<string, { candidates: number; ms: number }[]> = { "1": [], default: [] };
for (let r = 0; r < rounds; r++)
  for (const c of r % 2 ? ["default", "1"] : ["1", "default"])
    results[c]?.push(await once(c === "default" ? undefined : c));

console.log(
  `explore of credits-balance-present against ${service}, every kind, depth 1, ${rounds} round(s); the whole command's wall time (Postgres start and the clean run included)`,
);
const rate: Record<string, number> = {};
for (const [c, rs] of Object.entries(results)) {
  const ms = median(rs.map((x) => x.ms));
  const candidates = rs[0]?.candidates ?? 0;
  rate[c] = (candidates * 1000) / ms;
  console.log(
    `  --concurrency ${c.padEnd(7)}  ${candidates} candidates in ${(ms / 1000).toFixed(1)} s  →  ${rate[c]?.toFixed(1)} candidates/s`,
  );
}
console.log(`  default × concurrency 1: ${((rate.default ?? 0) / (rate["1"] ?? 1)).toFixed(2)}×`);
console.log(
  `  goal ≥ 10 candidates/s at the default: ${(rate.default ?? 0) >= 10 ? "MET" : "NOT MET"}`,
);
