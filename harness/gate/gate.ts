import { EXIT } from "../errors.ts";
import type { RunEnvironment } from "../postgres/index.ts";
import { newSeed } from "../random/index.ts";
import {
  cellMatches,
  concurrencyFor,
  expandMatrix,
  type Job,
  type JobOptions,
  type LoadedScenario,
  runJobs,
  type ScenarioResult,
} from "../scenario/index.ts";
import type { ServiceSpec } from "../service/index.ts";

/**
 * What a scenario (or one cell) shows about the change:
 * - "proves the fix": it fails on the baseline and passes on the candidate;
 * - "regresses": it passes on the baseline and fails on the candidate;
 * - "not fixed": it fails on both;
 * - "does not reproduce": it passes on both, for a scenario meant to reproduce an incident;
 * - "passes on both": it passes on both, for a `mustPassOnBaseline` guard;
 * - "error": either side could not be judged (bad scenario, broken infrastructure).
 */
export type GateOutcome =
  | "proves the fix"
  | "regresses"
  | "not fixed"
  | "does not reproduce"
  | "passes on both"
  | "error";

/** One cell run on both sides. */
export interface GateCell {
  cell?: Record<string, string>;
  outcome: GateOutcome;
  baseline: ScenarioResult;
  candidate: ScenarioResult;
}

/** One scenario's verdict over all its cells. */
export interface GateScenario {
  file: string;
  name: string;
  mustPassOnBaseline: boolean;
  outcome: GateOutcome;
  /** Whether this scenario lets the change through. */
  ok: boolean;
  cells: GateCell[];
}

/** The outcome of `faultline gate`. */
export interface GateSummary {
  baseline: string;
  candidate: string;
  seed: number;
  concurrency: number;
  scenarios: GateScenario[];
  setupMs: number;
  totalMs: number;
  /** The sum of every job's own time: against totalMs, what running in parallel bought. */
  jobsMs: number;
  exitCode: number;
}

/** How to run a gate: the two services, and a run's options. */
export interface GateOptions extends JobOptions {
  baseline: ServiceSpec;
  candidate: ServiceSpec;
  onGateStart?(info: {
    scenarios: number;
    cells: number;
    baseline: string;
    candidate: string;
    postgres: string;
    seed: number;
    concurrency: number;
  }): void | Promise<void>;
}

function cellOutcome(
  baseline: ScenarioResult,
  candidate: ScenarioResult,
  guard: boolean,
): GateOutcome {
  if (baseline.verdict === "error" || candidate.verdict === "error") return "error";
  if (baseline.verdict === "fail")
    return candidate.verdict === "pass" ? "proves the fix" : "not fixed";
  if (candidate.verdict === "fail") return "regresses";
  return guard ? "passes on both" : "does not reproduce";
}

/**
 * A scenario's outcome from its cells'. A cell that passes on both sides is what a backward-
 * compatibility cell should do, so a scenario proves the fix when no cell regresses or stays
 * broken and at least one cell fails before and passes after.
 */
export function scenarioOutcome(cells: GateOutcome[], guard: boolean): GateOutcome {
  for (const worst of ["error", "regresses", "not fixed", "proves the fix"] as const)
    if (cells.includes(worst)) return worst;
  return guard ? "passes on both" : "does not reproduce";
}

export function gateScenario(
  loaded: { file: string; name: string; mustPassOnBaseline: boolean },
  cells: GateCell[],
): GateScenario {
  const outcome = scenarioOutcome(
    cells.map((c) => c.outcome),
    loaded.mustPassOnBaseline,
  );
  return {
    ...loaded,
    outcome,
    ok: outcome === "proves the fix" || outcome === "passes on both",
    cells,
  };
}

/** Exit code: bad input beats broken infrastructure beats a gate that does not hold. */
export function gateExitCode(scenarios: GateScenario[]): number {
  const errors = scenarios
    .flatMap((s) => s.cells)
    .flatMap((c) => [c.baseline, c.candidate])
    .flatMap((r) => (r.error ? [r.error.exitCode] : []));
  for (const code of [EXIT.badInput, EXIT.infrastructure]) if (errors.includes(code)) return code;
  if (errors.length) return EXIT.infrastructure;
  return scenarios.every((s) => s.ok) ? EXIT.pass : EXIT.invariantFailed;
}

/**
 * Run every cell of every scenario against the baseline and the candidate service — the same
 * seed on both sides, so both get the same payloads in the same order and the same faults —
 * and say what each scenario shows about the change.
 */
export async function runGate(
  scenarios: LoadedScenario[],
  environment: RunEnvironment,
  options: GateOptions,
): Promise<GateSummary> {
  const startedAt = Date.now();
  const seed = options.seed ?? newSeed();
  const cells = scenarios.flatMap((loaded) =>
    expandMatrix(loaded)
      .filter((cell) => cellMatches(cell.cell, options.only))
      .map((cell) => ({ loaded, cell })),
  );
  // Baseline and candidate of a cell side by side in the queue, so both run early and together.
  const jobs: Job[] = cells.flatMap(({ cell }) => [
    { cell, service: options.baseline, side: "baseline" },
    { cell, service: options.candidate, side: "candidate" },
  ]);
  const concurrency = concurrencyFor(jobs, options.concurrency);
  await options.onGateStart?.({
    scenarios: scenarios.length,
    cells: cells.length,
    baseline: options.baseline.label,
    candidate: options.candidate.label,
    postgres: environment.postgres,
    seed,
    concurrency,
  });
  const results = await runJobs(jobs, environment, { ...options, concurrency, runSeed: seed });
  const byScenario = new Map<LoadedScenario, GateCell[]>();
  cells.forEach(({ loaded, cell }, i) => {
    const baseline = results[2 * i] as ScenarioResult;
    const candidate = results[2 * i + 1] as ScenarioResult;
    const list = byScenario.get(loaded) ?? [];
    list.push({
      ...(cell.cell ? { cell: cell.cell } : {}),
      outcome: cellOutcome(baseline, candidate, loaded.scenario.mustPassOnBaseline ?? false),
      baseline,
      candidate,
    });
    byScenario.set(loaded, list);
  });
  const gated = [...byScenario].map(([loaded, list]) =>
    gateScenario(
      {
        file: list[0]?.baseline.file ?? loaded.file,
        name: loaded.scenario.name,
        mustPassOnBaseline: loaded.scenario.mustPassOnBaseline ?? false,
      },
      list,
    ),
  );
  return {
    baseline: options.baseline.label,
    candidate: options.candidate.label,
    seed,
    concurrency,
    scenarios: gated,
    setupMs: environment.setupMs,
    totalMs: environment.setupMs + Date.now() - startedAt,
    jobsMs: results.reduce((sum, r) => sum + r.durationMs, 0),
    exitCode: gateExitCode(gated),
  };
}
