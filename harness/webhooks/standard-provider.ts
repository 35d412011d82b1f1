import { createHash, createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { Random } from "../random/index.ts";
import type { SignContext, WebhookProvider } from "./provider.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * The message id: the payload's own event id when it has one, else one derived from the bytes.
 * Derived, not drawn, so a redelivery of the same bytes keeps its id (as Svix's retries do)
 * and a seed replays the same ids.
 */
function messageId(payload: string, context: SignContext | undefined): string {
  try {
    const parsed = JSON.parse(payload) as { id?: unknown } | null;
    if (typeof parsed?.id === "string" && parsed.id) return parsed.id;
  } catch {
    // Not JSON: the id comes from the bytes alone.
  }
  if (context?.eventId) return context.eventId;
  const digest = createHash("sha256").update(payload).digest();
  // Svix's ids are `msg_` and 27 base62 characters (a KSUID).
  return `msg_${Array.from(digest.subarray(0, 27), (b) => BASE62[b % 62]).join("")}`;
}

/** `count` random bytes drawn from the run's seeded source. */
function seededBytes(random: Random, count: number): Uint8Array {
  return Uint8Array.from({ length: count }, () => Math.floor(random.next() * 256));
}

// The library's pure-JS HMAC costs ~45 µs on a 4 KB body, too much for a load run's hot path:
// it still checks and decodes each secret (once), and node's HMAC signs with those key bytes.
let lastSecret: string | undefined;
let lastKey: KeyObject | undefined;
function signingKey(secret: string): KeyObject {
  if (secret !== lastSecret || !lastKey) {
    new Webhook(secret); // throws on a secret the library would not accept
    const encoded = secret.startsWith("whsec_") ? secret.slice(6) : secret;
    lastKey = createSecretKey(Buffer.from(encoded, "base64"));
    lastSecret = secret;
  }
  return lastKey;
}

/**
 * Standard Webhooks (Svix and others): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64>`, signed as the `standardwebhooks` library signs. The `whsec_`
 * secret is base64 of the key bytes, which the library decodes.
 */
export const standardProvider = {
  name: "standard",
  path: "/webhooks/standard",
  sign(payload: string, secret: string, timestamp: number, context?: SignContext) {
    const id = messageId(payload, context);
    return {
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": `v1,${createHmac("sha256", signingKey(secret))
        .update(`${id}.${Math.floor(timestamp)}.${payload}`)
        .digest("base64")}`,
      "user-agent": "faultline (Standard Webhooks)",
    };
  },
  newSecret(random: Random) {
    return `whsec_${Buffer.from(seededBytes(random, 24)).toString("base64")}`;
  },
  defaults(_fixture: string, random: Random, now: number) {
    return {
      timestamp: new Date(now * 1000).toISOString(),
      created: now,
      invoice_id: `inv_${random.alphanumeric(24)}`,
      customer_id: `cus_${random.alphanumeric(14)}`,
      subscription_id: `sub_${random.alphanumeric(24)}`,
      email: `customer-${random.alphanumeric(8).toLowerCase()}@example.com`,
      name: "Test Customer",
      amount: 1000,
      period_end: now + 30 * 24 * 3600,
    };
  },
} satisfies WebhookProvider;
