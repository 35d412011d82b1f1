#!/usr/bin/env -S npx tsx
/**
 * How fast `faultline explore` gets through candidates: credits-balance-missing (the issue's
 * benchmark) against payments:fixed (nothing harmful, so no shrinking), every fault kind, depth 1, through the real
 * CLI, at --concurrency 1 and at the default. Prints candidates per second and wall time for
 * each, and their ratio (measured in one run, so the machine's load cancels out). Goal (issue
 * 17): ≥ 10 candidates/s at the default on this 2-core machine. Nothing asserts on speed.
 *
 * Usage: npx tsx scripts/bench-explore.ts [--rounds 2] [--service payments:fixed]
 *        [--scenario credits-balance-missing]
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs, promisify } from "node:util";
import { median } from "./bench/format.ts";

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    service: { type: "string" },
    scenario: { type: "string" },
  },
});
const rounds = Number(values.rounds ?? 2);
if (!Number.isInteger(rounds) || rounds <= 0) {
  console.error(`--rounds must be a positive integer, got ${JSON.stringify(values.rounds)}`);
  process.exit(2);
}
const service = values.service ?? "payments:fixed";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const cli = path.join(root, "bin", "faultline.mjs");
const scenarioName = values.scenario ?? "credits-balance-missing";
const scenario = path.join(root, "scenarios", `${scenarioName}.scenario.ts`);

interface Setup {
  label: string;
  concurrency?: string;
  /** Started once per worker (a config naming the bundled service), not once per candidate. */
  perRun?: boolean;
}

const SETUPS: Setup[] = [
  { label: "perScenario, --concurrency 1", concurrency: "1" },
  { label: "perScenario, the default" },
  { label: "perRun, --concurrency 1", concurrency: "1", perRun: true },
  { label: "perRun, --concurrency 2", concurrency: "2", perRun: true },
];

async function once(setup: Setup): Promise<{ candidates: number; ms: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "faultline-bench-explore-"));
  try {
    const json = path.join(dir, "report.json");
    const args = [
      cli,
      "explore",
      scenario,
      "--out",
      path.join(dir, "found"),
      "--json",
      json,
      "--quiet",
    ];
    if (setup.perRun) {
      const config = path.join(dir, "faultline.config.ts");
      await writeFile(
        config,
        `export default { service: { command: ${JSON.stringify(service)}, restart: "perRun" } };\n`,
      );
      args.push("--config", config);
    } else args.push("--service", service);
    if (setup.concurrency) args.push("--concurrency", setup.concurrency);
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

const results = new Map<Setup, { candidates: number; ms: number }[]>(SETUPS.map((s) => [s, []]));
for (let r = 0; r < rounds; r++)
  for (const setup of r % 2 ? [...SETUPS].reverse() : SETUPS)
    results.get(setup)?.push(await once(setup));

console.log(
  `explore of ${scenarioName} against ${service}, every kind, depth 1, ${rounds} round(s); the whole command's wall time (Postgres start and the clean run included)`,
);
const rate = new Map<Setup, number>();
for (const [setup, rs] of results) {
  const ms = median(rs.map((x) => x.ms));
  const candidates = rs[0]?.candidates ?? 0;
  rate.set(setup, (candidates * 1000) / ms);
  console.log(
    `  ${setup.label.padEnd(30)}  ${candidates} candidates in ${(ms / 1000).toFixed(1)} s  →  ${rate.get(setup)?.toFixed(1)} candidates/s`,
  );
}
const [c1, byDefault, , perRun2] = SETUPS.map((s) => rate.get(s) ?? 0);
console.log(`  perScenario default × concurrency 1: ${((byDefault ?? 0) / (c1 || 1)).toFixed(2)}×`);
console.log(
  `  perRun --concurrency 2 × perScenario default: ${((perRun2 ?? 0) / (byDefault || 1)).toFixed(2)}×`,
);
const best = Math.max(...rate.values());
console.log(
  `  goal ≥ 10 candidates/s: ${best >= 10 ? "MET" : "NOT MET"} (best ${best.toFixed(1)}/s)`,
);
