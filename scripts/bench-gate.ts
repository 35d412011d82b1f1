#!/usr/bin/env -S npx tsx
/**
 * The flagship gate on this machine: scenarios/credits-balance-hotfix.scenario.ts (two schemas)
 * against payments:broken and payments:fixed — four cells — through the real CLI, from spawn to
 * exit, embedded Postgres. Target (issue 8): ≤ 5 s.
 *
 * Then what parallelism buys: a 6-cell matrix (3 schemas × 2 delivery policies) gated against
 * both services — 12 jobs — at --concurrency 1 and at the default, interleaved in one run, as
 * jobs per second of wall time (Postgres start and template excluded: the CLI's own figure).
 * Usage: npx tsx scripts/bench-gate.ts [runs]   (default 5)
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultConcurrency } from "../harness/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.argv[2] ?? 5);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Run `faultline gate`; wall ms from spawn to exit, and the CLI's own job figures. */
function gate(args: string[]): Promise<{ wallMs: number; jobs: number; jobsWallMs: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let out = "";
    const child = spawn(
      process.execPath,
      [
        "bin/faultline.mjs",
        "gate",
        ...args,
        "--baseline",
        "payments:broken",
        "--candidate",
        "payments:fixed",
      ],
      { cwd: root },
    );
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("close", (code) => {
      const wallMs = performance.now() - start;
      // "12 job(s) in 3.10s (Postgres and template 0.20s); 4 at a time: 8.1s of jobs in 2.9s, …"
      const figures = /(\d+) job\(s\) in [\d.]+s .*?: [\d.]+s of jobs in ([\d.]+)s/.exec(out);
      if (code !== 0 || !figures)
        return reject(new Error(`faultline gate exited ${code}:\n${out}`));
      resolve({ wallMs, jobs: Number(figures[1]), jobsWallMs: Number(figures[2]) * 1000 });
    });
  });
}

const MATRIX = `
import { creditsApplied, creditsPending, defineScenario, dropColumn, noCascade, processingContinues, webhook } from "faultline";
export default defineScenario({
  name: "bench-matrix",
  randomSeed: 1,
  matrix: {
    schema: [
      { name: "missing", drift: [dropColumn("users.credits_balance")], invariants: [creditsPending()] },
      { name: "present", drift: [], invariants: [creditsApplied()] },
      { name: "present again", drift: [], invariants: [creditsApplied()] },
    ],
    delivery: ["inOrder", "duplicated"],
  },
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }] },
  webhooks: [
    webhook("checkout.session.completed", { customer: "cus_KnownCustomer01", email: "known@example.com", credits: "5" }),
    webhook("checkout.session.completed", { customer: "cus_New", email: "new@example.com", credits: "7" }),
  ],
  invariants: [noCascade(), processingContinues()],
});
`;

const dir = await mkdtemp(path.join(tmpdir(), "faultline-bench-gate-"));
try {
  const matrix = path.join(dir, "bench-matrix.scenario.ts");
  await writeFile(matrix, MATRIX);
  // One warm-up of each, so the bundle and the template cache exist.
  await gate(["scenarios/credits-balance-hotfix.scenario.ts"]);
  await gate([matrix, "--concurrency", "1"]);

  const flagship: number[] = [];
  const serial: number[] = [];
  const parallel: number[] = [];
  let jobs = 0;
  for (let i = 0; i < runs; i++) {
    flagship.push((await gate(["scenarios/credits-balance-hotfix.scenario.ts"])).wallMs);
    const one = await gate([matrix, "--concurrency", "1"]);
    const many = await gate([matrix]);
    jobs = one.jobs;
    serial.push(one.jobsWallMs);
    parallel.push(many.jobsWallMs);
  }
  const perSecond = (ms: number) => (jobs / (ms / 1000)).toFixed(1);
  console.log(
    `flagship gate (2 services × 2 schemas = 4 cells), spawn to exit, median of ${runs}: ${(median(flagship) / 1000).toFixed(2)} s (target ≤ 5 s)`,
  );
  console.log(
    `matrix gate, ${jobs} jobs: concurrency 1 ${perSecond(median(serial))} jobs/s; concurrency ${defaultConcurrency()} (default) ${perSecond(median(parallel))} jobs/s; ×${(median(serial) / median(parallel)).toFixed(2)} from parallelism (${availableParallelism()} cores)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
