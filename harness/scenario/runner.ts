import { mkdir, mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import {
  BadScenarioError,
  EXIT,
  exitCodeFor,
  FaultlineError,
  PostgresFailedError,
} from "../errors.ts";
import { defaultTmpRoot, sleep, throwIfAborted } from "../lifecycle/index.ts";
import {
  type Databases,
  DriftFailedError,
  describeDrift,
  freePort,
  type RunEnvironment,
  type ScenarioDatabase,
  type StartedPostgres,
} from "../postgres/index.ts";
import {
  type RuleSpec,
  readTrace,
  type StartedProxy,
  startProxy,
  type TraceEntry,
} from "../proxy/index.ts";
import { newSeed, type Random, seededRandom } from "../random/index.ts";
import { type ServiceSpec, type StartedService, startService } from "../service/index.ts";
import {
  type Delivery,
  deliver,
  fillTemplate,
  loadFixture,
  type PreparedWebhook,
  succeeded,
  webhookProviders,
} from "../webhooks/index.ts";
import {
  type InvariantContext,
  type InvariantResult,
  invariants,
  type Snapshot,
} from "./invariants/index.ts";
import { displayPath, findRecorded, type LoadedScenario } from "./load.ts";
import type { Scenario } from "./schema.ts";

const { escapeIdentifier } = pg;

/** The outcome of one scenario. */
export interface ScenarioResult {
  file: string;
  name: string;
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
  /** Set when the service died during the scenario: how, and its last lines of output. */
  serviceExit?: { how: string; output: string[] };
  /** Faults the proxy injected, in order. */
  faults: { conn: number; rule: string; fault: string; sql: string | undefined; at: string }[];
  /** Set when the scenario could not be judged: bad scenario or broken infrastructure. */
  error?: { code: string; message: string; exitCode: number };
}

/** The outcome of a run. */
export interface RunSummary {
  results: ScenarioResult[];
  /** Time to start Postgres and build the template, in milliseconds. */
  setupMs: number;
  /** Setup plus every scenario, in milliseconds. */
  totalMs: number;
  exitCode: number;
}

/** How to run scenarios. */
export interface RunOptions {
  service: ServiceSpec;
  /** Overrides each scenario's randomSeed. */
  seed?: number;
  /** How long the service may take to answer GET /healthz, in milliseconds. */
  readyTimeoutMs?: number;
  /** Keep each scenario's proxy trace here as <name>.ndjson (else a temp dir, removed). */
  traceDir?: string;
  signal?: AbortSignal;
  /** The clock for signatures and template timestamps, in milliseconds. */
  now?: () => number;
  onRunStart?(info: { scenarios: number; service: string; postgres: string }): void | Promise<void>;
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

/** Run each scenario against its own database cloned from the environment's template. */
export async function runScenarios(
  scenarios: LoadedScenario[],
  environment: RunEnvironment,
  options: RunOptions,
): Promise<RunSummary> {
  const startedAt = Date.now();
  const results: ScenarioResult[] = [];
  await options.onRunStart?.({
    scenarios: scenarios.length,
    service: options.service.label,
    postgres: environment.postgres,
  });
  for (const loaded of scenarios) {
    throwIfAborted(options.signal);
    const result = await runOne(loaded, environment.server, environment.databases, options);
    results.push(result);
    await options.onScenarioEnd?.(result);
  }
  return {
    results,
    setupMs: environment.setupMs,
    totalMs: environment.setupMs + Date.now() - startedAt,
    exitCode: exitCodeOf(results),
  };
}

async function runOne(
  loaded: LoadedScenario,
  server: StartedPostgres,
  databases: Databases,
  options: RunOptions,
): Promise<ScenarioResult> {
  const { scenario, file } = loaded;
  const shown = displayPath(file);
  const started = Date.now();
  const seed = options.seed ?? scenario.randomSeed ?? newSeed();
  const result: ScenarioResult = {
    file: shown,
    name: scenario.name,
    verdict: "error",
    durationMs: 0,
    seed,
    service: options.service.label,
    database: undefined,
    drift: scenario.drift.map(describeDrift),
    deliveries: [],
    invariants: [],
    serverErrorCount: 0,
    faults: [],
  };
  let db: ScenarioDatabase | undefined;
  let service: StartedService | undefined;
  let proxy: StartedProxy | undefined;
  let traceDir: string | undefined;
  try {
    db = await databases.create(scenario.name, scenario.drift).catch((error: unknown) => {
      if (error instanceof DriftFailedError)
        throw new BadScenarioError(
          shown,
          `field "${error.message.replace(/^drift\[(\d+)\]: /, 'drift[$1]": ')}`,
        );
      throw new PostgresFailedError(
        `could not create the scenario database: ${(error as Error).message}`,
        { cause: error },
      );
    });
    result.database = db.name;
    await seedRows(shown, db, scenario);

    const prepared = new Map<number, unknown>();
    for (const [index, spec] of scenario.invariants.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (invariant?.prepare) prepared.set(index, await invariant.prepare(spec, db));
    }

    const now = options.now ?? Date.now;
    const random = seededRandom(seed);
    const steps = await prepareSteps(
      scenario,
      path.dirname(path.resolve(file)),
      random,
      Math.floor(now() / 1000),
    );
    const webhooks = steps.flatMap((step) =>
      "webhook" in step ? [step.webhook] : "batch" in step ? step.batch.map((p) => p.webhook) : [],
    );
    const secret = scenario.webhookSecret ?? (webhookProviders.stripe?.newSecret(random) as string);

    // Every scenario's service talks to Postgres through the proxy: the faults are injected
    // there and every statement is traced, whatever language the service is written in.
    if (options.traceDir) await mkdir(options.traceDir, { recursive: true });
    traceDir = options.traceDir ?? (await mkdtemp(path.join(defaultTmpRoot(), "faultline-trace-")));
    const tracePath = path.join(traceDir, `${scenario.name}.ndjson`);
    await rm(tracePath, { force: true });
    proxy = await startProxy({
      upstream: { host: server.host, port: server.port },
      rules: scenario.faults?.rules ?? [],
      seed: scenario.faults?.seed ?? seed,
      tracePath,
      onFault: (event) => result.faults.push({ ...event, at: event.at.toISOString() }),
    });
    const serviceDatabaseUrl = `postgres://${server.user}@${proxy.host}:${proxy.port}/${encodeURIComponent(db.name)}`;

    service = await startService({
      spec: options.service,
      env: {
        DATABASE_URL: serviceDatabaseUrl,
        PORT: String(await freePort()),
        STRIPE_WEBHOOK_SECRET: secret,
      },
      readyTimeoutMs: options.readyTimeoutMs,
      signal: options.signal,
    });

    const redeliverySnapshots = new Map<number, { before: Snapshot; after: Snapshot }>();
    const running = service;
    let nextIndex = 0;
    const sendOne = async (webhook: PreparedWebhook, attempt: number, duplicateOf?: string) => {
      const delivery = await deliver(running.url, nextIndex++, webhook, secret, now, {
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
        await sleep(
          (delays[attempt - 2] as number) * 1000 * policy.retry.timeScale,
          options.signal,
        );
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
      const before = step.webhook.redeliveryOf ? await snapshot(db) : undefined;
      await sendWithRetries(step);
      if (before) redeliverySnapshots.set(index, { before, after: await snapshot(db) });
      for (let i = 0; i < (step.policy.duplicates ?? 0); i++)
        await sendWithRetries(step, step.webhook.label);
    }
    result.deliveries.sort((x, y) => x.index - y.index);

    if (service.ended) {
      // Let the pipes drain so the output shows why.
      await new Promise((resolve) => setTimeout(resolve, 50));
      result.serviceExit = { how: service.ended, output: service.output() };
    }

    const database = db;
    // A server given by URL has no log faultline can read: then the proxy trace is the record.
    await server.serverLog?.sync(async (marker) => {
      await database.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
    });
    const serverErrors = (server.serverLog?.errors({ database: db.name }) ?? []).filter(
      (e) => e.applicationName !== "faultline",
    );
    result.serverErrorCount = serverErrors.length;
    await proxy.flushTrace();
    const trace: TraceEntry[] = [];
    for await (const entry of readTrace(tracePath)) trace.push(entry);

    const context: InvariantContext = {
      db,
      webhooks,
      deliveries: result.deliveries,
      serverErrors,
      trace,
      redeliverySnapshots,
    };
    for (const [index, spec] of scenario.invariants.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (!invariant) continue;
      result.invariants.push(await invariant.evaluate(spec, context, prepared.get(index)));
    }
    result.verdict = result.invariants.every((r) => r.passed) ? "pass" : "fail";
    result.durationMs = Date.now() - started;
  } catch (error) {
    if (options.signal?.aborted) throw error;
    if (!(error instanceof FaultlineError)) throw error;
    result.verdict = "error";
    result.error = { code: error.code, message: error.message, exitCode: exitCodeFor(error) };
  } finally {
    await service?.stop();
    await proxy?.stop();
    if (traceDir && !options.traceDir) await rm(traceDir, { recursive: true, force: true });
    if (db) await databases.drop(db.name).catch(() => {});
    // Time to verdict excludes the teardown; errors are timed up to here.
    if (result.verdict !== "pass" && result.verdict !== "fail")
      result.durationMs = Date.now() - started;
  }
  return result;
}

async function seedRows(shown: string, db: ScenarioDatabase, scenario: Scenario): Promise<void> {
  for (const [table, rows] of Object.entries(scenario.seed)) {
    for (const [index, row] of rows.entries()) {
      const columns = Object.keys(row);
      const sql = columns.length
        ? `INSERT INTO ${escapeIdentifier(table)} (${columns.map(escapeIdentifier).join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`
        : `INSERT INTO ${escapeIdentifier(table)} DEFAULT VALUES`;
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

/** How a webhook is delivered: extra copies and provider-style retries. */
interface Policy {
  duplicates?: number;
  retry?: { like: "stripe"; timeScale: number; maxAttempts?: number };
}

/** A webhook with its delivery policy. */
type Planned = { webhook: PreparedWebhook; policy: Policy };

/** One step of a scenario's timeline, ready to run. */
type Step =
  | Planned
  | { batch: Planned[]; order: "inOrder" | "shuffled" | "concurrent" }
  | { addRule: RuleSpec }
  | { removeRule: string };

/**
 * Stripe's retry delays in seconds: exponential back-off from a minute, each at most a day,
 * until three days have passed — then Stripe gives up.
 */
export function stripeRetrySchedule(maxAttempts?: number): number[] {
  const delays: number[] = [];
  let total = 0;
  for (let delay = 60; ; delay = Math.min(delay * 2, 86_400)) {
    if (total + delay > 3 * 86_400) break;
    delays.push(delay);
    total += delay;
  }
  return maxAttempts === undefined ? delays : delays.slice(0, Math.max(0, maxAttempts - 1));
}

/** A seeded Fisher–Yates shuffle: the same seed, the same order. */
function shuffle<T>(items: T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

type WebhookStepInput = Scenario["webhooks"][number];

/** The fields providers put an event's id and type in (Stripe, Standard, Paddle, Lemon Squeezy). */
type EventBody = {
  id?: unknown;
  event_id?: unknown;
  type?: unknown;
  event_type?: unknown;
  meta?: { event_name?: unknown };
};

function eventIdOf(body: EventBody): string | undefined {
  const id = body.id ?? body.event_id;
  return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
}

function eventTypeOf(body: EventBody): string | undefined {
  const type = body.type ?? body.event_type ?? body.meta?.event_name;
  return typeof type === "string" ? type : undefined;
}

async function prepareSteps(
  scenario: Scenario,
  baseDir: string,
  random: Random,
  nowSeconds: number,
): Promise<Step[]> {
  const byName = new Map<string, PreparedWebhook>();
  let webhookCount = 0;
  const plan = async (step: WebhookStepInput): Promise<Planned> => {
    webhookCount++;
    const policy: Policy = { duplicates: step.duplicates, retry: step.retry };
    const signature = step.signature ? { signature: step.signature } : {};
    if (step.recorded !== undefined) {
      // A recorded request goes out byte for byte, signed afresh as its provider signs.
      const recorded = await findRecorded(baseDir, step.recorded);
      const providerName = step.provider ?? recorded.metadata.provider ?? "stripe";
      const provider = webhookProviders[providerName];
      if (!provider)
        throw new BadScenarioError(
          displayPath(baseDir),
          `recorded fixture ${recorded.name}: unknown provider ${providerName}`,
        );
      const type = recorded.metadata.type ?? recorded.name;
      const webhook: PreparedWebhook = {
        label: step.as ?? recorded.name,
        provider,
        eventId: recorded.metadata.eventId ?? recorded.name,
        type,
        fixture: type,
        payload: recorded.body,
        ...signature,
      };
      if (step.as) byName.set(step.as, webhook);
      return { webhook, policy };
    }
    if (step.redeliver !== undefined) {
      const original = byName.get(step.redeliver) as PreparedWebhook;
      return {
        webhook: {
          ...original,
          label: `${original.label} again`,
          redeliveryOf: original.label,
          ...signature,
        },
        policy,
      };
    }
    const providerName = step.provider ?? "stripe";
    const provider = webhookProviders[providerName];
    const fixture = step.fixture as string;
    if (!provider) throw new Error(`unknown provider ${providerName}`);
    const template = await loadFixture(providerName, fixture);
    const values = { ...provider.defaults(fixture, random, nowSeconds), ...step.with };
    const body = fillTemplate(template, values, `${providerName}/${fixture}`) as EventBody;
    // Stripe sends its events pretty-printed; the signature covers these exact bytes.
    const webhook: PreparedWebhook = {
      label: step.as ?? `webhook ${webhookCount}`,
      provider,
      eventId: eventIdOf(body) ?? `${fixture}#${webhookCount}`,
      type: eventTypeOf(body) ?? fixture,
      fixture,
      payload: JSON.stringify(body, null, 2),
      ...signature,
    };
    if (step.as) byName.set(step.as, webhook);
    return { webhook, policy };
  };
  const steps: Step[] = [];
  for (const step of scenario.webhooks) {
    if (step.addRule !== undefined) steps.push({ addRule: step.addRule });
    else if (step.removeRule !== undefined) steps.push({ removeRule: step.removeRule });
    else if (step.batch !== undefined) {
      const batch: Planned[] = [];
      for (const inner of step.batch) batch.push(await plan(inner as WebhookStepInput));
      steps.push({ batch, order: step.order ?? "inOrder" });
    } else steps.push(await plan(step));
  }
  return steps;
}

/** Row count and a digest of every row, per table in the public schema. */
async function snapshot(db: ScenarioDatabase): Promise<Snapshot> {
  const tables = await db.query<{ tablename: string }>(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  const out: Snapshot = {};
  for (const { tablename } of tables.rows) {
    const digest = await db.query<{ rows: number; digest: string }>(
      `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM public.${escapeIdentifier(tablename)} t`,
    );
    out[tablename] = digest.rows[0] as { rows: number; digest: string };
  }
  return out;
}
