import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type RunEnvironment, readSchemaShape } from "../postgres/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import {
  type InvariantResult,
  type InvariantSpec,
  type LoadedScenario,
  type RunOptions,
  runScenarios,
  type Scenario,
  type ScenarioResult,
} from "../scenario/index.ts";
import type { CandidateFault, FaultKind, StatementSite } from "./kinds.ts";

/** What happened to the service under one candidate fault. */
export type Outcome = "survived" | "failed safe" | "harmful" | "errored";

export interface Candidate {
  id: number;
  scenario: string;
  fault: CandidateFault;
  outcome?: Outcome;
  /** The invariants that failed (harmful ones first). */
  failed?: string[];
  /** The first failed invariant's `seen`, for the report line. */
  seen?: string;
  /** Where the shrunk scenario was written, for a harmful one. */
  file?: string;
  /** How many webhooks the written scenario kept, of how many. */
  webhooks?: { kept: number; of: number };
}

export interface ExploreReport {
  candidates: Candidate[];
  /** Statement sites and columns found on the path, per scenario. */
  sites: number;
  columns: number;
  pruned: { reason: string; count: number }[];
  /** Scenarios that failed clean, one line each saying why: nothing was explored for them. */
  failedClean: string[];
  /** Candidates not run because the budget or --max-runs ran out. */
  notRun: number;
  ms: number;
}

export interface ExploreOptions {
  environment: RunEnvironment;
  run: Omit<RunOptions, "onScenarioEnd" | "onRunStart" | "keepTrace" | "traceDir">;
  kinds: FaultKind[];
  maxRuns?: number;
  budgetMs?: number;
  outDir: string;
  /** The command line that found it, for the written files' header. */
  command: string;
  onLine?: (line: string) => void;
}

/**
 * Invariants that, failing, mean harm beyond one refused webhook: a cascade, a poisoned or
 * aborted connection, a later webhook failing because of an earlier one, an effect lost or
 * doubled. A fault that only makes its own webhook answer non-2xx (so the provider retries)
 * and breaks none of these is "failed safe". `idempotent` is not among them: a redelivery
 * after a refused first delivery rightly changes the tables (it is the first success).
 */
const HARMFUL = new Set([
  "noCascade",
  "noAbortedIdleConnections",
  "rollsBackAfterError",
  "processingContinues",
  "noLostEvents",
  "effectOnce",
  "exactlyOnceEffect",
]);

/** Invariants about effects of acknowledged events. */
const EFFECTS = new Set(["noLostEvents", "effectOnce", "exactlyOnceEffect"]);

/**
 * Under drift every webhook that needs the missing column fails on its own, each refused and
 * retried by the provider: later failures are the drift's, not an earlier webhook's.
 */
const HARMFUL_UNDER_DRIFT = new Set([...HARMFUL].filter((name) => name !== "processingContinues"));

/** Judged on every candidate besides the scenario's own. */
const GENERIC: InvariantSpec[] = [
  { invariant: "noCascade" },
  { invariant: "noAbortedIdleConnections" },
  { invariant: "rollsBackAfterError" },
  { invariant: "processingContinues" },
] as InvariantSpec[];

function invariantName(result: InvariantResult): string {
  return result.name.replace(/\(.*$/, "");
}

/** The statement sites of a clean run's trace, each SQL text once per occurrence. */
export function statementSites(trace: TraceEntry[]): StatementSite[] {
  const seen = new Map<string, number>();
  const sites: StatementSite[] = [];
  for (const entry of trace) {
    if (!entry.sql || "lost" in entry.result || entry.step === "sync") continue;
    const occurrence = (seen.get(entry.sql) ?? 0) + 1;
    seen.set(entry.sql, occurrence);
    // tx is the status after the statement: a BEGIN leaves T, a COMMIT was in one before.
    const inTransaction =
      entry.kind === "COMMIT" ||
      entry.kind === "ROLLBACK" ||
      (entry.kind !== "BEGIN" && entry.tx !== "I");
    sites.push({ sql: entry.sql, kind: entry.kind, occurrence, inTransaction });
  }
  return sites;
}

const word = (name: string) => new RegExp(`(?:^|[^\\w.])(?:"?\\w+"?\\.)?"?${name}"?(?![\\w])`, "i");

/** Schema-qualified columns of tables the statements name, that the statements name too. */
export function columnsOnPath(
  sites: StatementSite[],
  shape: Map<string, Map<string, string>>,
): string[] {
  const texts = [...new Set(sites.map((s) => s.sql))];
  const found: string[] = [];
  for (const [table, columns] of shape) {
    const bare = table.slice(table.lastIndexOf(".") + 1);
    const naming = texts.filter((t) => word(bare).test(t));
    if (!naming.length) continue;
    for (const column of columns.keys())
      if (naming.some((t) => word(column).test(t))) found.push(`${table}.${column}`);
  }
  return found;
}

const RISK = (site: StatementSite) =>
  (site.inTransaction ? 4 : 0) +
  (["INSERT", "UPDATE", "DELETE"].includes(site.kind) ? 2 : 0) +
  (site.kind === "COMMIT" ? 3 : 0);

/** The candidates for one scenario's path, pruned, riskiest first; and what was pruned. */
export function candidatesFor(
  sites: StatementSite[],
  columns: string[],
  kinds: FaultKind[],
): { faults: CandidateFault[]; pruned: { reason: string; count: number }[] } {
  const faults: CandidateFault[] = [];
  let sameState = 0;
  const keys = new Set<string>();
  const ranked = sites
    .map((site, index) => ({ site, index }))
    .sort((a, b) => RISK(b.site) - RISK(a.site) || a.index - b.index);
  // The incident itself first: a column the path uses, gone.
  for (const kind of kinds)
    if (kind.atColumn)
      for (const column of columns) {
        const fault = kind.atColumn(column);
        if (fault) faults.push(fault);
      }
  for (const { site, index } of ranked) {
    for (const kind of kinds) {
      if (!kind.atSite) continue;
      // One per statement and kind, unless a later occurrence runs in another transaction state.
      const key = `${kind.name}\0${site.sql}\0${site.inTransaction}`;
      const fault = kind.atSite(site, index);
      if (!fault) continue;
      if (keys.has(key)) {
        sameState++;
        continue;
      }
      keys.add(key);
      faults.push(fault);
    }
  }
  const pruned = sameState
    ? [
        {
          reason:
            "a later occurrence of a statement in the same transaction state as one already tried",
          count: sameState,
        },
      ]
    : [];
  return { faults, pruned };
}

/** The scenario with the candidate's fault in, judged by its own and the generic invariants. */
function withFault(base: Scenario, fault: CandidateFault, name: string, seed: number): Scenario {
  const invariants = [...base.invariants];
  for (const spec of GENERIC)
    if (!invariants.some((i) => i.invariant === spec.invariant)) invariants.push(spec);
  return {
    ...base,
    name,
    randomSeed: seed,
    drift: [...base.drift, ...fault.drift],
    faults: {
      seed: base.faults?.seed ?? seed,
      rules: [...(base.faults?.rules ?? []), ...fault.rules],
    },
    invariants,
  } as Scenario;
}

/** Survived, failed safe, harmful, or errored (the run could not judge it). */
export function classify(
  result: ScenarioResult,
  underDrift = false,
): { outcome: Outcome; failed: string[]; seen?: string } {
  const harmfulNames = underDrift ? HARMFUL_UNDER_DRIFT : HARMFUL;
  if (result.verdict === "error")
    return { outcome: "errored", failed: [], seen: result.error?.message.split("\n")[0] };
  // An invariant whose own query cannot run (the candidate dropped a column it reads) says
  // nothing about the service: it is left out rather than counted against it.
  const failed = result.invariants.filter(
    (r) => !r.passed && !/^(?:could not be judged|query failed)/.test(r.seen),
  );
  if (!failed.length) return { outcome: "survived", failed: [] };
  // An effect can only be lost or doubled behind an acknowledgement: with every delivery
  // refused, the provider retries them all, and the effect checks have nothing to judge.
  const acknowledged = result.deliveries.some(
    (d) => d.status !== undefined && d.status >= 200 && d.status < 300,
  );
  const harmful = failed.filter(
    (r) => harmfulNames.has(invariantName(r)) && (acknowledged || !EFFECTS.has(invariantName(r))),
  );
  const names = [...harmful, ...failed.filter((r) => !harmful.includes(r))].map(invariantName);
  if (harmful.length)
    return { outcome: "harmful", failed: names, seen: `${harmful[0]?.name}: ${harmful[0]?.seen}` };
  // Its own checks failed: safe only when the provider was told (a non-2xx), else the effect
  // is missing behind a 2xx — acknowledged without effect, the silent loss.
  const refused = result.deliveries.some((d) => d.status === undefined || d.status >= 300);
  return refused
    ? { outcome: "failed safe", failed: names, seen: `${failed[0]?.name}: ${failed[0]?.seen}` }
    : {
        outcome: "harmful",
        failed: ["acknowledgedWithoutEffect", ...names],
        seen: `acknowledged without effect: ${failed[0]?.name}: ${failed[0]?.seen}`,
      };
}

async function runMany(
  scenarios: LoadedScenario[],
  options: ExploreOptions,
): Promise<ScenarioResult[]> {
  if (!scenarios.length) return [];
  const summary = await runScenarios(scenarios, options.environment, options.run);
  return summary.results;
}

/**
 * Drop webhooks while the same harmful invariant still fails (greedy delta debugging: one
 * step at a time, from the last), so the written scenario is the smallest that shows it.
 */
async function shrink(
  file: string,
  scenario: Scenario,
  base: Scenario["drift"],
  key: string,
  options: ExploreOptions,
): Promise<Scenario> {
  let current = scenario;
  for (let i = current.webhooks.length - 1; i >= 0 && current.webhooks.length > 1; i--) {
    const step = current.webhooks[i] as Scenario["webhooks"][number];
    const named = "as" in step && step.as;
    if (named && current.webhooks.some((s) => "redeliver" in s && s.redeliver === named)) continue;
    const webhooks = current.webhooks.filter((_, j) => j !== i);
    if (!webhooks.some((s) => "fixture" in s || "recorded" in s || "batch" in s)) continue;
    const attempt = { ...current, webhooks, name: `${scenario.name}-s${i}` } as Scenario;
    const [result] = await runMany([{ file, scenario: attempt }], options);
    const judged = result && classify(result, scenario.drift.length > base.length);
    if (judged?.outcome === "harmful" && judged.failed.includes(key))
      current = { ...attempt, name: scenario.name };
  }
  return current;
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40)
    .replace(/-$/, "");

/** Never overwrites: a name taken gets -2, -3, … */
function freeName(dir: string, base: string): string {
  for (let n = 1; ; n++) {
    const file = path.join(dir, `${base}${n === 1 ? "" : `-${n}`}.scenario.ts`);
    if (!existsSync(file)) return file;
  }
}

async function writeFinding(
  candidate: Candidate,
  scenario: Scenario,
  key: string,
  options: ExploreOptions,
): Promise<string> {
  await mkdir(options.outDir, { recursive: true });
  const base = `${slug(candidate.scenario)}-${candidate.fault.kind}-${slug(candidate.fault.target)}`;
  const file = freeName(options.outDir, base);
  const name = path.basename(file, ".scenario.ts");
  const keep = scenario.invariants.filter((spec) => {
    const label = spec.invariant;
    return key === "acknowledgedWithoutEffect" ? !HARMFUL.has(label) : label === key;
  });
  const written = {
    name,
    description: `found by faultline explore: ${candidate.fault.kind} at ${candidate.fault.target}`,
    randomSeed: scenario.randomSeed,
    drift: scenario.drift,
    ...(Object.keys(scenario.seed ?? {}).length ? { seed: scenario.seed } : {}),
    webhooks: scenario.webhooks,
    ...(scenario.faults?.rules.length ? { faults: scenario.faults } : {}),
    invariants: keep.length ? keep : scenario.invariants,
    ...(scenario.webhookSecret ? { webhookSecret: scenario.webhookSecret } : {}),
  };
  // SQL or a message could hold "*/": it must not end the comment early.
  const line = (text: string) => ` * ${text.replace(/\*\//g, "* /")}`;
  const header = [
    "/**",
    line(`Found by \`faultline explore\`: ${candidate.fault.kind} at`),
    line(`  ${candidate.fault.target}`),
    line(`→ ${candidate.outcome}: ${candidate.seen ?? candidate.failed?.join(", ")}`),
    line(
      `From scenario ${candidate.scenario}${candidate.webhooks ? `; ${candidate.webhooks.kept} of its ${candidate.webhooks.of} webhooks kept (shrunk)` : ""}.`,
    ),
    line(`Found with: ${options.command}`),
    line("Run it: npx faultline run <this file> (it fails until the service is fixed)."),
    " */",
  ];
  await writeFile(
    file,
    `${header.join("\n")}\nimport { defineScenario } from "faultline";\n\nexport default defineScenario(${JSON.stringify(written, null, 2)});\n`,
    { flag: "wx" },
  );
  return file;
}

/**
 * Explore each scenario's path: run it clean, take its statement sites and columns, try every
 * candidate fault on its own clone, classify, and write each harmful finding as a shrunk
 * scenario file.
 */
export async function explore(
  scenarios: LoadedScenario[],
  options: ExploreOptions,
): Promise<ExploreReport> {
  const started = Date.now();
  const say = options.onLine ?? (() => {});
  const report: ExploreReport = {
    candidates: [],
    sites: 0,
    columns: 0,
    pruned: [],
    failedClean: [],
    notRun: 0,
    ms: 0,
  };
  let id = 0;
  let runs = 0;
  for (const loaded of scenarios) {
    const [clean] = (
      await runScenarios([loaded], options.environment, { ...options.run, keepTrace: true })
    ).results;
    if (clean?.verdict !== "pass") {
      const why = clean?.error
        ? clean.error.message.split("\n")[0]
        : clean?.invariants
            .filter((r) => !r.passed)
            .map((r) => r.name)
            .join(", ");
      report.failedClean.push(
        `${loaded.scenario.name}: fails clean (${clean?.verdict ?? "no result"}: ${why}): fix that first; nothing explored`,
      );
      continue;
    }
    const trace = ((clean as { trace?: TraceEntry[] }).trace ?? []) as TraceEntry[];
    const sites = statementSites(trace);
    const catalog = await options.environment.databases.create(
      `${loaded.scenario.name}-catalog`,
      [],
    );
    let shape: Map<string, Map<string, string>>;
    try {
      shape = await readSchemaShape((sql) => catalog.query(sql));
    } finally {
      await options.environment.databases.drop(catalog.name);
    }
    // A column the scenario's own seed rows write cannot be dropped: the seeding would fail.
    const seeded = new Set(
      Object.entries(loaded.scenario.seed ?? {}).flatMap(([table, rows]) =>
        rows.flatMap((row) => Object.keys(row).map((c) => `${table}.${c}`)),
      ),
    );
    const onPath = columnsOnPath(sites, shape);
    const columns = onPath.filter((c) => !seeded.has(c));
    if (onPath.length > columns.length) {
      const reason = "a column the scenario's seed rows write (dropping it fails the seeding)";
      const same = report.pruned.find((q) => q.reason === reason);
      if (same) same.count += onPath.length - columns.length;
      else report.pruned.push({ reason, count: onPath.length - columns.length });
    }
    report.sites += new Set(sites.map((s) => s.sql)).size;
    report.columns += columns.length;
    const { faults, pruned } = candidatesFor(sites, columns, options.kinds);
    for (const p of pruned) {
      const same = report.pruned.find((q) => q.reason === p.reason);
      if (same) same.count += p.count;
      else report.pruned.push({ ...p });
    }
    say(
      `${loaded.scenario.name}: ${new Set(sites.map((s) => s.sql)).size} statement site(s), ${columns.length} column(s) on the path, ${faults.length} candidate(s)`,
    );
    const seed = clean.seed;
    // --max-runs caps the candidates up front; the budget is checked between batches (a batch
    // is a few rounds of the worker pool, so the clock is read often without idling workers).
    const allowed =
      options.maxRuns === undefined ? faults : faults.slice(0, Math.max(0, options.maxRuns - runs));
    const batch = Math.max(1, (options.run.concurrency ?? 2) * 4);
    let tried = 0;
    while (tried < allowed.length) {
      if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) break;
      const chunk = allowed.slice(tried, tried + batch).map((fault) => ({
        id: ++id,
        scenario: loaded.scenario.name,
        fault,
      })) as Candidate[];
      const results = await runMany(
        chunk.map((c) => ({
          file: loaded.file,
          scenario: withFault(loaded.scenario, c.fault, `${loaded.scenario.name}-x${c.id}`, seed),
        })),
        options,
      );
      chunk.forEach((candidate, i) => {
        const result = results[i];
        const judged = result
          ? classify(result, candidate.fault.drift.length > 0)
          : { outcome: "errored" as const, failed: [], seen: "no result" };
        candidate.outcome = judged.outcome;
        candidate.failed = judged.failed;
        if (judged.seen) candidate.seen = judged.seen;
      });
      report.candidates.push(...chunk);
      tried += chunk.length;
    }
    runs += tried;
    report.notRun += faults.length - tried;
    for (const candidate of report.candidates.filter(
      (c) => c.scenario === loaded.scenario.name && c.outcome === "harmful",
    )) {
      const key = candidate.failed?.[0] as string;
      const full = withFault(
        loaded.scenario,
        candidate.fault,
        `${loaded.scenario.name}-found`,
        seed,
      );
      const small = await shrink(loaded.file, full, loaded.scenario.drift, key, options);
      candidate.webhooks = { kept: small.webhooks.length, of: full.webhooks.length };
      candidate.file = await writeFinding(candidate, small, key, options);
    }
  }
  report.ms = Date.now() - started;
  return report;
}
