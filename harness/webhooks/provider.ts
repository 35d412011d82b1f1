import type { Random } from "../random/index.ts";

/** A webhook sender's conventions: where it posts, how it signs, how its ids look. */
export interface WebhookProvider {
  readonly name: string;
  /** The path on the service that receives this provider's webhooks. */
  readonly path: string;
  /** Headers that sign `payload` with `secret` at `timestamp` (unix seconds). */
  sign(payload: string, secret: string, timestamp: number): Record<string, string>;
  /** A fresh secret of the provider's shape, for a run that was not given one. */
  newSecret(random: Random): string;
  /** Values for the template variables a scenario did not set. */
  defaults(fixture: string, random: Random, now: number): Record<string, string | number>;
}
