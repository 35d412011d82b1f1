import { BadScenarioError } from "../errors.ts";
import type { RuleSpec } from "../proxy/index.ts";
import type { Random } from "../random/index.ts";
import {
  loadFixture,
  type PreparedWebhook,
  renderFixture,
  type StripeApiVersion,
  stripeTemplateAt,
  type TemplateClock,
  webhookProviders,
} from "../webhooks/index.ts";
import { displayPath, findRecorded } from "./load.ts";
import type { Scenario } from "./schema.ts";

/** How a webhook is delivered: extra copies and provider-style retries. */
export interface Policy {
  duplicates?: number;
  retry?: { like: "stripe"; timeScale: number; maxAttempts?: number };
}

/** A webhook with its delivery policy. */
export type Planned = { webhook: PreparedWebhook; policy: Policy };

/** One step of a scenario's timeline, ready to run. */
export type Step =
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
export function shuffle<T>(items: T[], random: Random): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

type WebhookStepInput = Scenario["webhooks"][number];

/** Render every webhook of a scenario (templates filled from the seed) into the steps to run. */
export async function prepareSteps(
  scenario: Scenario,
  baseDir: string,
  random: Random,
  clock: TemplateClock,
  webhookPaths: Record<string, string> = {},
  stripeApiVersion?: StripeApiVersion,
): Promise<Step[]> {
  // A step's own path wins, then the config's path for the provider, then the provider's default.
  const pathFor = (step: WebhookStepInput, provider: string) => {
    const path = step.path ?? webhookPaths[provider];
    return path === undefined ? {} : { path };
  };
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
        ...pathFor(step, providerName),
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
    const version = (step.apiVersion as StripeApiVersion | undefined) ?? stripeApiVersion;
    const template = await loadFixture(providerName, fixture);
    // An endpoint pinned to an older Stripe API version receives that version's shapes.
    const shaped =
      providerName === "stripe" && version ? stripeTemplateAt(template, version) : template;
    const rendered = renderFixture(shaped, {
      provider,
      fixture,
      random,
      // Each templated event strictly later than the one before, from the seed's origin.
      nowSeconds: clock.at(webhookCount - 1),
      given: step.with,
      where: `${providerName}/${fixture}`,
    });
    const webhook: PreparedWebhook = {
      label: step.as ?? `webhook ${webhookCount}`,
      provider,
      eventId: rendered.eventId ?? `${fixture}#${webhookCount}`,
      type: rendered.type ?? fixture,
      fixture,
      payload: rendered.payload,
      values: rendered.values,
      ...signature,
      ...pathFor(step, providerName),
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
