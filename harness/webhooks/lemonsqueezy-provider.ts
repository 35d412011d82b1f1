import { createHmac } from "node:crypto";
import type { Random } from "../random/index.ts";
import type { SignContext, WebhookProvider } from "./provider.ts";

/** The event name: the payload's `meta.event_name`, else the fixture's name. */
function eventName(payload: string, context: SignContext | undefined): string {
  try {
    const name = (JSON.parse(payload) as { meta?: { event_name?: unknown } } | null)?.meta
      ?.event_name;
    if (typeof name === "string" && name) return name;
  } catch {
    // Not JSON: the context has to say.
  }
  const fromContext = context?.type || context?.fixture;
  if (fromContext) return fromContext;
  throw new Error("lemonsqueezy: the payload has no meta.event_name and no fixture was named");
}

/** Lemon Squeezy's timestamps: ISO 8601 with microseconds. */
function lemonTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/Z$/, "000Z");
}

/**
 * Lemon Squeezy: `X-Signature`, the hex HMAC-SHA256 of the raw body keyed with the webhook's
 * signing secret, and `X-Event-Name`.
 */
export const lemonsqueezyProvider = {
  name: "lemonsqueezy",
  path: "/webhooks/lemonsqueezy",
  sign(payload: string, secret: string, _timestamp: number, context?: SignContext) {
    return {
      "x-signature": createHmac("sha256", secret).update(payload).digest("hex"),
      "x-event-name": eventName(payload, context),
      "user-agent": "faultline (Lemon Squeezy)",
    };
  },
  newSecret(random: Random) {
    // A signing secret is whatever the merchant typed: 6 to 40 characters.
    return random.alphanumeric(32);
  },
  defaults(_fixture: string, random: Random, now: number) {
    const orderId = 1_000_000 + Math.floor(random.next() * 9_000_000);
    const hex = (n: number) =>
      Array.from({ length: n }, () => Math.floor(random.next() * 16).toString(16)).join("");
    const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
    const amount = 1000;
    return {
      order_id: String(orderId),
      order_id_int: orderId,
      order_number: 1 + Math.floor(random.next() * 90_000),
      identifier: uuid(),
      webhook_id: uuid(),
      store_id: 10_000 + Math.floor(random.next() * 90_000),
      customer_id: 1_000_000 + Math.floor(random.next() * 9_000_000),
      order_item_id: 1_000_000 + Math.floor(random.next() * 9_000_000),
      product_id: 100_000 + Math.floor(random.next() * 900_000),
      variant_id: 100_000 + Math.floor(random.next() * 900_000),
      price_id: 1_000_000 + Math.floor(random.next() * 9_000_000),
      name: "Test Customer",
      email: `customer-${random.alphanumeric(8).toLowerCase()}@example.com`,
      amount,
      amount_formatted: `$${(amount / 100).toFixed(2)}`,
      user_id: `user_${random.alphanumeric(12)}`,
      created_at: lemonTime(now),
      signature: hex(64),
    };
  },
} satisfies WebhookProvider;
