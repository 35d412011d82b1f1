import type { Random } from "../random/index.ts";
import type { WebhookProvider } from "./provider.ts";
import { fillTemplate, type TemplateValue, templateVariables } from "./template.ts";

/** The fields providers put an event's id and type in (Stripe, Standard, Paddle, Lemon Squeezy). */
type EventBody = {
  id?: unknown;
  event_id?: unknown;
  type?: unknown;
  event_type?: unknown;
  meta?: { event_name?: unknown };
};

function eventIdOf(body: EventBody): string | undefined {
  const id = body.id ?? body.event_id;
  return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
}

function eventTypeOf(body: EventBody): string | undefined {
  const type = body.type ?? body.event_type ?? body.meta?.event_name;
  return typeof type === "string" ? type : undefined;
}

/** What to fill a stock fixture's template with. */
export interface RenderOptions {
  provider: WebhookProvider;
  /** The fixture's name (its file name without `.json`); providers' defaults depend on it. */
  fixture: string;
  /** Draws the ids, emails and other values the caller did not give. */
  random: Random;
  /** The template clock, in unix seconds: `created`, `expires_at` and the like derive from it. */
  nowSeconds: number;
  /** Values that win over the provider's defaults (a scenario step's `with`). */
  given?: Record<string, TemplateValue>;
  /** Where the template came from, for errors (a file, or `provider/fixture`). */
  where: string;
}

/** A stock fixture filled in: the exact bytes to send and what they say about themselves. */
export interface RenderedFixture {
  /** The body, pretty-printed as Stripe sends its events; signatures cover these bytes. */
  payload: string;
  eventId: string | undefined;
  type: string | undefined;
  /** Every value the template could use, defaults and given ones (invariants' queries bind them). */
  values: Record<string, TemplateValue>;
}

/**
 * Fill a stock (templated) fixture the one way scenarios and replay both use: the provider's
 * defaults drawn from `random`, overridden by `given`. Throws naming `where` and every
 * variable nobody fills, so a payload never goes out half-filled.
 */
export function renderFixture(template: unknown, options: RenderOptions): RenderedFixture {
  const { provider, fixture, random, nowSeconds, where } = options;
  // Drawn even when every value is given: the draws advance the run's one random stream, and a
  // seed must replay the same stream whatever a step sets.
  const defaults = provider.defaults(fixture, random, nowSeconds);
  const values: Record<string, TemplateValue> = { ...defaults, ...options.given };
  const missing = templateVariables(template).filter((name) => !(name in values));
  if (missing.length) {
    throw new Error(
      `${where}: no value for template variable${missing.length > 1 ? "s" : ""} ${missing.map((m) => `{{${m}}}`).join(", ")}; the ${provider.name} provider fills ${Object.keys(defaults).join(", ")}`,
    );
  }
  const body = fillTemplate(template, values, where) as EventBody;
  return {
    payload: JSON.stringify(body, null, 2),
    eventId: body && typeof body === "object" ? eventIdOf(body) : undefined,
    type: body && typeof body === "object" ? eventTypeOf(body) : undefined,
    values,
  };
}
