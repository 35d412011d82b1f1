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
  /** Set when this is a redelivery of an earlier webhook (same bytes, new signature). */
  redeliveryOf?: string;
}

/** What happened when one webhook was sent. */
export interface Delivery {
  index: number;
  label: string;
  eventId: string;
  type: string;
  redeliveryOf?: string;
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
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Delivery> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const startedAt = new Date(now());
  const headers = {
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) faultline",
    ...webhook.provider.sign(webhook.payload, secret, Math.floor(startedAt.getTime() / 1000)),
  };
  const base = {
    index,
    label: webhook.label,
    eventId: webhook.eventId,
    type: webhook.type,
    redeliveryOf: webhook.redeliveryOf,
  };
  try {
    const response = await request(`${baseUrl}${webhook.provider.path}`, {
      method: "POST",
      headers,
      body: webhook.payload,
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
  const what = d.redeliveryOf ? `${d.label} (redelivery of ${d.redeliveryOf})` : d.label;
  const result =
    d.status === 0 ? `no response: ${d.error}` : `HTTP ${d.status} ${d.responseBody.slice(0, 160)}`;
  return `#${d.index + 1} ${what} ${d.type} ${d.eventId} → ${result}`;
}
