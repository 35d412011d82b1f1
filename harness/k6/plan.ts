import { BadUsageError } from "../errors.ts";
import { seededRandom } from "../random/index.ts";
import type { Scenario } from "../scenario/index.ts";
import {
  loadFixture,
  planVariable,
  type StripeApiVersion,
  stripeTemplateAt,
  templateClock,
  type VariablePlan,
  webhookProviders,
} from "../webhooks/index.ts";

/** One webhook the k6 script sends: a fresh event, or the bytes an earlier step sent. */
export interface PlannedStep {
  /** A label for k6's `name` tag and messages: the step's `as`, else its fixture. */
  name: string;
  provider: string;
  fixture: string;
  path: string;
  template: unknown;
  variables: Record<string, VariablePlan>;
  /** For a redelivery: the index of the step whose bytes it sends again (same cycle). */
  resends?: number;
}

/** Providers whose signing the k6 script reproduces with `k6/crypto`. */
export const K6_SIGNED_PROVIDERS = ["stripe", "standard", "github", "lemonsqueezy"] as const;

/**
 * The scenario's webhooks as the k6 script cycles through them: rule steps and deliberately
 * bad signatures are left out (a load test measures what the service accepts), batches are
 * flattened, `duplicates` become redeliveries. Values the scenario does not give are drawn
 * once here from its seed; which of them become unique per cycle is decided by their shape.
 */
export async function planSteps(
  scenario: Scenario,
  options: {
    where: string;
    seed?: number;
    paths?: Record<string, string>;
    stripeApiVersion?: StripeApiVersion;
  },
): Promise<PlannedStep[]> {
  const seed = options.seed ?? scenario.randomSeed ?? 1;
  const random = seededRandom(seed);
  // Template times from the seed, as `run` draws them (see templateClock).
  const clock = templateClock(seed);
  const steps: PlannedStep[] = [];
  const byAs = new Map<string, number>();
  const flat = scenario.webhooks.flatMap((step) => (step.batch ? step.batch : [step]));
  for (const step of flat) {
    if (step.signature !== undefined) continue;
    if (step.redeliver !== undefined) {
      const original = byAs.get(step.redeliver);
      if (original === undefined) continue;
      steps.push({
        ...(steps[original] as PlannedStep),
        name: `${step.redeliver} (again)`,
        resends: original,
      });
      continue;
    }
    if (step.fixture === undefined) continue;
    const providerName = step.provider ?? "stripe";
    const provider = webhookProviders[providerName];
    if (!provider || !(K6_SIGNED_PROVIDERS as readonly string[]).includes(providerName))
      throw new BadUsageError(
        `${options.where}: the k6 export signs ${K6_SIGNED_PROVIDERS.join(", ")} webhooks; this scenario sends ${providerName}`,
      );
    const loaded = await loadFixture(providerName, step.fixture);
    const version = (step.apiVersion as StripeApiVersion | undefined) ?? options.stripeApiVersion;
    const template =
      providerName === "stripe" && version ? stripeTemplateAt(loaded, version) : loaded;
    const values = {
      ...provider.defaults(step.fixture, random, clock.at(steps.length)),
      ...step.with,
    };
    const index = steps.length;
    steps.push({
      name: step.as ?? step.fixture,
      provider: providerName,
      fixture: step.fixture,
      path: step.path ?? options.paths?.[providerName] ?? provider.path,
      template,
      variables: Object.fromEntries(
        Object.entries(values).map(([name, value]) => [name, planVariable(value)]),
      ),
    });
    if (step.as) byAs.set(step.as, index);
    for (let copy = 0; copy < (step.duplicates ?? 0); copy++)
      steps.push({
        ...(steps[index] as PlannedStep),
        name: `${step.as ?? step.fixture} (duplicate)`,
        resends: index,
      });
  }
  if (!steps.length)
    throw new BadUsageError(
      `${options.where}: no webhook to send under load (rule steps, recorded requests and bad signatures are left out)`,
    );
  return steps;
}
