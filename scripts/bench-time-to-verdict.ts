#!/usr/bin/env -S npx tsx
/**
 * Time to verdict for credits-balance-missing against payments:fixed, on this machine:
 *  - cold: a new CLI process each time, nothing running before; from spawn to the verdict line.
 *    Measured with an empty initdb cache (a first run on a machine) and with the cache warm.
 *  - further: each later scenario in the same run (Postgres and template already up).
 *  - npx: the same cold run started as `npx faultline run …` instead of `node bin/faultline.mjs`.
 *  - perRun: each further scenario against a service that takes 2 s to start (the drizzle-saas
 *    project with STARTUP_DELAY_MS=2000), started per scenario and once per run.
 * Targets (issue 7): cold median ≤ 1.2 s with the caches warm, each further scenario ≤ 0.4 s,
 * each further scenario against the 2-s service with restart perRun ≤ 0.3 s.
 * Usage: npx tsx scripts/bench-time-to-verdict.ts [runs]   (default 5)
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { $ } from "zx";
import {
  defaultConcurrency,
  loadConfig,
  loadScenario,
  resolveService,
  runScenarios,
  startEnvironment,
} from "../harness/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const scenario = "scenarios/credits-balance-missing.scenario.ts";
const runs = Number(process.argv[2] ?? 5);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Spawn the CLI; resolve with ms until the verdict line, and until exit. */
function coldRun(
  env: Record<string, string>,
  via: "node" | "npx" = "node",
): Promise<{ verdictMs: number; exitMs: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let verdictMs = Number.NaN;
    let out = "";
    const [command, args] =
      via === "node"
        ? [process.execPath, ["bin/faultline.mjs", "run", scenario]]
        : ["npx", ["faultline", "run", scenario]];
    const child = spawn(command as string, args as string[], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (Number.isNaN(verdictMs) && /^(PASS|FAIL|ERROR)\s/m.test(out))
        verdictMs = performance.now() - start;
    });
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`faultline exited ${code}:\n${out}`));
      resolve({ verdictMs, exitMs: performance.now() - start });
    });
  });
}

const node = (await $`node --version`).stdout.trim();
console.log(
  `time to verdict: ${scenario} against payments:fixed — ${runs} runs each, node ${node}, ${(await $`nproc`).stdout.trim()} cores`,
);

// Without the caches (initdb, template) every run pays initdb and migrations, as a first run does.
const uncached: number[] = [];
for (let i = 0; i < runs; i++)
  uncached.push((await coldRun({ FAULTLINE_CLUSTER_CACHE: "off" })).verdictMs);
await coldRun({}); // fill the default caches (initdb, harness bundle) once
const cached: number[] = [];
for (let i = 0; i < runs; i++) cached.push((await coldRun({})).verdictMs);
const viaNpx: number[] = [];
for (let i = 0; i < runs; i++) viaNpx.push((await coldRun({}, "npx")).verdictMs);

// Further scenarios: one environment, the same scenario run many times in a row.
const repeats = Math.max(runs * 2, 10);
const loaded = await loadScenario(path.join(root, scenario));
const environment = await startEnvironment();
const service = await resolveService("payments:fixed");
// One at a time: the time to verdict of each scenario alone. Then at the default concurrency:
// wall time per scenario, what a run of many scenarios costs each.
const started = performance.now();
let parallelMs = 0;
const summary = await runScenarios(
  Array.from({ length: repeats }, () => loaded),
  environment,
  { service: service.spec, concurrency: 1 },
)
  .then(async (sequential) => {
    const at = performance.now();
    await runScenarios(
      Array.from({ length: repeats }, () => loaded),
      environment,
      { service: service.spec },
    );
    parallelMs = (performance.now() - at) / repeats;
    return sequential;
  })
  .finally(async () => {
    await environment.stop();
    await service.dispose();
  });
const throughputMs = (performance.now() - started - parallelMs * repeats) / repeats;
const further = summary.results.slice(1).map((r) => r.durationMs);
if (summary.results.some((r) => r.verdict !== "pass"))
  throw new Error("a benchmark run did not pass");

// A service that takes 2 s to start, started per scenario and once per run.
const project = path.join(root, "fixtures", "projects", "drizzle-saas");
const config = await loadConfig(path.join(project, "faultline.config.ts"));
const slow = await loadScenario(
  path.join(project, "faultline", "subscription-updated.scenario.ts"),
);
const slowRuns = Math.max(runs, 4);
const schema = config.database.schema;
if (!schema) throw new Error("the drizzle-saas config names no schema");
const furtherWith = async (restart: "perScenario" | "perRun") => {
  const env = await startEnvironment({ schema });
  const resolved = await resolveService(undefined, { ...config.service, restart });
  resolved.spec.env = { STARTUP_DELAY_MS: "2000" };
  try {
    const result = await runScenarios(
      Array.from({ length: slowRuns }, () => slow),
      env,
      { service: resolved.spec, webhookPaths: config.webhookPaths, concurrency: 1 },
    );
    if (result.results.some((r) => r.verdict !== "pass"))
      throw new Error(`a ${restart} run did not pass: ${JSON.stringify(result.results[0]?.error)}`);
    return result.results.slice(1).map((r) => r.durationMs);
  } finally {
    await env.stop();
    await resolved.dispose();
  }
};
const slowPerScenario = await furtherWith("perScenario");
const slowPerRun = await furtherWith("perRun");

console.log(
  `cold, no caches         : median ${fmt(median(uncached))}  (runs: ${uncached.map(fmt).join(", ")})`,
);
console.log(
  `cold, warm caches       : median ${fmt(median(cached))}  (runs: ${cached.map(fmt).join(", ")})  target ≤ 1.20 s`,
);
console.log(
  `cold, through npx        : median ${fmt(median(viaNpx))}  (npx adds ${fmt(median(viaNpx) - median(cached))}; in a loop call node_modules/.bin/faultline)`,
);
console.log(
  `each further scenario    : median ${fmt(median(further))}, max ${fmt(Math.max(...further))}  (${further.length} scenarios, one at a time)  target ≤ 0.40 s`,
);
console.log(
  `  at --concurrency ${defaultConcurrency()}     : ${fmt(parallelMs)} of wall time per scenario (one at a time: ${fmt(throughputMs)}; ×${(throughputMs / parallelMs).toFixed(2)})`,
);
console.log(
  `2-s service, perScenario : median ${fmt(median(slowPerScenario))} per further scenario`,
);
console.log(
  `2-s service, perRun      : median ${fmt(median(slowPerRun))} per further scenario  target ≤ 0.30 s  (${(median(slowPerScenario) / median(slowPerRun)).toFixed(1)}× faster)`,
);
console.log(
  `teardown included        : ${fmt(throughputMs)} per scenario (clone → verdict → stop service → drop database)`,
);
console.log(
  `ratios                   : cache saves ${(100 * (1 - median(cached) / median(uncached))).toFixed(0)}% of a cold run; a further scenario costs ${(median(further) / median(cached)).toFixed(2)} × a cold run`,
);
