import { rm } from "node:fs/promises";
import path from "node:path";
import { BadUsageError } from "../errors.ts";
import { defaultTmpRoot, makeTempDir } from "../lifecycle/index.ts";
import type { RunEnvironment } from "../postgres/index.ts";
import { isError, loadRulesFile, type RuleSpec, readTrace } from "../proxy/index.ts";
import { seededRandom } from "../random/index.ts";
import {
  assertDriftKept,
  displayPath,
  driftSnapshot,
  evaluateSafely,
  type InvariantResult,
  type InvariantSpec,
  invariants,
  perScenarioHost,
  prepareSafely,
  provisionDatabase,
  type ScenarioCell,
  type ScenarioResult,
} from "../scenario/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import {
  type Delivery,
  freshValue,
  loadFixture,
  type PreparedWebhook,
  planVariable,
  renderFixture,
  type StripeApiVersion,
  stripeTemplateAt,
  type TemplateValue,
  templateClock,
  type VariablePlan,
  type WebhookProvider,
  webhookProviders,
} from "../webhooks/index.ts";
import {
  type GeneratorResult,
  generateLoad,
  type LoadOutcome,
  type LoadProgress,
} from "./generator.ts";
import type { Threshold } from "./parse.ts";
import type { LoadProfile } from "./schedule.ts";
import { evaluateThresholds, type ThresholdResult } from "./stats.ts";

/** Which proxy rules are active during the load. */
export type FaultsChoice = { kind: "scenario" } | { kind: "none" } | { kind: "file"; file: string };

/** Everything a load run needs. */
export interface LoadOptions {
  environment: RunEnvironment;
  service: ServiceSpec;
  scenario: ScenarioCell;
  profile: LoadProfile;
  seed: number;
  thresholds: Threshold[];
  faults: FaultsChoice;
  readyTimeoutMs?: number;
  webhookPaths?: Record<string, string>;
  /** The Stripe API version the endpoint is pinned to (`webhooks.stripe.apiVersion`). */
  stripeApiVersion?: StripeApiVersion;
  signal: AbortSignal;
  onProgress?(progress: LoadProgress): void;
  /** How often onProgress is called (default 500 ms). */
  progressMs?: number;
  onLine?(line: string): void;
  /** Keep what the HTML report draws: the run as a ScenarioResult with its trace (`report`). */
  keepReport?: boolean;
}

/** One second of the run, by when its requests were due. */
export interface LoadSecond {
  /** Seconds since the start. */
  t: number;
  sent: number;
  /** Latency percentiles of that second's requests, in ms. */
  p50: number;
  p90: number;
  p99: number;
  byStatus: Record<string, number>;
}

/** The whole result of a load run, as `--json` writes it. */
export interface LoadResult {
  scenario: string;
  seed: number;
  profile: LoadProfile;
  requestedRate: number;
  load: Omit<GeneratorResult, "elapsedMs"> & { durationMs: number };
  /** Share of sent requests that went out more than 10 ms behind schedule, in percent. */
  latePercent: number;
  /** Share of sent requests that got no 2xx (an error status, no response, or none yet), in percent. */
  errorPercent: number;
  sqlstates: Record<string, number>;
  statements: number;
  faultsFired: number;
  invariants: InvariantResult[];
  /** The scenario's invariants that name particular events, so say nothing about a load. */
  notJudgedUnderLoad: string[];
  thresholds: ThresholdResult[];
  /** Per second: requests, latency percentiles, statuses. */
  seconds: LoadSecond[];
  /** Set when the generator could not hold the rate (more than 1% late or dropped). */
  rateNotHeld?: string;
  /**
   * The in-process proxy's time in its own handlers over the run, and that as a share of one
   * CPU core: near 100% the proxy, not the service, limits the load.
   */
  proxy: { busyMs: number; busyPercent: number };
  /** Set when Ctrl-C or SIGTERM stopped the run: the figures are partial, the verdict "error". */
  interrupted?: true;
  /** Set when the service died during the run. */
  targetFailure?: { message: string; output: string[] };
  verdict: "pass" | "fail" | "error";
  exitCode: 0 | 1 | 3;
  /** With `keepReport`: the run as the HTML report draws it (not in the JSON). */
  report?: ScenarioResult;
}

/**
 * Invariants that judge every event or every session, so they hold over a load as over one
 * scenario. The others (a named user resolved, a row count, redeliveries left tables unchanged)
 * speak of the scenario's particular events.
 */
const JUDGED_UNDER_LOAD = new Set([
  "noCascade",
  "noAbortedIdleConnections",
  "rollsBackAfterError",
  "noLostEvents",
  "exactlyOnceEffect",
  "effectOnce",
]);
const EFFECT_INVARIANTS = new Set(["noLostEvents", "exactlyOnceEffect", "effectOnce"]);

/**
 * What a load is judged by: the scenario's own event- and session-wide invariants, always
 * noCascade, and (when the scenario names no effect invariant of its own, as with the reference
 * payments schema) the payments preset's noLostEvents and exactlyOnceEffect.
 */
export function invariantsUnderLoad(cell: ScenarioCell): {
  checks: InvariantSpec[];
  notJudged: string[];
} {
  const own = cell.scenario.invariants.filter((spec) => JUDGED_UNDER_LOAD.has(spec.invariant));
  const checks: InvariantSpec[] = [...own];
  if (!own.some((spec) => spec.invariant === "noCascade"))
    checks.unshift({ invariant: "noCascade" } as InvariantSpec);
  if (!own.some((spec) => EFFECT_INVARIANTS.has(spec.invariant)))
    checks.push(
      { invariant: "noLostEvents" } as InvariantSpec,
      { invariant: "exactlyOnceEffect" } as InvariantSpec,
    );
  const notJudged = cell.scenario.invariants
    .filter((spec) => !JUDGED_UNDER_LOAD.has(spec.invariant))
    .map((spec) => invariants.get(spec.invariant)?.label(spec as never) ?? spec.invariant);
  return { checks, notJudged };
}

interface Template {
  provider: WebhookProvider;
  providerName: string;
  fixture: string;
  template: unknown;
  /** The step's `with`, each value kept or made unique per request by its shape. */
  given: Record<string, VariablePlan>;
  path: string;
}

async function templatesOf(
  cell: ScenarioCell,
  webhookPaths: Record<string, string>,
  stripeApiVersion: StripeApiVersion | undefined,
) {
  const templates: Template[] = [];
  for (const step of cell.scenario.webhooks) {
    if (!("fixture" in step) || typeof step.fixture !== "string") continue;
    if (step.signature) continue; // a deliberately broken signature is not load
    const providerName = step.provider ?? "stripe";
    const provider = webhookProviders[providerName];
    if (!provider) continue;
    const given = Object.fromEntries(
      Object.entries(step.with ?? {}).map(([name, value]) => [name, planVariable(value)]),
    );
    const template = await loadFixture(providerName, step.fixture);
    const version = (step.apiVersion as StripeApiVersion | undefined) ?? stripeApiVersion;
    templates.push({
      provider,
      providerName,
      fixture: step.fixture,
      template:
        providerName === "stripe" && version ? stripeTemplateAt(template, version) : template,
      given,
      path: step.path ?? webhookPaths[providerName] ?? provider.path,
    });
  }
  return templates;
}

/** Percentile `p` (0–100) of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The outcomes bucketed by the second they were due in. */
function perSecond(outcomes: LoadOutcome[]): LoadSecond[] {
  const buckets: { latencies: number[]; byStatus: Record<string, number> }[] = [];
  for (const o of outcomes) {
    const second = Math.floor(o.intendedAt / 1000);
    for (let i = buckets.length; i <= second; i++) buckets.push({ latencies: [], byStatus: {} });
    const bucket = buckets[second] as (typeof buckets)[number];
    bucket.latencies.push(o.finishedAt - o.intendedAt);
    const key = o.status ? String(o.status) : "no response";
    bucket.byStatus[key] = (bucket.byStatus[key] ?? 0) + 1;
  }
  return buckets.map((b, t) => {
    const sorted = b.latencies.sort((x, y) => x - y);
    const ms = (v: number) => Math.round(v * 10) / 10;
    return {
      t,
      sent: sorted.length,
      p50: ms(percentile(sorted, 50)),
      p90: ms(percentile(sorted, 90)),
      p99: ms(percentile(sorted, 99)),
      byStatus: b.byStatus,
    };
  });
}

/**
 * Run the open-model load of one scenario against a fresh service and proxy on its own
 * database (drift applied, seed rows in), then judge the invariants that speak of every event
 * over everything sent. A service that dies ends the run at once with what was measured so far.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { environment, scenario: cell, profile, seed } = options;
  const name = cell.scenario.name;
  const shown = displayPath(cell.file);
  const templates = await templatesOf(cell, options.webhookPaths ?? {}, options.stripeApiVersion);
  if (!templates.length)
    throw new BadUsageError(
      `${shown}: no templated fixture webhook (webhook(fixture, …)) to send under load; recorded requests, rule steps and bad signatures are left out`,
    );
  // A rules file's own seed replays its probabilistic faults, as with `faultline proxy`.
  const { rules, seed: faultSeed } =
    options.faults.kind === "none"
      ? { rules: [] as RuleSpec[], seed: undefined }
      : options.faults.kind === "file"
        ? await loadRulesFile(options.faults.file)
        : { rules: cell.scenario.faults?.rules ?? [], seed: cell.scenario.faults?.seed };
  const random = seededRandom(seed);
  const mainProvider = templates[0]?.provider as WebhookProvider;
  const secret = cell.scenario.webhookSecret ?? mainProvider.newSecret(random);
  const { checks, notJudged } = invariantsUnderLoad(cell);
  const db = await provisionDatabase(shown, cell.scenario, environment.databases);
  const driftShape = await driftSnapshot(cell.scenario, db);
  // Listed with the reaper before it exists, so even `kill -9` leaves no trace dir behind.
  const traceDir = makeTempDir(defaultTmpRoot(), "faultline-load-");
  const tracePath = path.join(traceDir.path, "trace.ndjson");
  const host = perScenarioHost({
    server: environment.server,
    spec: options.service,
    readyTimeoutMs: options.readyTimeoutMs,
    signal: options.signal,
  });
  const faults: ScenarioResult["faults"] = [];
  let faultsFired = 0;
  let attachment: Awaited<ReturnType<typeof host.attach>> | undefined;
  try {
    const prepared = new Map<number, unknown>();
    for (const [index, spec] of checks.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (invariant?.prepare) prepared.set(index, await prepareSafely(invariant, spec, db));
    }
    attachment = await host.attach({
      db,
      rules,
      seed: faultSeed ?? seed,
      tracePath,
      secret,
      onFault: (event) => {
        faultsFired++;
        // The report marks where faults fired; a long run's first ten thousand show that.
        if (options.keepReport && faults.length < 10_000)
          faults.push({ ...event, at: event.at.toISOString() });
      },
    });
    const { service } = attachment;
    await assertDriftKept(
      cell.scenario,
      db,
      driftShape,
      "after the service started",
      service.output(),
    );
    options.onLine?.(
      `load: ${service.label} at ${service.url}, ${rules.length} fault rule(s), ${templates.length} webhook template(s), seed ${seed}`,
    );
    const webhooks: PreparedWebhook[] = [];
    const deliveries: Delivery[] = [];
    const outcomes: LoadOutcome[] = [];
    // Template times from the seed, one second apart per request (see templateClock).
    const clock = templateClock(seed, 1);
    const startedAt = Date.now();
    // Unique per run too, so a second run against a kept database cannot collide with the first.
    const runTag = seed.toString(36);
    // The service dying ends the run: sending stops at once, requests in flight get a moment.
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal.reason);
    options.signal.addEventListener("abort", onAbort, { once: true });
    let targetFailure: LoadResult["targetFailure"];
    const watch = setInterval(() => {
      if (!service.running && !targetFailure) {
        targetFailure = {
          message: `the service ${service.ended ?? "stopped"} during the load`,
          output: service.output().slice(-5),
        };
        stop.abort(new Error(targetFailure.message));
      }
    }, 50);
    let generated: GeneratorResult;
    const busyAtStart = attachment.proxy.busyMs();
    const wallAtStart = performance.now();
    try {
      generated = await generateLoad({
        baseUrl: service.url,
        profile,
        signal: stop.signal,
        graceMs: 3000,
        onProgress: options.onProgress,
        progressMs: options.progressMs ?? 500,
        build: async (index) => {
          const t = templates[index % templates.length] as Template;
          const suffix = `${runTag}${index.toString(36)}`;
          const given: Record<string, TemplateValue> = {};
          for (const [key, plan] of Object.entries(t.given)) given[key] = freshValue(plan, suffix);
          const rendered = renderFixture(t.template, {
            provider: t.provider,
            fixture: t.fixture,
            random,
            nowSeconds: clock.at(index),
            given,
            where: `${t.providerName}/${t.fixture}`,
          });
          const eventId = rendered.eventId ?? `${t.fixture}#${index}`;
          const type = rendered.type ?? t.fixture;
          webhooks[index] = {
            label: `load ${index}`,
            provider: t.provider,
            eventId,
            type,
            fixture: t.fixture,
            payload: rendered.payload,
            values: rendered.values as PreparedWebhook["values"],
          };
          const signed = await t.provider.sign(
            rendered.payload,
            secret,
            Math.floor(Date.now() / 1000),
            { fixture: t.fixture, eventId, type },
          );
          return {
            path: t.path,
            headers: { "content-type": "application/json", ...signed },
            body: rendered.payload,
          };
        },
        onOutcome: (o: LoadOutcome) => {
          outcomes.push(o);
          const webhook = webhooks[o.index];
          if (!webhook) return;
          deliveries.push({
            index: o.index,
            label: webhook.label,
            eventId: webhook.eventId,
            type: webhook.type,
            attempt: 1,
            status: o.status,
            responseBody: "",
            ...(o.error ? { error: o.error } : {}),
            startedAt: new Date(startedAt + o.sentAt),
            finishedAt: new Date(startedAt + o.finishedAt),
          });
        },
      });
    } finally {
      clearInterval(watch);
      options.signal.removeEventListener("abort", onAbort);
    }
    const proxyBusyMs = attachment.proxy.busyMs() - busyAtStart;
    const proxy = {
      busyMs: Math.round(proxyBusyMs),
      busyPercent: (100 * proxyBusyMs) / Math.max(1, performance.now() - wallAtStart),
    };
    if (!service.running && !targetFailure)
      targetFailure = {
        message: `the service ${service.ended ?? "stopped"} during the load`,
        output: service.output().slice(-5),
      };

    await assertDriftKept(
      cell.scenario,
      db,
      driftShape,
      "at the end of the load",
      service.output(),
    );
    await attachment.proxy.flushTrace();
    const sqlstates = new Map<string, number>();
    const trace = [];
    for await (const entry of readTrace(tracePath)) {
      trace.push(entry);
      if (isError(entry))
        sqlstates.set(entry.result.sqlstate, (sqlstates.get(entry.result.sqlstate) ?? 0) + 1);
    }
    // Requests are built a little ahead of their time: one built but never sent (the run was
    // stopped) is not an event the service was asked to handle.
    const answeredOrTried = new Set(deliveries.map((d) => d.index));
    const sent = webhooks.filter((w, index) => w && answeredOrTried.has(index));
    const context = {
      db,
      webhooks: sent,
      deliveries: deliveries.sort((a, b) => a.index - b.index),
      serverErrors: [],
      trace,
      deliverySnapshots: new Map(),
    };
    const verdicts: InvariantResult[] = [];
    for (const [index, spec] of checks.entries()) {
      const invariant = invariants.get(spec.invariant);
      if (invariant)
        verdicts.push(await evaluateSafely(invariant, spec, context, prepared.get(index)));
    }
    await host.release(attachment);
    attachment = undefined;

    // Over everything sent: a request still unanswered when the run ended failed too, as a
    // k6 request that timed out does; a stalled service must not pass 'errors<0.1%'.
    const errorPercent = generated.sent
      ? ((generated.sent - generated.acked) / generated.sent) * 100
      : 0;
    const latePercent = generated.sent ? (generated.late / generated.sent) * 100 : 0;
    const thresholds = evaluateThresholds(options.thresholds, {
      latency: generated.latency,
      errorPercent,
      achievedRate: generated.achievedRate,
    });
    // More than 1% late fails the run, but never fewer than five requests: one GC pause in a
    // 100-request smoke run is not a generator that could not keep up.
    const tooLate = generated.late > Math.max(generated.sent * 0.01, 4);
    const rateNotHeld =
      !targetFailure && (tooLate || (generated.dropped > 0 && !options.signal.aborted))
        ? `the generator could not hold ${profile.rate}/s: ${generated.late} of ${generated.sent} requests (${latePercent.toFixed(2)}%) went out more than 10 ms late, ${generated.dropped} not sent`
        : undefined;
    const { elapsedMs, ...load } = generated;
    const failed =
      verdicts.some((v) => !v.passed) || thresholds.some((t) => !t.passed) || rateNotHeld;
    // Stopped by Ctrl-C or SIGTERM: what was measured is shown, but it is no verdict.
    const interrupted = options.signal.aborted && !targetFailure;
    const verdict = targetFailure || interrupted ? "error" : failed ? "fail" : "pass";
    const sqlstateCounts = Object.fromEntries([...sqlstates].sort((a, b) => b[1] - a[1]));
    const result: LoadResult = {
      scenario: name,
      seed,
      profile,
      requestedRate: profile.rate,
      load: { ...load, durationMs: elapsedMs },
      latePercent,
      errorPercent,
      sqlstates: sqlstateCounts,
      statements: trace.length,
      faultsFired,
      proxy,
      invariants: verdicts,
      notJudgedUnderLoad: notJudged,
      thresholds,
      seconds: perSecond(outcomes),
      ...(rateNotHeld ? { rateNotHeld } : {}),
      ...(targetFailure ? { targetFailure } : {}),
      ...(interrupted ? { interrupted: true } : {}),
      verdict,
      exitCode: targetFailure ? 3 : failed ? 1 : 0,
    };
    if (options.keepReport) {
      const report: ScenarioResult = {
        file: shown,
        name,
        ...(cell.cell ? { cell: cell.cell } : {}),
        verdict,
        durationMs: Math.round(elapsedMs),
        seed,
        service: service.label,
        database: db.name,
        drift: [],
        deliveries: context.deliveries,
        invariants: verdicts,
        serverErrorCount: 0,
        sqlstates: sqlstateCounts,
        oracle: "proxy trace",
        faults,
        ...(targetFailure
          ? { serviceExit: { how: targetFailure.message, output: targetFailure.output } }
          : {}),
      };
      Object.defineProperty(report, "trace", { value: trace, enumerable: false, writable: true });
      // Not enumerable: `--json` writes the result, and the report is the HTML's, not the JSON's.
      Object.defineProperty(result, "report", { value: report, enumerable: false });
    }
    return result;
  } finally {
    if (attachment) await host.release(attachment).catch(() => {});
    await host.close();
    await environment.databases.drop(db.name).catch(() => {});
    await rm(traceDir.path, { recursive: true, force: true });
    traceDir.forget();
  }
}
