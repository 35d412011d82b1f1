/** Webhook providers, recorded payloads, templating and delivery. */

export {
  STOCK_TEMPLATE_EPOCH,
  TEMPLATE_STEP_SECONDS,
  type TemplateClock,
  templateClock,
} from "./clock.ts";
export {
  type Delivery,
  deliver,
  formatDelivery,
  type PreparedWebhook,
  type SignatureFault,
  succeeded,
} from "./delivery.ts";
export { FIXTURES_DIR, fixtureNames, loadFixture } from "./fixtures.ts";
export { freshValue, planVariable, type VariablePlan } from "./fresh.ts";
export { githubProvider } from "./github-provider.ts";
export { lemonsqueezyProvider } from "./lemonsqueezy-provider.ts";
export { paddleProvider } from "./paddle-provider.ts";
export type { SignContext, WebhookProvider } from "./provider.ts";
export { type RenderedFixture, type RenderOptions, renderFixture } from "./render.ts";
export { shopifyProvider, shopifyTopic } from "./shopify-provider.ts";
export { standardProvider } from "./standard-provider.ts";
export { stripeProvider } from "./stripe-provider.ts";
export {
  isStripeApiVersion,
  STRIPE_API_VERSIONS,
  STRIPE_TEMPLATE_VERSION,
  type StripeApiVersion,
  stripeTemplateAt,
} from "./stripe-versions.ts";
export { fillTemplate, type TemplateValue, templateVariables } from "./template.ts";

import { githubProvider } from "./github-provider.ts";
import { lemonsqueezyProvider } from "./lemonsqueezy-provider.ts";
import { paddleProvider } from "./paddle-provider.ts";
import type { WebhookProvider } from "./provider.ts";
import { shopifyProvider } from "./shopify-provider.ts";
import { standardProvider } from "./standard-provider.ts";
import { stripeProvider } from "./stripe-provider.ts";

/** Providers by the name scenarios use. */
export const webhookProviders: Record<string, WebhookProvider> = {
  stripe: stripeProvider,
  standard: standardProvider,
  github: githubProvider,
  shopify: shopifyProvider,
  paddle: paddleProvider,
  lemonsqueezy: lemonsqueezyProvider,
};

// Record and replay: fixtures saved from real traffic or a Stripe export, sent again re-signed.
export {
  type RecordedMetadata,
  type RecorderOptions,
  type StartedRecorder,
  startRecorder,
} from "./recorder.ts";
export {
  type FixtureMetadata,
  loadRecordedFixtures,
  type RecordedFixture,
  type ReplayOptions,
  type ReplayPolicy,
  type ReplayResult,
  replay,
} from "./replay.ts";
export { scrubText } from "./scrub.ts";
export { importStripeEvents } from "./stripe-import.ts";
