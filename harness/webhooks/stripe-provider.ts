import { createHmac } from "node:crypto";
import type { Random } from "../random/index.ts";
import type { WebhookProvider } from "./provider.ts";

// Object id prefixes as Stripe issues them, by the event's data.object type.
const OBJECT_ID_PREFIX: Record<string, string> = {
  "checkout.session": "cs_test_",
  customer: "cus_",
  invoice: "in_",
  charge: "ch_",
  "customer.subscription": "sub_",
};

// The fixtures the provider first shipped with. Their defaults draw exactly what they always
// drew, in the same order: the run's random stream is shared with the probabilistic faults,
// so an extra draw here would change what a recorded seed replays.
const ORIGINAL_OBJECTS = new Set(["checkout.session", "customer"]);

const DAY = 24 * 3600;

/**
 * Stripe: `Stripe-Signature: t=…,v1=…`, the HMAC-SHA256 of `t.payload` as the official
 * library's `generateTestHeaderString` computes it (tests hold the two equal), without its
 * option handling and the copy of the body it joins with the timestamp: load runs sign
 * thousands a second.
 */
export const stripeProvider = {
  name: "stripe",
  path: "/webhooks/stripe",
  sign(payload: string, secret: string, timestamp: number) {
    return {
      "stripe-signature": `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.`).update(payload).digest("hex")}`,
    };
  },
  newSecret(random: Random) {
    return `whsec_${random.alphanumeric(32)}`;
  },
  defaults(fixture: string, random: Random, now: number) {
    const objectType = fixture.split(".").slice(0, -1).join(".");
    const customer = `cus_${random.alphanumeric(14)}`;
    const prefix = OBJECT_ID_PREFIX[objectType] ?? "obj_";
    const values: Record<string, string | number> = {
      event_id: `evt_${random.alphanumeric(24)}`,
      object_id:
        objectType === "customer"
          ? customer
          : `${prefix}${random.alphanumeric(objectType === "checkout.session" ? 58 : 24)}`,
      customer,
      payment_intent: `pi_${random.alphanumeric(24)}`,
      created: now,
      expires_at: now + DAY,
      email: `customer-${random.alphanumeric(8).toLowerCase()}@example.com`,
      name: "Test Customer",
      amount_total: 1000,
      credits: "100",
    };
    if (ORIGINAL_OBJECTS.has(objectType)) return values;
    // Billing objects (invoices, charges, subscriptions): the ids they point at. The event's
    // own object keeps object_id, so `invoice` on an invoice event is the invoice itself.
    const own = (type: string, id: string) =>
      objectType === type ? (values.object_id as string) : id;
    const amount = 1000;
    return {
      ...values,
      invoice: own("invoice", `in_${random.alphanumeric(24)}`),
      subscription: own("customer.subscription", `sub_${random.alphanumeric(24)}`),
      subscription_item: `si_${random.alphanumeric(14)}`,
      line_item: `il_${random.alphanumeric(24)}`,
      price: `price_${random.alphanumeric(24)}`,
      product: `prod_${random.alphanumeric(14)}`,
      payment_method: `pm_${random.alphanumeric(24)}`,
      balance_transaction: `txn_${random.alphanumeric(24)}`,
      invoice_number: `${random.alphanumeric(8).toUpperCase()}-0001`,
      // Drawn last, so the draws above stay what they were before it existed.
      charge: own("charge", `ch_${random.alphanumeric(24)}`),
      amount,
      amount_decimal: String(amount),
      period_end: now + 30 * DAY,
      next_payment_attempt: now + 3 * DAY,
    };
  },
} satisfies WebhookProvider;
