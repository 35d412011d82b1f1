import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import pg from "pg";
import {
  BadScenarioError,
  EXIT,
  exitCodeFor,
  FaultlineError,
  PostgresFailedError,
} from "../errors.ts";
import { defaultTmpRoot, makeTempDir, sleep, throwIfAborted } from "../lifecycle/index.ts";
import {
  type Databases,
  DriftFailedError,
  describeDrift,
  type RunEnvironment,
  type ScenarioDatabase,
  type ServerError,
  type StartedPostgres,
} from "../postgres/index.ts";
import { readTrace, type TraceEntry } from "../proxy/index.ts";
import { newSeed, type Random, seededRandom } from "../random/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import {
  type Delivery,
  deliver,
  type PreparedWebhook,
  type StripeApiVersion,
  succeeded,
  templateClock,
  webhookProviders,
} from "../webhooks/index.ts";
import { assertDriftKept, driftSnapshot } from "./drift-kept.ts";
import {
  evaluateSafely,
  type InvariantContext,
  type InvariantResult,
  invariants,
  prepareSafely,
  type Snapshot,
  snapshotTables,
} from "./invariants/index.ts";
import { displayPath, type LoadedScenario } from "./load.ts";
import { cellMatches, describeCell, expandMatrix, type ScenarioCell } from "./matrix.ts";
import type { Scenario } from "./schema.ts";
import {
  type Attachment,
  buildService,
  builtForTemplate,
  perRunHost,
  perScenarioHost,
  type ServiceHost,
} from "./service-host.ts";
import { type Planned, prepareSteps, type Step, shuffle, stripeRetrySchedule } from "./steps.ts";
import {
  compareWitnesses,
  serverLogSqlstates,
  traceSqlstates,
  type WitnessDisagreement,
} from "./witnesses.ts";

export { stripeRetrySchedule } from "./steps.ts";

const { escapeIdentifier } = pg;

/** The outcome of one scenario. */
export interface ScenarioResult {
  file: string;
  name: string;
  /**
   * For a scenario with a `matrix`, which cell this is: each axis and its value's label, e.g.
   * `{ schema: "no users.credits_balance" }`. Absent for a scenario without a matrix.
   */
  cell?: Record<string, string>;
  verdict: "pass" | "fail" | "error";
  /** Time to verdict: from the clone of the database to the last invariant, in milliseconds. */
  durationMs: number;
  seed: number;
  service: string;
  database: string | undefined;
  drift: string[];
  deliveries: Delivery[];
  invariants: InvariantResult[];
  /** Errors the server logged in the scenario's database (from the service's sessions). */
  serverErrorCount: number;
  /**
   * How many statements of the service's ended in each SQLSTATE, from the proxy trace (injected
   * faults included, as the service saw them): `{ "42703": 1, "25P02": 6 }`.
   */
  sqlstates: Record<string, number>;
  /**
   * The same counts from Postgres's own log, where faultline reads one (embedded and container
   * providers; absent for `url:`). They must equal `sqlstates`.
   */
  serverSqlstates?: Record<string, number>;
  /**
   * Set when the trace and the server log count some SQLSTATE differently: each such SQLSTATE
   * with both counts. A witness that disagrees with the other is a bug of faultline's.
   */
  witnessDisagreements?: WitnessDisagreement[];
  /** What the verdict's evidence comes from: the server's log and the proxy trace, or the trace alone. */
  oracle?: string;
  /** Set when the service died during the scenario: how, and its last lines of output. */
  serviceExit?: { how: string; output: string[] };
  /** Faults the proxy injected, in order. */
  faults: { conn: number; rule: string; fault: string; sql: string | undefined; at: string }[];
  /** For a result that did not pass: the command line that runs it again, same seed and all. */
  replay?: string;
  /** Set when the scenario could not be judged: bad scenario or broken infrastructure. */
  error?: { code: string; message: string; exitCode: number };
  /** Every statement the proxy traced, kept only with `keepTrace` (the HTML report draws it); not enumerable, so not in JSON. */
  trace?: TraceEntry[];
}

/** What a run announces when it starts. */
export interface RunStartInfo {
  scenarios: number;
  /** Scenarios times their matrix cells. */
  cells: number;
  service: string;
  postgres: string;
  /** The run's seed: what a scenario without randomSeed uses, unless --seed overrides both. */
  seed: number;
  concurrency: number;
}

/** The outcome of a run. */
export interface RunSummary {
  results: ScenarioResult[];
  seed: number;
  /** How many cells ran at once. */
  concurrency: number;
  /** Time to start Postgres and build the template, in milliseconds. */
  setupMs: number;
  /** Setup plus every scenario, in milliseconds. */
  totalMs: number;
  exitCode: number;
}

/** How to run scenarios. */
export interface RunOptions {
  service: ServiceSpec;
  /** Overrides each scenario's randomSeed (else the scenario's, else the run's own seed). */
  seed?: number;
  /** How many cells run at once (default: defaultConcurrency()). */
  concurrency?: number;
  /** Only the matrix cells with these values (axis → label), e.g. to replay one cell. */
  only?: Record<string, string>;
  /** How long the service may take to become ready, in milliseconds. */
  readyTimeoutMs?: number;
  /** Per webhook provider, the path the service receives it on (else the provider's default). */
  webhookPaths?: Record<string, string>;
  /** The Stripe API version the endpoint is pinned to (`webhooks.stripe.apiVersion`). */
  stripeApiVersion?: StripeApiVersion;
  /** Keep each scenario's proxy trace here as <name>.ndjson (else a temp dir, removed). */
  traceDir?: string;
  /** Keep the proxy trace on each result (`result.trace`); off so JSON reports stay small. */
  keepTrace?: boolean;
  signal?: AbortSignal;
  /** The clock for signatures, in milliseconds (template timestamps come from the seed). */
  now?: () => number;
  onRunStart?(info: RunStartInfo): void | Promise<void>;
  /** Told of steps of the run worth a line on the console (the build, a service restart). */
  onProgress?(line: string): void;
  onScenarioEnd?(result: ScenarioResult): void | Promise<void>;
}

/** The run's exit code: bad input beats broken infrastructure beats a failed invariant. */
export function exitCodeOf(results: ScenarioResult[]): number {
  const codes = results.map((r) =>
    r.error ? r.error.exitCode : r.verdict === "fail" ? EXIT.invariantFailed : EXIT.pass,
  );
  for (const code of [EXIT.badInput, EXIT.infrastructure, EXIT.invariantFailed])
    if (codes.includes(code)) return code;
  return EXIT.pass;
}

/** The provider a scenario's webhooks come from (its first webhook's), for the secret's shape. */
function mainProvider(scenario: Scenario): string {
  for (const step of scenario.webhooks) {
    const first = step.batch?.[0] ?? step;
    if (first.provider) return first.provider;
    if (first.fixture !== undefined || first.recorded !== undefined) break;
  }
  return "stripe";
}

function newSecret(provider: string, random: Random): string {
  return (webhookProviders[provider] ?? webhookProviders.stripe)?.newSecret(random) as string;
}

/** One cell of one scenario against one service: the unit the runner schedules. */
export interface Job {
  cell: ScenarioCell;
  service: ServiceSpec;
  /** Names the job's trace file apart from another service's run of the same cell (gate). */
  side?: string;
}

/** Cells run at once by default: they mostly wait on the service and Postgres, not the CPU. */
export function defaultConcurrency(): number {
  return Math.min(4, Math.max(2, availableParallelism() * 2));
}

/**
 * How many jobs run at once: as asked, else the default — except that a `perRun` service is
 * one process for the run unless asked otherwise, since its users chose it for being slow or
 * heavy to start (with --concurrency N, each worker starts its own).
 */
export function concurrencyFor(jobs: Job[], requested: number | undefined): number {
  const wanted =
    requested ?? (jobs.some((job) => job.service.restart === "perRun") ? 1 : defaultConcurrency());
  return Math.max(1, Math.min(wanted, jobs.length));
}

/** What running jobs needs besides the jobs: `service` is taken from each job. */
export type JobOptions = Omit<RunOptions, "service" | "onRunStart">;

/** Build each distinct service once (a gate's two sides may share the config's build). */
async function buildServices(services: ServiceSpec[], options: JobOptions): Promise<void> {
  const done = new Set<string>();
  for (const spec of services) {
    // A service that migrates itself was built already, to build the template.
    if (!spec.build || builtForTemplate.has(spec)) continue;
    const key = JSON.stringify([spec.build, spec.cwd, spec.env]);
    if (done.has(key)) continue;
    done.add(key);
    await buildService({ ...spec, build: spec.build }, options);
  }
}

/**
 * Run jobs on a pool of `concurrency` workers, each cell on its own database. Each worker has
 * its own host per service, so a `perRun` service is started once per worker. Results come
 * back in the jobs' order; `onScenarioEnd` hears of each as it finishes.
 */
export async function runJobs(
  jobs: Job[],
  environment: RunEnvironment,
  options: JobOptions & { runSeed: number },
): Promise<ScenarioResult[]> {
  const services = [...new Set(jobs.map((job) => job.service))];
  await buildServices(services, options);
  // One secret per perRun service: it reads it once at start.
  const runSecrets = new Map<ServiceSpec, string>();
  for (const spec of services) {
    if (spec.restart !== "perRun") continue;
    const first = jobs.find((job) => job.service === spec)?.cell.scenario;
    runSecrets.set(
      spec,
      first?.webhookSecret ??
        newSecret(first ? mainProvider(first) : "stripe", seededRandom(options.runSeed)),
    );
  }
  const results: ScenarioResult[] = new Array(jobs.length);
  let next = 0;
  // One worker's failure (an interrupt, a bug) stops the others taking further jobs.
  let stopped = false;
  let reported = Promise.resolve();
  const worker = async () => {
    const hosts = new Map<ServiceSpec, ServiceHost>();
    const hostFor = (spec: ServiceSpec) => {
      let host = hosts.get(spec);
      if (!host) {
        const hostOptions = {
          server: environment.server,
          spec,
          readyTimeoutMs: options.readyTimeoutMs,
          signal: options.signal,
        };
        const secret = runSecrets.get(spec);
        host = secret ? perRunHost({ ...hostOptions, secret }) : perScenarioHost(hostOptions);
        hosts.set(spec, host);
      }
      return host;
    };
    try {
      while (next < jobs.length && !stopped) {
        throwIfAborted(options.signal);
        const index = next++;
        const job = jobs[index] as Job;
        const result = await runOne(job, environment, hostFor(job.service), options);
        results[index] = result;
        // Reporters hear of one result at a time, whatever the concurrency.
        reported = reported.then(() => options.onScenarioEnd?.(result));
        await reported;
      }
    } catch (error) {
      stopped = true;
      throw error;
    } finally {
      await Promise.allSettled([...hosts.values()].map((host) => host.close()));
    }
  };
  const concurrency = concurrencyFor(jobs, options.concurrency);
  const settled = await Promise.allSettled(Array.from({ length: concurrency }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return results;
}

/**
 * Run each scenario — each cell of its matrix — against its own database cloned from the
 * environment's template, up to `concurrency` at once.
 */
export async function runScenarios(
  scenarios: LoadedScenario[],
  environment: RunEnvironment,
  options: RunOptions,
): Promise<RunSummary> {
  const startedAt = Date.now();
  // Every run has a seed, printed, so any run can be repeated with --seed.
  const seed = options.seed ?? newSeed();
  const jobs = scenarios
    .flatMap(expandMatrix)
    .filter((cell) => cellMatches(cell.cell, options.only))
    .map((cell): Job => ({ cell, service: options.service }));
  const concurrency = concurrencyFor(jobs, options.concurrency);
  await options.onRunStart?.({
    scenarios: scenarios.length,
    cells: jobs.length,
    service: options.service.label,
    postgres: environment.postgres,
    seed,
    concurrency,
  });
  const results = await runJobs(jobs, environment, { ...options, concurrency, runSeed: seed });
  return {
    results,
    seed,
    concurrency,
    setupMs: environment.setupMs,
    totalMs: environment.setupMs + Date.now() - startedAt,
    exitCode: exitCodeOf(results),
  };
}

/** Clone the scenario's database, apply its drift and seed its rows. */
export async function provision(
  shown: string,
  scenario: Scenario,
  databases: Databases,
): Promise<ScenarioDatabase> {
  const db = await databases.create(scenario.name, scenario.drift).catch((error: unknown) => {
    if (error instanceof DriftFailedError)
      throw new BadScenarioError(
        shown,
        `field "${error.message.replace(/^drift\[(\d+)\]: /, 'drift[$1]": ')}`,
      );
    if (error instanceof FaultlineError) throw error;
    throw new PostgresFailedError(
      `could not create the scenario database: ${(error as Error).message}`,
      { cause: error },
    );
  });
  try {
    await seedRows(shown, db, scenario);
  } catch (error) {
    await databases.drop(db.name).catch(() => {});
    throw error;
  }
  return db;
}

/** A trace file name that no other job of the run uses. */
function traceFileName(job: Job): string {
  const cell = describeCell(job.cell.cell)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return `${[job.side, job.cell.scenario.name, cell].filter(Boolean).join("--")}.ndjson`;
}

async function runOne(
  job: Job,
  { server, databases }: RunEnvironment,
  host: ServiceHost,
  options: JobOptions & { runSeed: number },
): Promise<ScenarioResult> {
  const { scenario, file } = job.cell;
  const shown = displayPath(file);
  const started = Date.now();
  const seed = options.seed ?? scenario.randomSeed ?? options.runSeed;
  const result: ScenarioResult = {
    file: shown,
    name: scenario.name,
    ...(job.cell.cell ? { cell: job.cell.cell } : {}),
    verdict: "error",
    durationMs: 0,
    seed,
    service: job.service.label,
    database: undefined,
    drift: scenario.drift.map(describeDrift),
    deliveries: [],
    invariants: [],
    serverErrorCount: 0,
    sqlstates: {},
    faults: [],
  };
  let db: ScenarioDatabase | undefined;
  let attachment: Attachment | undefined;
  let traceDir: string | undefined;
  let forgetTraceDir = () => {};
  try {
    db = await provision(shown, scenario, databases);
    result.database = db.name;
    const driftShape = await driftSnapshot(scenario, db);

    const prepared = new Map<number, unknown>();
    for (const [index, spec] of scenario.invariants.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (invariant?.prepare) prepared.set(index, await prepareSafely(invariant, spec, db));
    }

    const now = options.now ?? Date.now;
    const random = seededRandom(seed);
    const steps = await prepareSteps(
      scenario,
      path.dirname(path.resolve(file)),
      random,
      templateClock(seed),
      options.webhookPaths,
      options.stripeApiVersion,
    );
    const webhooks = steps.flatMap((step) =>
      "webhook" in step ? [step.webhook] : "batch" in step ? step.batch.map((p) => p.webhook) : [],
    );
    const secret =
      host.runSecret ?? scenario.webhookSecret ?? newSecret(mainProvider(scenario), random);
    if (host.runSecret && scenario.webhookSecret && scenario.webhookSecret !== host.runSecret)
      throw new BadScenarioError(
        shown,
        'field "webhookSecret": with service.restart "perRun" the service is started once, so every scenario of the run must use the same webhookSecret (or none)',
      );

    // Every scenario's service talks to Postgres through the proxy: the faults are injected
    // there and every statement is traced, whatever language the service is written in.
    if (options.traceDir) await mkdir(options.traceDir, { recursive: true });
    if (options.traceDir) traceDir = options.traceDir;
    else {
      const made = makeTempDir(defaultTmpRoot(), "faultline-trace-");
      traceDir = made.path;
      forgetTraceDir = made.forget;
    }
    const tracePath = path.join(traceDir, traceFileName(job));
    await rm(tracePath, { force: true });
    attachment = await host.attach({
      db,
      rules: scenario.faults?.rules ?? [],
      seed: scenario.faults?.seed ?? seed,
      tracePath,
      secret,
      onFault: (event) => result.faults.push({ ...event, at: event.at.toISOString() }),
    });
    const outputBefore = attachment.service.output().length;
    await assertDriftKept(
      scenario,
      db,
      driftShape,
      "after the service started",
      attachment.service.output(),
    );

    // Timestamp columns are read apart only when an invariant will look at them.
    const stamps = scenario.invariants.some(
      (spec) =>
        spec.invariant === "idempotent" && "allowStamps" in spec && spec.allowStamps === true,
    );
    const snapshots = await deliverAll(
      steps,
      attachment,
      db,
      secret,
      random,
      now,
      result,
      options,
      stamps,
    );
    await assertDriftKept(
      scenario,
      db,
      driftShape,
      "at the end of the scenario",
      attachment.service.output(),
    );

    if (attachment.service.ended) {
      // Let the pipes drain so the output shows why.
      await new Promise((resolve) => setTimeout(resolve, 50));
      result.serviceExit = {
        how: attachment.service.ended,
        output: attachment.service.output().slice(Math.max(0, outputBefore - 20)),
      };
    }

    const serverErrors = await serverErrorsIn(server, db);
    result.serverErrorCount = serverErrors.length;
    result.oracle = server.serverLog ? "server log and proxy trace" : "proxy trace";
    await attachment.proxy.flushTrace();
    const trace: TraceEntry[] = [];
    for await (const entry of readTrace(tracePath)) trace.push(entry);
    result.sqlstates = traceSqlstates(trace);
    if (server.serverLog) {
      result.serverSqlstates = serverLogSqlstates(serverErrors);
      const disagreements = compareWitnesses(result.sqlstates, result.serverSqlstates);
      if (disagreements.length) result.witnessDisagreements = disagreements;
    }
    // Not enumerable: JSON reports and copies of the result leave it out, only the HTML report
    // (which asked for it) reads it; a whole trace would balloon a JSON report.
    if (options.keepTrace)
      Object.defineProperty(result, "trace", { value: trace, enumerable: false, writable: true });

    const context: InvariantContext = {
      db,
      webhooks,
      deliveries: result.deliveries,
      serverErrors,
      trace,
      deliverySnapshots: snapshots,
    };
    for (const [index, spec] of scenario.invariants.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (!invariant) continue;
      result.invariants.push(await evaluateSafely(invariant, spec, context, prepared.get(index)));
    }
    result.verdict = result.invariants.every((r) => r.passed) ? "pass" : "fail";
    result.durationMs = Date.now() - started;
  } catch (error) {
    if (options.signal?.aborted) throw error;
    if (!(error instanceof FaultlineError)) throw error;
    result.verdict = "error";
    result.error = { code: error.code, message: error.message, exitCode: exitCodeFor(error) };
  } finally {
    if (attachment) await host.release(attachment);
    if (traceDir && !options.traceDir) await rm(traceDir, { recursive: true, force: true });
    forgetTraceDir();
    if (db) await databases.drop(db.name).catch(() => {});
    // Time to verdict excludes the teardown; errors are timed up to here.
    if (result.verdict !== "pass" && result.verdict !== "fail")
      result.durationMs = Date.now() - started;
  }
  return result;
}

const NO_SERVER_LOG: ServerError[] = [];

/** Errors the server logged in the scenario's database, or NO_SERVER_LOG where none is readable. */
async function serverErrorsIn(
  server: StartedPostgres,
  db: ScenarioDatabase,
): Promise<ServerError[]> {
  // A server given by URL has no log faultline can read: then the proxy trace is the record.
  const log = server.serverLog;
  if (!log) return NO_SERVER_LOG;
  await log.sync(async (marker) => {
    await db.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
  });
  return log.errors({ database: db.name }).filter((e) => e.applicationName !== "faultline");
}

/**
 * Send every step's webhooks as its policy says. Returns the database snapshots taken around
 * each redelivery and each badly signed delivery, by delivery index, for the invariants that
 * judge "changed nothing".
 */
async function deliverAll(
  steps: Step[],
  { service, proxy }: Attachment,
  db: ScenarioDatabase,
  secret: string,
  random: Random,
  now: () => number,
  result: ScenarioResult,
  options: JobOptions,
  stamps: boolean,
): Promise<Map<number, { before: Snapshot; after: Snapshot }>> {
  const snapshots = new Map<number, { before: Snapshot; after: Snapshot }>();
  let nextIndex = 0;
  const sendOne = async (webhook: PreparedWebhook, attempt: number, duplicateOf?: string) => {
    const delivery = await deliver(service.url, nextIndex++, webhook, secret, now, {
      signal: options.signal,
      attempt,
      duplicateOf,
    });
    result.deliveries.push(delivery);
    return delivery;
  };
  // The first attempt, then provider-style retries while it is not acknowledged.
  const sendWithRetries = async ({ webhook, policy }: Planned, duplicateOf?: string) => {
    let delivery = await sendOne(webhook, 1, duplicateOf);
    if (!policy.retry) return;
    // `like` has one value today; a second provider schedule would be chosen here.
    const delays = stripeRetrySchedule(policy.retry.maxAttempts);
    for (let attempt = 2; !succeeded(delivery) && attempt - 2 < delays.length; attempt++) {
      await sleep((delays[attempt - 2] as number) * 1000 * policy.retry.timeScale, options.signal);
      delivery = await sendOne(webhook, attempt, duplicateOf);
    }
  };
  for (const step of steps) {
    throwIfAborted(options.signal);
    if ("addRule" in step) {
      proxy.rules.add(step.addRule);
      continue;
    }
    if ("removeRule" in step) {
      proxy.rules.remove(step.removeRule);
      continue;
    }
    if ("batch" in step) {
      const planned = step.order === "shuffled" ? shuffle(step.batch, random) : step.batch;
      if (step.order === "concurrent") {
        // Everything at once, duplicates included: the same event twice at the same instant.
        await Promise.all(
          planned.flatMap((p) => [
            sendWithRetries(p),
            ...Array.from({ length: p.policy.duplicates ?? 0 }, () =>
              sendWithRetries(p, p.webhook.label),
            ),
          ]),
        );
      } else {
        for (const p of planned) {
          await sendWithRetries(p);
          for (let i = 0; i < (p.policy.duplicates ?? 0); i++)
            await sendWithRetries(p, p.webhook.label);
        }
      }
      continue;
    }
    const index = nextIndex;
    // "Changed nothing" is judged on every table: snapshot around the deliveries that must not write.
    const watched = step.webhook.redeliveryOf !== undefined || step.webhook.signature !== undefined;
    const before = watched ? await snapshotTables(db, { stamps }) : undefined;
    await sendWithRetries(step);
    if (before) snapshots.set(index, { before, after: await snapshotTables(db, { stamps }) });
    for (let i = 0; i < (step.policy.duplicates ?? 0); i++)
      await sendWithRetries(step, step.webhook.label);
  }
  result.deliveries.sort((x, y) => x.index - y.index);
  return snapshots;
}

async function seedRows(shown: string, db: ScenarioDatabase, scenario: Scenario): Promise<void> {
  for (const [table, rows] of Object.entries(scenario.seed)) {
    for (const [index, row] of rows.entries()) {
      const columns = Object.keys(row);
      const sql = columns.length
        ? `INSERT INTO ${qualified(table)} (${columns.map(escapeIdentifier).join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`
        : `INSERT INTO ${qualified(table)} DEFAULT VALUES`;
      try {
        await db.query(sql, Object.values(row));
      } catch (error) {
        throw new BadScenarioError(
          shown,
          `field "seed.${table}[${index}]": ${(error as Error).message}`,
        );
      }
    }
  }
}

/** A table name as SQL: `users` or `billing.invoices`, each part quoted. */
function qualified(table: string): string {
  return table.split(".").map(escapeIdentifier).join(".");
}
