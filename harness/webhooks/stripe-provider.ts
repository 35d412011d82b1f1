import Stripe from "stripe";
import type { WebhookProvider } from "./provider.ts";

// Object id prefixes as Stripe issues them, by the event's data.object type.
const OBJECT_ID_PREFIX: Record<string, string> = {
  "checkout.session": "cs_test_",
  customer: "cus_",
};

/** Stripe: `Stripe-Signature: t=…,v1=…`, signed by the official library's test helper. */
export const stripeProvider: WebhookProvider = {
  name: "stripe",
  path: "/webhooks/stripe",
  sign(payload, secret, timestamp) {
    return {
      "stripe-signature": Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }),
    };
  },
  newSecret(random) {
    return `whsec_${random.alphanumeric(32)}`;
  },
  defaults(fixture, random, now) {
    const objectType = fixture.split(".").slice(0, -1).join(".");
    const customer = `cus_${random.alphanumeric(14)}`;
    const prefix = OBJECT_ID_PREFIX[objectType] ?? "obj_";
    return {
      event_id: `evt_${random.alphanumeric(24)}`,
      object_id:
        objectType === "customer"
          ? customer
          : `${prefix}${random.alphanumeric(objectType === "checkout.session" ? 58 : 24)}`,
      customer,
      payment_intent: `pi_${random.alphanumeric(24)}`,
      created: now,
      expires_at: now + 24 * 3600,
      email: `customer-${random.alphanumeric(8).toLowerCase()}@example.com`,
      name: "Test Customer",
      amount_total: 1000,
      credits: "100",
    };
  },
};
