import { createHash, createHmac } from "node:crypto";
import type { Random } from "../random/index.ts";
import type { SignContext, WebhookProvider } from "./provider.ts";

/** The Admin API version the fixtures' shapes follow, sent as `X-Shopify-API-Version`. */
export const SHOPIFY_API_VERSION = "2025-07";

const DEFAULT_SHOP = "faultline-test.myshopify.com";

// UUIDv5 namespaces (fixed, arbitrary) for the webhook id and the event id.
const WEBHOOK_NAMESPACE = Buffer.from("3b0d7c1e52a44f0f9a6e2d8c7b1f4e90", "hex");
const EVENT_NAMESPACE = Buffer.from("c4e1a9b27d3f4a6b8e5c0f1d2a3b4c5d", "hex");

/**
 * A name-based UUID (v5) of the payload. Derived, not drawn: Shopify keeps
 * `X-Shopify-Webhook-Id` across its retries of one webhook, and a seed replays the same ids.
 */
function payloadUuid(namespace: Buffer, payload: string): string {
  const bytes = createHash("sha1").update(namespace).update(payload).digest();
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The topic from the fixture's name: the first `-` stands for the `/` a file name cannot hold
 * (`orders-paid` → `orders/paid`, `customers-data_request` → `customers/data_request`).
 */
export function shopifyTopic(fixture: string): string {
  return fixture.replace("-", "/");
}

/** The shop the payload belongs to: the host of its `order_status_url`, when it has one. */
function shopDomain(payload: string): string {
  try {
    const url = (JSON.parse(payload) as { order_status_url?: unknown } | null)?.order_status_url;
    if (typeof url === "string") return new URL(url).host;
  } catch {
    // Not JSON, or no usable URL: the default shop.
  }
  return DEFAULT_SHOP;
}

/**
 * Shopify: `X-Shopify-Hmac-Sha256`, base64 of the HMAC-SHA256 of the raw body keyed with the
 * app's client secret, beside the topic, shop, API version and ids Shopify sends.
 */
export const shopifyProvider = {
  name: "shopify",
  path: "/webhooks/shopify",
  sign(payload: string, secret: string, timestamp: number, context?: SignContext) {
    if (!context?.fixture) {
      throw new Error(
        "shopify: X-Shopify-Topic comes from the fixture's name; sign with a context naming it",
      );
    }
    return {
      "x-shopify-hmac-sha256": createHmac("sha256", secret).update(payload).digest("base64"),
      "x-shopify-topic": shopifyTopic(context.fixture),
      "x-shopify-shop-domain": shopDomain(payload),
      "x-shopify-api-version": SHOPIFY_API_VERSION,
      "x-shopify-webhook-id": payloadUuid(WEBHOOK_NAMESPACE, payload),
      "x-shopify-event-id": payloadUuid(EVENT_NAMESPACE, payload),
      "x-shopify-triggered-at": new Date(timestamp * 1000).toISOString(),
      "user-agent": "Shopify-Captain-Hook",
    };
  },
  newSecret(random: Random) {
    // Client secrets: `shpss_` and 32 hex digits.
    const hex = Array.from({ length: 32 }, () => Math.floor(random.next() * 16).toString(16));
    return `shpss_${hex.join("")}`;
  },
  defaults(_fixture: string, random: Random, now: number) {
    const id = () => 5_000_000_000_000 + Math.floor(random.next() * 4_000_000_000_000);
    const order_id = id();
    const shortHex = (n: number) =>
      Array.from({ length: n }, () => Math.floor(random.next() * 16).toString(16)).join("");
    return {
      order_id,
      order_number: 1001 + Math.floor(random.next() * 9000),
      customer_id: id(),
      line_item_id: id(),
      product_id: id(),
      variant_id: id(),
      checkout_id: id(),
      token: shortHex(32),
      email: `customer-${random.alphanumeric(8).toLowerCase()}@example.com`,
      first_name: "Test",
      last_name: "Customer",
      total_price: "49.00",
      created_at: new Date(now * 1000).toISOString().replace(/\.\d{3}Z$/, "+00:00"),
      shop_domain: DEFAULT_SHOP,
    };
  },
} satisfies WebhookProvider;
