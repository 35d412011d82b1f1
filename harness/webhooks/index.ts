/** Webhook providers, recorded payloads, templating and delivery. */
export {
  type Delivery,
  deliver,
  formatDelivery,
  type PreparedWebhook,
  type SignatureFault,
  succeeded,
} from "./delivery.ts";
export { FIXTURES_DIR, fixtureNames, loadFixture } from "./fixtures.ts";
export type { WebhookProvider } from "./provider.ts";
export { stripeProvider } from "./stripe-provider.ts";
export { fillTemplate, type TemplateValue, templateVariables } from "./template.ts";

import type { WebhookProvider } from "./provider.ts";
import { stripeProvider } from "./stripe-provider.ts";

/** Providers by the name scenarios use. */
export const webhookProviders: Record<string, WebhookProvider> = { stripe: stripeProvider };
