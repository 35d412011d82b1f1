import { request } from "undici";
import type { WebhookProvider } from "./provider.ts";

/** One webhook ready to send: its exact bytes, signed afresh at each send. */
export interface PreparedWebhook {
  /** The scenario's name for it (`as`), or its position. */
  label: string;
  provider: WebhookProvider;
  eventId: string;
  type: string;
  payload: string;
  /** The fixture the payload was rendered from, when known (some providers' headers name it). */
  fixture?: string;
  /** Set when this is a redelivery of an earlier webhook (same bytes, new signature). */
  redeliveryOf?: string;
  /** Send it with a broken signature, to check that the service rejects it. */
  signature?: SignatureFault;
  /** The path on the service it is posted to, when not the provider's default. */
  path?: string;
  /** The template values it was rendered with (event_id, customer, …), for invariants' queries. */
  values?: Record<string, string | number | boolean | null>;
}

/**
 * Ways a delivery's signature can be wrong: signed with another secret, signed an hour ago
 * (outside every provider's tolerance), or a body changed after it was signed.
 */
export type SignatureFault = "wrongSecret" | "stale" | "tampered";

/** What happened when one webhook was sent. */
export interface Delivery {
  index: number;
  label: string;
  eventId: string;
  type: string;
  redeliveryOf?: string;
  /** 1 for the first attempt, 2… for the provider-style retries of the same delivery. */
  attempt: number;
  /** Set on the extra copies a `duplicates` policy sends. */
  duplicateOf?: string;
  /** The broken signature it was sent with, if any. */
  signature?: SignatureFault;
  /** HTTP status, or 0 when no response came back. */
  status: number;
  responseBody: string;
  /** Transport error (connection refused, timeout), when there was no response. */
  error?: string;
  startedAt: Date;
  finishedAt: Date;
}

/** Whether the service accepted the webhook (2xx). */
export function succeeded(delivery: Delivery): boolean {
  return delivery.status >= 200 && delivery.status < 300;
}

/** Sign and POST one webhook; never throws for the service's failures, it records them. */
export async function deliver(
  baseUrl: string,
  index: number,
  webhook: PreparedWebhook,
  secret: string,
  now: () => number,
  options: {
    timeoutMs?: number;
    signal?: AbortSignal;
    attempt?: number;
    duplicateOf?: string;
  } = {},
): Promise<Delivery> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const startedAt = new Date(now());
  const fault = webhook.signature;
  // Another secret of the same shape (still valid base64 for providers that decode it).
  const signingSecret =
    fault === "wrongSecret"
      ? `${secret.slice(0, -2)}${secret.endsWith("AA") ? "BB" : "AA"}`
      : secret;
  const signedAt = Math.floor(startedAt.getTime() / 1000) - (fault === "stale" ? 3600 : 0);
  const headers = {
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) faultline",
    ...(await webhook.provider.sign(webhook.payload, signingSecret, signedAt, {
      fixture: webhook.fixture ?? webhook.type,
      eventId: webhook.eventId,
      type: webhook.type,
    })),
  };
  // A tampered body: one digit changed after signing (an amount or an id, say).
  const body =
    fault === "tampered"
      ? webhook.payload.replace(/\d/, (d) => String((Number(d) + 1) % 10))
      : webhook.payload;
  const base = {
    index,
    label: webhook.label,
    eventId: webhook.eventId,
    type: webhook.type,
    redeliveryOf: webhook.redeliveryOf,
    attempt: options.attempt ?? 1,
    ...(options.duplicateOf ? { duplicateOf: options.duplicateOf } : {}),
    ...(fault ? { signature: fault } : {}),
  };
  try {
    const response = await request(`${baseUrl}${webhook.path ?? webhook.provider.path}`, {
      method: "POST",
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: options.signal,
    });
    const responseBody = await response.body.text();
    return {
      ...base,
      status: response.statusCode,
      responseBody,
      startedAt,
      finishedAt: new Date(now()),
    };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    return {
      ...base,
      status: 0,
      responseBody: "",
      error: (error as Error).message,
      startedAt,
      finishedAt: new Date(now()),
    };
  }
}

/** One-line rendering of a delivery for evidence. */
export function formatDelivery(d: Delivery): string {
  const what = [
    d.redeliveryOf ? `${d.label} (redelivery of ${d.redeliveryOf})` : d.label,
    ...(d.duplicateOf ? [`(duplicate of ${d.duplicateOf})`] : []),
    ...(d.attempt > 1 ? [`attempt ${d.attempt}`] : []),
    ...(d.signature ? [`[${d.signature}]`] : []),
  ].join(" ");
  const result =
    d.status === 0 ? `no response: ${d.error}` : `HTTP ${d.status} ${d.responseBody.slice(0, 160)}`;
  return `#${d.index + 1} ${what} ${d.type} ${d.eventId} → ${result}`;
}
