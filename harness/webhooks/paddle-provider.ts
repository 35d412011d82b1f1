import { createHmac } from "node:crypto";
import type { Random } from "../random/index.ts";
import type { WebhookProvider } from "./provider.ts";

// Paddle ids are a prefix and 26 characters of lowercase Crockford base32 (a ULID, so they
// begin with "01").
const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";

/** A Paddle-shaped id: `txn_01h…`, drawn from the run's seeded source. */
function paddleId(prefix: string, random: Random): string {
  let id = "01";
  for (let i = 0; i < 24; i++) id += BASE32[Math.floor(random.next() * BASE32.length)];
  return `${prefix}_${id}`;
}

/** Paddle's timestamps: RFC 3339 with microseconds. */
function paddleTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/Z$/, "000Z");
}

/**
 * Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>`, the HMAC-SHA256 of `<ts>:<raw body>`
 * keyed with the notification destination's secret key.
 */
export const paddleProvider = {
  name: "paddle",
  path: "/webhooks/paddle",
  sign(payload: string, secret: string, timestamp: number) {
    const h1 = createHmac("sha256", secret).update(`${timestamp}:${payload}`).digest("hex");
    return { "paddle-signature": `ts=${timestamp};h1=${h1}`, "user-agent": "faultline (Paddle)" };
  },
  newSecret(random: Random) {
    // Endpoint secret keys: `pdl_ntfset_<notification setting id>_<32 characters>`.
    return `pdl_${paddleId("ntfset", random)}_${random.alphanumeric(32)}`;
  },
  defaults(_fixture: string, random: Random, now: number) {
    const amount = 1000;
    // Paddle's fee is 5% + 50¢; earnings are what is left.
    const fee = Math.round(amount * 0.05) + 50;
    return {
      event_id: paddleId("evt", random),
      notification_id: paddleId("ntf", random),
      transaction_id: paddleId("txn", random),
      customer_id: paddleId("ctm", random),
      address_id: paddleId("add", random),
      subscription_id: paddleId("sub", random),
      invoice_id: paddleId("inv", random),
      price_id: paddleId("pri", random),
      product_id: paddleId("pro", random),
      line_item_id: paddleId("txnitm", random),
      payment_method_id: paddleId("paymtd", random),
      invoice_number: `${100 + Math.floor(random.next() * 900)}-${10000 + Math.floor(random.next() * 90000)}`,
      amount: String(amount),
      fee: String(fee),
      earnings: String(amount - fee),
      occurred_at: paddleTime(now),
      created_at: paddleTime(now - 60),
      period_ends_at: paddleTime(now + 30 * 24 * 3600),
    };
  },
} satisfies WebhookProvider;
