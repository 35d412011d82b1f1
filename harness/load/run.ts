import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { RunEnvironment } from "../postgres/index.ts";
import { isError, loadRulesFile, type RuleSpec, readTrace } from "../proxy/index.ts";
import { seededRandom } from "../random/index.ts";
import {
  type InvariantResult,
  invariants,
  perScenarioHost,
  type ScenarioCell,
} from "../scenario/index.ts";
import type { ServiceSpec } from "../service/index.ts";
import {
  type Delivery,
  loadFixture,
  type PreparedWebhook,
  renderFixture,
  type TemplateValue,
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
  signal: AbortSignal;
  onProgress?(progress: LoadProgress): void;
  onLine?(line: string): void;
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
  /** Share of finished requests that got no 2xx, in percent. */
  errorPercent: number;
  sqlstates: Record<string, number>;
  statements: number;
  faultsFired: number;
  invariants: InvariantResult[];
  thresholds: ThresholdResult[];
  /** Set when the generator could not hold the rate (more than 1% late or dropped). */
  rateNotHeld?: string;
  /** Set when the service died during the run. */
  targetFailure?: { message: string; output: string[] };
  verdict: "pass" | "fail" | "error";
  exitCode: 0 | 1 | 3;
}

/** Keys of a step's `with` that must be fresh per request: ids and people, never repeated. */
const FRESH_KEYS = new Set(["id", "event_id", "email", "customer", "customer_email"]);

interface Template {
  provider: WebhookProvider;
  providerName: string;
  fixture: string;
  template: unknown;
  given: Record<string, TemplateValue>;
  path: string;
}

async function templatesOf(cell: ScenarioCell, webhookPaths: Record<string, string>) {
  const templates: Template[] = [];
  for (const step of cell.scenario.webhooks) {
    if (!("fixture" in step) || typeof step.fixture !== "string") continue;
    if (step.signature) continue; // a deliberately broken signature is not load
    const providerName = step.provider ?? "stripe";
    const provider = webhookProviders[providerName];
    if (!provider) continue;
    const given = Object.fromEntries(
      Object.entries(step.with ?? {}).filter(([k]) => !FRESH_KEYS.has(k)),
    ) as Record<string, TemplateValue>;
    templates.push({
      provider,
      providerName,
      fixture: step.fixture,
      template: await loadFixture(providerName, step.fixture),
      given,
      path: step.path ?? webhookPaths[providerName] ?? provider.path,
    });
  }
  return templates;
}

/**
 * Run the open-model load of one scenario against a fresh service and proxy on its own
 * database, then judge `noLostEvents`, `exactlyOnceEffect` and `noCascade` over every event sent.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { environment, scenario: cell, profile, seed } = options;
  const name = cell.scenario.name;
  const templates = await templatesOf(cell, options.webhookPaths ?? {});
  if (!templates.length)
    throw new Error(
      `${name}: the scenario has no templated fixture webhook (webhook(fixture, …)) to send under load`,
    );
  const rules: RuleSpec[] =
    options.faults.kind === "none"
      ? []
      : options.faults.kind === "file"
        ? (await loadRulesFile(options.faults.file)).rules
        : (cell.scenario.faults?.rules ?? []);
  const random = seededRandom(seed);
  const mainProvider = templates[0]?.provider as WebhookProvider;
  const secret = cell.scenario.webhookSecret ?? mainProvider.newSecret(random);
  const db = await environment.databases.create(`${name}-load`, cell.scenario.drift);
  const traceDir = await mkdtemp(path.join(tmpdir(), "faultline-load-"));
  const tracePath = path.join(traceDir, "trace.ndjson");
  const host = perScenarioHost({
    server: environment.server,
    spec: options.service,
    readyTimeoutMs: options.readyTimeoutMs,
    signal: options.signal,
  });
  let faultsFired = 0;
  let attachment: Awaited<ReturnType<typeof host.attach>> | undefined;
  try {
    const checks = [
      { invariant: "noLostEvents" },
      { invariant: "exactlyOnceEffect" },
      { invariant: "noCascade" },
    ] as const;
    const prepared = new Map<string, unknown>();
    for (const spec of checks) {
      const invariant = invariants.get(spec.invariant);
      if (invariant?.prepare) prepared.set(spec.invariant, await invariant.prepare(spec, db));
    }
    attachment = await host.attach({
      db,
      rules,
      seed: cell.scenario.faults?.seed ?? seed,
      tracePath,
      secret,
      onFault: () => {
        faultsFired++;
      },
    });
    const { service } = attachment;
    options.onLine?.(
      `load: ${service.label} at ${service.url}, ${rules.length} fault rule(s), ${templates.length} webhook template(s), seed ${seed}`,
    );
    const webhooks: PreparedWebhook[] = [];
    const deliveries: Delivery[] = [];
    const nowSeconds = Math.floor(Date.now() / 1000);
    const startedAt = Date.now();
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
    try {
      generated = await generateLoad({
        baseUrl: service.url,
        profile,
        signal: stop.signal,
        graceMs: 3000,
        onProgress: options.onProgress,
        progressMs: 500,
        build: async (index) => {
          const t = templates[index % templates.length] as Template;
          const rendered = renderFixture(t.template, {
            provider: t.provider,
            fixture: t.fixture,
            random,
            nowSeconds,
            given: t.given,
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
    if (!service.running && !targetFailure)
      targetFailure = {
        message: `the service ${service.ended ?? "stopped"} during the load`,
        output: service.output().slice(-5),
      };

    await attachment.proxy.flushTrace();
    const sqlstates = new Map<string, number>();
    const trace = [];
    for await (const entry of readTrace(tracePath)) {
      trace.push(entry);
      if (isError(entry))
        sqlstates.set(entry.result.sqlstate, (sqlstates.get(entry.result.sqlstate) ?? 0) + 1);
    }
    const sent = webhooks.filter(Boolean);
    const context = {
      db,
      webhooks: sent,
      deliveries: deliveries.sort((a, b) => a.index - b.index),
      serverErrors: [],
      trace,
      deliverySnapshots: new Map(),
    };
    const verdicts: InvariantResult[] = [];
    for (const spec of checks) {
      const invariant = invariants.get(spec.invariant);
      if (invariant)
        verdicts.push(await invariant.evaluate(spec, context, prepared.get(spec.invariant)));
    }
    await host.release(attachment);
    attachment = undefined;

    const finished = Object.values(generated.byStatus).reduce((a, b) => a + b, 0);
    const errorPercent = finished ? ((finished - generated.acked) / finished) * 100 : 0;
    const latePercent = generated.sent ? (generated.late / generated.sent) * 100 : 0;
    const thresholds = evaluateThresholds(options.thresholds, {
      latency: generated.latency,
      errorPercent,
      achievedRate: generated.achievedRate,
    });
    const rateNotHeld =
      !targetFailure && (latePercent > 1 || (generated.dropped > 0 && !options.signal.aborted))
        ? `the generator could not hold ${profile.rate}/s: ${generated.late} of ${generated.sent} requests (${latePercent.toFixed(2)}%) went out more than 10 ms late, ${generated.dropped} not sent`
        : undefined;
    const { elapsedMs, ...load } = generated;
    const failed =
      verdicts.some((v) => !v.passed) || thresholds.some((t) => !t.passed) || rateNotHeld;
    const exitCode = targetFailure ? 3 : failed ? 1 : 0;
    return {
      scenario: name,
      seed,
      profile,
      requestedRate: profile.rate,
      load: { ...load, durationMs: elapsedMs },
      latePercent,
      errorPercent,
      sqlstates: Object.fromEntries([...sqlstates].sort((a, b) => b[1] - a[1])),
      statements: trace.length,
      faultsFired,
      invariants: verdicts,
      thresholds,
      ...(rateNotHeld ? { rateNotHeld } : {}),
      ...(targetFailure ? { targetFailure } : {}),
      verdict: targetFailure ? "error" : failed ? "fail" : "pass",
      exitCode,
    };
  } finally {
    if (attachment) await host.release(attachment).catch(() => {});
    await host.close();
    await environment.databases.drop(db.name).catch(() => {});
    await rm(traceDir, { recursive: true, force: true });
  }
}
