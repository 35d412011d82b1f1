import { createHash, createHmac } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import type { Random } from "../random/index.ts";
import type { SignContext, WebhookProvider } from "./provider.ts";

// UUIDv5 namespace for delivery ids (a fixed, arbitrary UUID).
const DELIVERY_NAMESPACE = Buffer.from("6f1c2e0a9b3d4c5e8f7a1b2c3d4e5f60", "hex");

/**
 * `X-GitHub-Delivery`: a name-based UUID (v5) of the payload. Derived, not drawn: GitHub keeps
 * the GUID when a delivery is redelivered, and a seed replays the same ids.
 */
function deliveryId(payload: string): string {
  const bytes = createHash("sha1").update(DELIVERY_NAMESPACE).update(payload).digest();
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The `X-GitHub-Event` name: the fixture's name up to its first dot (`push`,
 * `pull_request.opened` → `pull_request`, whose payload carries `action: "opened"`). Without
 * a fixture name, the two events whose payloads say what they are.
 */
function eventName(payload: string, context: SignContext | undefined): string {
  if (context?.fixture) return context.fixture.split(".")[0] as string;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    // Not JSON: nothing to infer from.
  }
  if ("pusher" in parsed && "ref" in parsed) return "push";
  if ("zen" in parsed && "hook_id" in parsed) return "ping";
  throw new Error(
    "github: cannot tell the X-GitHub-Event of this payload; sign it with a context naming its fixture",
  );
}

/** `count` random bytes drawn from the run's seeded source, as hex. */
function seededHex(random: Random, count: number): string {
  return Array.from({ length: count }, () =>
    Math.floor(random.next() * 256)
      .toString(16)
      .padStart(2, "0"),
  ).join("");
}

/**
 * GitHub: `X-Hub-Signature-256: sha256=<hex>` from `@octokit/webhooks-methods`, the legacy
 * SHA-1 `X-Hub-Signature` GitHub still sends beside it, `X-GitHub-Event` and
 * `X-GitHub-Delivery`. The secret is used as it is (any string).
 */
export const githubProvider = {
  name: "github",
  path: "/webhooks/github",
  async sign(payload: string, secret: string, _timestamp: number, context?: SignContext) {
    return {
      "x-hub-signature-256": await sign(secret, payload),
      "x-hub-signature": `sha1=${createHmac("sha1", secret).update(payload).digest("hex")}`,
      "x-github-event": eventName(payload, context),
      "x-github-delivery": deliveryId(payload),
      "user-agent": "GitHub-Hookshot/faultline",
    };
  },
  newSecret(random: Random) {
    return seededHex(random, 20);
  },
  defaults(_fixture: string, random: Random, now: number) {
    const login = `octo-${random.alphanumeric(6).toLowerCase()}`;
    return {
      before: seededHex(random, 20),
      after: seededHex(random, 20),
      tree_id: seededHex(random, 20),
      repository_id: 100_000_000 + Math.floor(random.next() * 800_000_000),
      owner: login,
      owner_id: 1_000_000 + Math.floor(random.next() * 150_000_000),
      repo: "webhook-target",
      name: "Test Pusher",
      email: `${login}@example.com`,
      message: "Fix the webhook handler",
      timestamp: new Date(now * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      pushed_at: now,
    };
  },
} satisfies WebhookProvider;
