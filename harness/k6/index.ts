/** k6 export: a scenario's webhooks as a k6 script, for load beyond one machine. */
import { displayPath, loadScenario } from "../scenario/index.ts";
import type { StripeApiVersion } from "../webhooks/index.ts";
import type { ArrivalRate, K6Threshold } from "./flags.ts";
import { planSteps } from "./plan.ts";
import { k6Script } from "./script.ts";

export { type ArrivalRate, type K6Threshold, k6Rate, k6Threshold } from "./flags.ts";
export { K6_SIGNED_PROVIDERS, type PlannedStep, planSteps } from "./plan.ts";
export { type K6ScriptOptions, k6Duration, k6Options, k6Script } from "./script.ts";

/** What `faultline k6` was asked for. */
export interface K6ExportOptions {
  rate: ArrivalRate;
  /** The whole run, the ramp included, in ms. */
  durationMs: number;
  rampMs?: number;
  thresholds: K6Threshold[];
  /** Seed for the values drawn once at export (default: the scenario's randomSeed). */
  seed?: number;
  /** Webhook paths by provider, from faultline.config.ts. */
  paths?: Record<string, string>;
  /** The Stripe API version of the endpoint, from faultline.config.ts. */
  stripeApiVersion?: StripeApiVersion;
  /** The command line, for the script's header. */
  command: string;
}

/** Load a scenario file and write its k6 script; returns the script and how many steps it cycles. */
export async function exportK6Script(
  file: string,
  options: K6ExportOptions,
): Promise<{ script: string; steps: number; scenario: string }> {
  const loaded = await loadScenario(file);
  const where = displayPath(loaded.file);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const steps = await planSteps(loaded.scenario, {
    where,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.paths ? { paths: options.paths } : {}),
    ...(options.stripeApiVersion ? { stripeApiVersion: options.stripeApiVersion } : {}),
  });
  const script = k6Script({
    source: where,
    command: options.command,
    steps,
    rate: options.rate,
    durationMs: options.durationMs,
    ...(options.rampMs ? { rampMs: options.rampMs } : {}),
    thresholds: options.thresholds,
    defaultRunId: nowSeconds.toString(36),
  });
  return { script, steps: steps.length, scenario: loaded.scenario.name };
}
