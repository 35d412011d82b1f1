import path from "node:path";
import { type RunEnvironment, readSchemaShape } from "../postgres/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import {
  freeScenarioPath,
  type InvariantResult,
  type InvariantSpec,
  type LoadedScenario,
  type RunOptions,
  runScenarios,
  type Scenario,
  type ScenarioResult,
  writeScenarioFile,
} from "../scenario/index.ts";
import type { CandidateFault, FaultKind, StatementSite, WebhookStep } from "./kinds.ts";
import { shrinkSet } from "./shrink.ts";

/** What happened to the service under one candidate fault. */
export type Outcome = "survived" | "failed safe" | "harmful" | "errored";

export interface Candidate {
  id: number;
  /** 2 when a first fault is followed by the provider's retry (and maybe the retry's fault). */
  depth?: 2;
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
  /** How many fault rules it kept (the candidate's and the scenario's own), of how many. */
  rules?: { kept: number; of: number };
  /** A harmful finding with the same site and invariant as this earlier one: not written twice. */
  sameAs?: number;
  /** The service refused a webhook under it (so the provider would retry): depth 2 follows it. */
  refused?: boolean;
  /** How long its run took, clone to verdict. */
  ms?: number;
  /**
   * For a written finding: whether a confirming run of the written scenario was harmful again.
   * False is a timing-dependent finding (a race): it happened, but `faultline run` may pass.
   */
  confirmed?: boolean;
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
  /** 2: each first fault the service refused is followed by the provider's retry, alone and with
   * a second fault at each statement only that failure reached. */
  depth?: 1 | 2;
  maxRuns?: number;
  budgetMs?: number;
  outDir: string;
  /** The command line that found it, for the written files' header. */
  command: string;
  onLine?: (line: string) => void;
  /** Harmful findings to leave unshrunk and unwritten: a baseline's known ones, already filed. */
  known?: (candidate: Candidate) => boolean;
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

/** Schema-qualified tables the statements name. */
export function tablesOnPath(
  sites: StatementSite[],
  shape: Map<string, Map<string, string>>,
): string[] {
  const texts = [...new Set(sites.map((s) => s.sql))];
  return [...shape.keys()].filter((table) =>
    texts.some((t) => word(table.slice(table.lastIndexOf(".") + 1)).test(t)),
  );
}

const bareName = (table: string) => table.slice(table.lastIndexOf(".") + 1);

/** Whether the statement names one of `tables` (schema-qualified or bare). */
const namesTable = (site: StatementSite, tables: string[]) =>
  tables.some((table) => word(bareName(table)).test(site.sql));

const RISK = (site: StatementSite) =>
  (site.inTransaction ? 4 : 0) +
  (["INSERT", "UPDATE", "DELETE"].includes(site.kind) ? 2 : 0) +
  (site.kind === "COMMIT" ? 3 : 0);

/** The candidates for one scenario's path, pruned, riskiest first; and what was pruned. */
export function candidatesFor(
  sites: StatementSite[],
  columns: string[],
  kinds: FaultKind[],
  path: { tables?: string[]; webhooks?: WebhookStep[]; schemaTables?: string[] } = {},
): { faults: CandidateFault[]; pruned: { reason: string; count: number }[] } {
  const faults: CandidateFault[] = [];
  let sameState = 0;
  let catalogOnly = 0;
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
  for (const kind of kinds)
    if (kind.atTable)
      for (const table of path.tables ?? []) {
        const fault = kind.atTable(table);
        if (fault) faults.push(fault);
      }
  for (const { site, index } of ranked) {
    const drifts = path.schemaTables ? namesTable(site, path.schemaTables) : true;
    for (const kind of kinds) {
      if (!kind.atSite) continue;
      if (kind.throughSchema && !drifts) {
        if (kind.atSite(site, index)) catalogOnly++;
        continue;
      }
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
  // Connection and delivery faults after the statements': they are coarser (a whole webhook).
  for (const kind of kinds) {
    const fault = kind.atConnect?.();
    if (fault) faults.push(fault);
  }
  for (const kind of kinds)
    if (kind.atDelivery && path.webhooks) faults.push(...kind.atDelivery(path.webhooks));
  const pruned = [
    {
      reason:
        "a later occurrence of a statement in the same transaction state as one already tried",
      count: sameState,
    },
    {
      reason:
        "42703/42P01 at a statement naming none of the schema's tables (the system catalog a driver reads does not drift)",
      count: catalogOnly,
    },
  ].filter((p) => p.count > 0);
  return { faults, pruned };
}

/** The provider's retry after a non-2xx, compressed in time, on every webhook of `steps`. */
function withRetries(steps: WebhookStep[]): WebhookStep[] {
  const retry = { like: "stripe", timeScale: 1e-5, maxAttempts: 3 } as const;
  return steps.map((step) => {
    if ("batch" in step && step.batch)
      return { ...step, batch: step.batch.map((inner) => ({ ...inner, retry })) } as WebhookStep;
    if ("addRule" in step || "removeRule" in step) return step;
    return { ...step, retry } as WebhookStep;
  });
}

/**
 * Depth 2 after a first fault the service refused: the provider's retry alone (does the retry
 * double an effect the failed attempt left?), and with a second fault at each statement that
 * only the failure reached (the error path: a ROLLBACK, the emergency INSERT) — one per such
 * statement and kind across all first faults, as at depth 1.
 */
export function secondFaults(
  first: CandidateFault,
  webhooks: WebhookStep[],
  cleanSites: StatementSite[],
  failureTrace: TraceEntry[],
  kinds: FaultKind[],
  tried: Set<string>,
  schemaTables?: string[],
): CandidateFault[] {
  const retried = withRetries(first.webhooks ?? webhooks);
  const out: CandidateFault[] = [
    { ...first, kind: `${first.kind}+retry`, webhooks: retried, depth: 2 },
  ];
  const known = new Set(cleanSites.map((site) => site.sql));
  statementSites(failureTrace)
    .filter((site) => !known.has(site.sql))
    .forEach((site, index) => {
      const drifts = schemaTables ? namesTable(site, schemaTables) : true;
      for (const kind of kinds) {
        if (kind.throughSchema && !drifts) continue;
        const second = kind.atSite?.(site, 1000 + index);
        const key = `${kind.name}\0${site.sql}\0${site.inTransaction}`;
        if (!second || tried.has(key)) continue;
        tried.add(key);
        out.push({
          kind: `${first.kind}+${kind.name}`,
          target: `${first.target} → ${second.target}`,
          rules: [...first.rules, ...second.rules],
          drift: [...first.drift, ...second.drift],
          webhooks: retried,
          ...(first.invariants ? { invariants: first.invariants } : {}),
          ...(first.harms ? { harms: first.harms } : {}),
          depth: 2,
        });
      }
    });
  return out;
}

/** The scenario with the candidate's fault in, judged by its own and the generic invariants. */
function withFault(base: Scenario, fault: CandidateFault, name: string, seed: number): Scenario {
  const invariants = [...base.invariants];
  for (const spec of [...GENERIC, ...(fault.invariants ?? [])])
    if (!invariants.some((i) => i.invariant === spec.invariant)) invariants.push(spec);
  return {
    ...base,
    name,
    randomSeed: seed,
    drift: [...base.drift, ...fault.drift],
    webhooks: fault.webhooks ?? base.webhooks,
    faults: {
      seed: base.faults?.seed ?? seed,
      rules: [...(base.faults?.rules ?? []), ...fault.rules],
    },
    invariants,
  } as Scenario;
}

const acknowledgedDelivery = (d: ScenarioResult["deliveries"][number]) =>
  d.status !== undefined && d.status >= 200 && d.status < 300;

/** Deliveries the provider was left to retry: refused, and no later attempt of theirs was acknowledged. */
function refusedDeliveries(result: ScenarioResult): ScenarioResult["deliveries"] {
  const key = (d: ScenarioResult["deliveries"][number]) => `${d.label}\0${d.eventId}`;
  const answered = new Set(result.deliveries.filter(acknowledgedDelivery).map(key));
  return result.deliveries.filter((d) => !acknowledgedDelivery(d) && !answered.has(key(d)));
}

type Delivered = ScenarioResult["deliveries"][number];
// Fault and delivery times come from one clock, at millisecond precision.
const SLACK_MS = 2;

/**
 * The deliveries an injected fault stopped: refused, sent after the delivery the fault fired in
 * was answered. Undefined when no explore fault fired inside a delivery; then the invariant's own
 * "later" stands. The delivery the fault hit is never its own victim — though a failure earlier
 * in the scenario (its own drift's 42703, handled) makes processingContinues count it as one.
 */
function victimsOfFault(result: ScenarioResult): Delivered[] | undefined {
  const fired = (result.faults ?? []).find((f) => f.rule.startsWith("explore-"));
  if (!fired) return undefined;
  const at = Date.parse(fired.at);
  const hit = result.deliveries.find(
    (d) => d.startedAt.getTime() - SLACK_MS <= at && at <= d.finishedAt.getTime() + SLACK_MS,
  );
  if (!hit) return undefined;
  const key = (d: Delivered) => `${d.label}\0${d.eventId}`;
  return refusedDeliveries(result).filter(
    (d) => !d.signature && key(d) !== key(hit) && d.startedAt.getTime() >= hit.finishedAt.getTime(),
  );
}

/**
 * Survived, failed safe, harmful, or errored (the run could not judge it). `harms` names
 * invariants that are harm for this candidate besides the generic harmful ones.
 */
export function classify(
  result: ScenarioResult,
  underDrift = false,
  harms: readonly string[] = [],
  atStartup = false,
): { outcome: Outcome; failed: string[]; seen?: string } {
  const harmfulNames = new Set([...(underDrift ? HARMFUL_UNDER_DRIFT : HARMFUL), ...harms]);
  // It started clean, so a service that will not start under a startup fault is the fault's
  // doing: down, it acknowledges nothing, and the provider retries until a restart succeeds.
  if (result.verdict === "error" && atStartup && result.error?.code === "FL_SERVICE_FAILED")
    return {
      outcome: "failed safe",
      failed: ["serviceStarts"],
      seen: `the service did not start (${result.error.message.split("\n")[0]}); a supervisor must restart it`,
    };
  if (result.verdict === "error")
    return { outcome: "errored", failed: [], seen: result.error?.message.split("\n")[0] };
  // A webhook the service never answered within the delivery timeout: the provider's worker
  // and the service's connection are held; at load that is an outage, whatever else passed.
  const hung = result.deliveries.find((d) => !d.status && /timeout/i.test(d.error ?? ""));
  // An invariant whose own query cannot run (the candidate dropped a column it reads) says
  // nothing about the service: it is left out rather than counted against it.
  const failed = result.invariants.filter(
    (r) => !r.passed && !/^(?:could not be judged|query failed)/.test(r.seen),
  );
  if (hung)
    return {
      outcome: "harmful",
      failed: ["hang", ...failed.map(invariantName)],
      seen: `hang: ${hung.label} got no answer (${hung.error})`,
    };
  if (!failed.length) return { outcome: "survived", failed: [] };
  // An effect can only be lost or doubled behind an acknowledgement: with every delivery
  // refused, the provider retries them all, and the effect checks have nothing to judge.
  const acknowledged = result.deliveries.some(acknowledgedDelivery);
  const victims = victimsOfFault(result);
  const harmful = failed.filter(
    (r) =>
      harmfulNames.has(invariantName(r)) &&
      (acknowledged || !EFFECTS.has(invariantName(r))) &&
      !(invariantName(r) === "processingContinues" && victims?.length === 0),
  );
  const names = [...harmful, ...failed.filter((r) => !harmful.includes(r))].map(invariantName);
  if (harmful.length)
    return { outcome: "harmful", failed: names, seen: `${harmful[0]?.name}: ${harmful[0]?.seen}` };
  // Its own checks failed: safe only when the provider was told (a non-2xx or no answer), else
  // the effect is missing behind a 2xx — acknowledged without effect, the silent loss.
  const refused = refusedDeliveries(result).length > 0;
  return refused
    ? { outcome: "failed safe", failed: names, seen: `${failed[0]?.name}: ${failed[0]?.seen}` }
    : {
        outcome: "harmful",
        failed: ["acknowledgedWithoutEffect", ...names],
        seen: `acknowledged without effect: ${failed[0]?.name}: ${failed[0]?.seen}`,
      };
}

const judgeCandidate = (fault: CandidateFault) => (result: ScenarioResult) =>
  classify(result, fault.drift.length > 0, fault.harms, fault.atStartup);

async function runMany(
  scenarios: LoadedScenario[],
  options: ExploreOptions,
  keepTrace = false,
): Promise<ScenarioResult[]> {
  if (!scenarios.length) return [];
  const summary = await runScenarios(scenarios, options.environment, {
    ...options.run,
    ...(keepTrace ? { keepTrace } : {}),
  });
  return summary.results;
}

/** One thing the shrinker may take out of a finding's scenario. */
type Part = { webhook: number } | { rule: number } | { table: string; row: number };

const sends = (step: WebhookStep) =>
  ("fixture" in step && step.fixture !== undefined) ||
  ("recorded" in step && step.recorded !== undefined) ||
  ("batch" in step && step.batch !== undefined);

/**
 * The scenario with only `parts` of its webhooks, fault rules and seed rows; a redelivery stays
 * exactly when the webhook it repeats does. Undefined when no webhook that sends is left.
 */
function keepOnly(scenario: Scenario, parts: Part[]): Scenario | undefined {
  const has = (test: (p: Part) => boolean) => parts.some(test);
  const named = new Set<string>();
  const webhooks = scenario.webhooks.filter((step, i) => {
    if ("redeliver" in step && step.redeliver !== undefined) return named.has(step.redeliver);
    if (!has((p) => "webhook" in p && p.webhook === i)) return false;
    if ("as" in step && step.as) named.add(step.as);
    for (const inner of ("batch" in step && step.batch) || []) if (inner.as) named.add(inner.as);
    return true;
  });
  if (!webhooks.some(sends)) return undefined;
  const rules = (scenario.faults?.rules ?? []).filter((_, i) =>
    has((p) => "rule" in p && p.rule === i),
  );
  const seed = Object.fromEntries(
    Object.entries(scenario.seed ?? {})
      .map(
        ([table, rows]) =>
          [
            table,
            rows.filter((_, i) => has((p) => "table" in p && p.table === table && p.row === i)),
          ] as const,
      )
      .filter(([, rows]) => rows.length),
  );
  return {
    ...scenario,
    webhooks,
    seed,
    faults: { seed: scenario.faults?.seed ?? 0, rules },
  } as Scenario;
}

/**
 * The smallest scenario that still shows the finding: webhooks, fault rules and seed rows
 * taken out by delta debugging while the same harmful invariant fails.
 */
async function shrink(
  file: string,
  scenario: Scenario,
  judge: (result: ScenarioResult) => ReturnType<typeof classify>,
  key: string,
  options: ExploreOptions,
): Promise<Scenario> {
  // A redelivery is no part of its own: it goes with the delivery it repeats (keepOnly), else
  // a shrink could keep the delivery alone and fail idempotent for having nothing to judge.
  const parts: Part[] = [
    ...scenario.webhooks.flatMap((step, webhook) =>
      "redeliver" in step && step.redeliver !== undefined ? [] : [{ webhook }],
    ),
    ...(scenario.faults?.rules ?? []).map((_, rule) => ({ rule })),
    ...Object.entries(scenario.seed ?? {}).flatMap(([table, rows]) =>
      rows.map((_, row) => ({ table, row })),
    ),
  ];
  let attempt = 0;
  const kept = await shrinkSet(parts, async (subsets) => {
    const tries = subsets.map((subset) => keepOnly(scenario, subset));
    const runnable = tries.flatMap((s) =>
      s ? [{ file, scenario: { ...s, name: `${scenario.name}-s${++attempt}` } }] : [],
    );
    const results = await runMany(runnable, options);
    let next = 0;
    return tries.map((s) => {
      if (!s) return false;
      const result = results[next++];
      const judged = result && judge(result);
      return judged?.outcome === "harmful" && judged.failed.includes(key);
    });
  });
  return keepOnly(scenario, kept) ?? scenario;
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40)
    .replace(/-$/, "");

/** Never overwrites: a name taken gets -2, -3, … */
async function writeFinding(
  candidate: Candidate,
  scenario: Scenario,
  key: string,
  options: ExploreOptions,
): Promise<string> {
  const base = `${slug(candidate.scenario)}-${candidate.fault.kind}-${slug(candidate.fault.target)}`;
  const file = freeScenarioPath(path.join(options.outDir, `${base}.scenario.ts`));
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
  const header = [
    `Found by \`faultline explore\`: ${candidate.fault.kind} at`,
    `  ${candidate.fault.target}`,
    `→ ${candidate.outcome}: ${candidate.seen ?? candidate.failed?.join(", ")}`,
    `From scenario ${candidate.scenario}${candidate.webhooks ? `; ${candidate.webhooks.kept} of its ${candidate.webhooks.of} webhooks kept${candidate.webhooks.kept < candidate.webhooks.of ? " (shrunk)" : ""}` : ""}${candidate.rules?.of ? `; ${candidate.rules.kept} of ${candidate.rules.of} fault rules kept` : ""}.`,
    `Found with: ${options.command}`,
    ...(candidate.confirmed === false
      ? [
          "Timing-dependent: harmful once, but not again in a confirming run (a race):",
          "run it several times, or under load, to see it fail.",
        ]
      : ["Run it: npx faultline run <this file> (it fails until the service is fixed)."]),
  ];
  await writeScenarioFile(file, header, written);
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
    // With the scenario's own drift: a column it already drops is not on the path to drop again.
    const catalog = await options.environment.databases.create(
      `${loaded.scenario.name}-catalog`,
      loaded.scenario.drift ?? [],
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
    const seededTables = new Set(Object.keys(loaded.scenario.seed ?? {}).map(bareName));
    const allTables = tablesOnPath(sites, shape);
    const tables = allTables.filter((t) => !seededTables.has(bareName(t)));
    if (allTables.length > tables.length) {
      const reason = "a table the scenario's seed rows fill (dropping it fails the seeding)";
      const same = report.pruned.find((q) => q.reason === reason);
      if (same) same.count += allTables.length - tables.length;
      else report.pruned.push({ reason, count: allTables.length - tables.length });
    }
    if (onPath.length > columns.length) {
      const reason = "a column the scenario's seed rows write (dropping it fails the seeding)";
      const same = report.pruned.find((q) => q.reason === reason);
      if (same) same.count += onPath.length - columns.length;
      else report.pruned.push({ reason, count: onPath.length - columns.length });
    }
    report.sites += new Set(sites.map((s) => s.sql)).size;
    report.columns += columns.length;
    const schemaTables = [...shape.keys()];
    const { faults, pruned } = candidatesFor(sites, columns, options.kinds, {
      tables,
      webhooks: loaded.scenario.webhooks,
      schemaTables,
    });
    for (const p of pruned) {
      const same = report.pruned.find((q) => q.reason === p.reason);
      if (same) same.count += p.count;
      else report.pruned.push({ ...p });
    }
    say(
      `${loaded.scenario.name}: ${new Set(sites.map((s) => s.sql)).size} statement site(s), ${columns.length} column(s) on the path, ${faults.length} candidate(s)`,
    );
    const seed = clean.seed;
    const depth2 = options.depth === 2;
    // --max-runs caps the candidates up front; the budget is checked between batches (a batch
    // is a few rounds of the worker pool, so the clock is read often without idling workers).
    const tryAll = async (list: CandidateFault[]) => {
      const allowed =
        options.maxRuns === undefined ? list : list.slice(0, Math.max(0, options.maxRuns - runs));
      // Without a budget there is no clock to read: one pass, so a perRun service starts once
      // per worker rather than once per batch.
      const batch =
        options.budgetMs === undefined
          ? Math.max(1, allowed.length)
          : Math.max(1, (options.run.concurrency ?? 2) * 4);
      const traces = new Map<Candidate, TraceEntry[]>();
      let tried = 0;
      while (tried < allowed.length) {
        if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) break;
        const chunk = allowed.slice(tried, tried + batch).map((fault) => ({
          id: ++id,
          scenario: loaded.scenario.name,
          fault,
          ...(fault.depth === 2 ? { depth: 2 } : {}),
        })) as Candidate[];
        const results = await runMany(
          chunk.map((c) => ({
            file: loaded.file,
            scenario: withFault(loaded.scenario, c.fault, `${loaded.scenario.name}-x${c.id}`, seed),
          })),
          options,
          depth2,
        );
        chunk.forEach((candidate, i) => {
          const result = results[i];
          const judged = result
            ? judgeCandidate(candidate.fault)(result)
            : { outcome: "errored" as const, failed: [], seen: "no result" };
          candidate.outcome = judged.outcome;
          candidate.failed = judged.failed;
          if (result) candidate.ms = result.durationMs;
          if (judged.seen) candidate.seen = judged.seen;
          if (result && refusedDeliveries(result).length) candidate.refused = true;
          const trace = (result as { trace?: TraceEntry[] } | undefined)?.trace;
          if (trace) traces.set(candidate, trace);
        });
        report.candidates.push(...chunk);
        tried += chunk.length;
      }
      runs += tried;
      report.notRun += list.length - tried;
      return traces;
    };
    const traces = await tryAll(faults);
    if (depth2) {
      // Followed: first faults the service refused without harm, riskiest first.
      const tried = new Set<string>();
      // The mildest first faults lead (survived before failed safe): a second fault on the
      // error path is best seen behind a first fault that leaves the rest of the path working.
      const mild = (c: Candidate) => (c.outcome === "survived" ? 0 : 1);
      const second = [...traces]
        .filter(([c]) => c.refused && c.outcome !== "harmful" && c.outcome !== "errored")
        .sort(([a], [b]) => mild(a) - mild(b))
        .flatMap(([c, trace]) =>
          secondFaults(
            c.fault,
            loaded.scenario.webhooks,
            sites,
            trace,
            options.kinds,
            tried,
            schemaTables,
          ),
        );
      say(
        `${loaded.scenario.name}: depth 2: ${second.length} candidate(s) after a refused first fault`,
      );
      await tryAll(second);
    }
    // One file per site and harmful invariant: four kinds of error at one SELECT that all end
    // in the same cascade are one weak point, listed four times but written once.
    const written = new Map<string, Candidate>();
    for (const candidate of report.candidates.filter(
      (c) => c.scenario === loaded.scenario.name && c.outcome === "harmful",
    )) {
      if (options.known?.(candidate)) continue;
      const key = candidate.failed?.[0] as string;
      const group = `${candidate.fault.target}\0${key}`;
      const first = written.get(group);
      if (first) {
        candidate.sameAs = first.id;
        continue;
      }
      written.set(group, candidate);
      const full = withFault(
        loaded.scenario,
        candidate.fault,
        `${loaded.scenario.name}-found`,
        seed,
      );
      const judge = judgeCandidate(candidate.fault);
      const small = await shrink(loaded.file, full, judge, key, options);
      // A shrink step can pass on a race that went the harmful way once: the file is written
      // only as it fails again, else unshrunk, else said to be timing-dependent.
      const reproduces = async (scenario: Scenario) => {
        const [result] = await runMany(
          [{ file: loaded.file, scenario: { ...scenario, name: `${scenario.name}-confirm` } }],
          options,
        );
        const judged = result && judge(result);
        return judged?.outcome === "harmful" && judged.failed.includes(key);
      };
      let chosen = small;
      candidate.confirmed = await reproduces(small);
      if (!candidate.confirmed && small !== full) {
        chosen = full;
        candidate.confirmed = await reproduces(full);
      }
      candidate.webhooks = { kept: chosen.webhooks.length, of: full.webhooks.length };
      candidate.rules = {
        kept: chosen.faults?.rules.length ?? 0,
        of: full.faults?.rules.length ?? 0,
      };
      candidate.file = await writeFinding(candidate, chosen, key, options);
    }
  }
  report.ms = Date.now() - started;
  return report;
}
