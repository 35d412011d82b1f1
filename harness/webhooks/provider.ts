import type { Random } from "../random/index.ts";

/** What a provider may need to know about the webhook it signs, beyond its bytes. */
export interface SignContext {
  /** The fixture the payload was rendered from (e.g. `push`, `orders-paid`). */
  fixture: string;
  /** The event id the scenario runner read from the payload. */
  eventId: string;
  /** The event type the scenario runner read from the payload. */
  type: string;
}

/** A webhook sender's conventions: where it posts, how it signs, how its ids look. */
export interface WebhookProvider {
  readonly name: string;
  /** The path on the service that receives this provider's webhooks. */
  readonly path: string;
  /**
   * Headers that sign `payload` with `secret` at `timestamp` (unix seconds), plus the headers
   * the provider sends beside the signature (event name, delivery id). Async for providers
   * whose signing library is.
   */
  sign(
    payload: string,
    secret: string,
    timestamp: number,
    context?: SignContext,
  ): Record<string, string> | Promise<Record<string, string>>;
  /** A fresh secret of the provider's shape, for a run that was not given one. */
  newSecret(random: Random): string;
  /** Values for the template variables a scenario did not set. */
  defaults(fixture: string, random: Random, now: number): Record<string, string | number>;
}
