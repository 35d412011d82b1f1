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
  const variables = compiledTemplate(template)?.variables ?? templateVariables(template);
  const missing = variables.filter((name) => !(name in values));
  if (missing.length) {
    throw new Error(
      `${where}: no value for template variable${missing.length > 1 ? "s" : ""} ${missing.map((m) => `{{${m}}}`).join(", ")}; the ${provider.name} provider fills ${Object.keys(defaults).join(", ")}`,
    );
  }
  const compiled = compiledTemplate(template);
  if (compiled) {
    const payload = compiled.render(values);
    if (payload !== undefined) {
      // Only the fields the id and type come from are filled as values, not the whole body.
      const t = template as EventBody;
      const head: EventBody = {
        id: fillTemplate(t.id, values, where),
        event_id: fillTemplate(t.event_id, values, where),
        type: fillTemplate(t.type, values, where),
        event_type: fillTemplate(t.event_type, values, where),
        meta: { event_name: fillTemplate(t.meta?.event_name, values, where) },
      };
      return { payload, eventId: eventIdOf(head), type: eventTypeOf(head), values };
    }
  }
  const body = fillTemplate(template, values, where) as EventBody;
  return {
    payload: JSON.stringify(body, null, 2),
    eventId: body && typeof body === "object" ? eventIdOf(body) : undefined,
    type: body && typeof body === "object" ? eventTypeOf(body) : undefined,
    values,
  };
}

/** A template turned once into the pretty-printed text around its variables. */
interface CompiledTemplate {
  variables: string[];
  /** The payload, byte for byte what JSON.stringify(fillTemplate(…), null, 2) gives; undefined when a value would not serialize as a plain value (the caller falls back). */
  render(values: Record<string, TemplateValue>): string | undefined;
}

const compiledTemplates = new WeakMap<object, CompiledTemplate | null>();
const VARIABLE = /\{\{([a-z_][a-z0-9_]*)\}\}/;
const WHOLE_VARIABLE = /^\{\{([a-z_][a-z0-9_]*)\}\}$/;
const ANY_VARIABLE = /\{\{([a-z_][a-z0-9_]*)\}\}/g;
const HOLE = /"\\u0000hole(\d+)\\u0000"/;

/**
 * Load runs render the same template thousands of times a second, and walking it, rebuilding
 * it and pretty-printing it per request cost ~65 µs. So the template is printed once with a
 * marker in place of each string that holds a variable, and a render only joins the printed
 * pieces with the filled strings. Templates holding a NUL character (which the marker uses)
 * are not compiled.
 */
function compiledTemplate(template: unknown): CompiledTemplate | null {
  if (!template || typeof template !== "object") return null;
  const cached = compiledTemplates.get(template);
  if (cached !== undefined) return cached;
  const holes: string[] = [];
  let hasNul = false;
  const mark = (value: unknown): unknown => {
    if (typeof value === "string") {
      if (value.includes("\u0000")) hasNul = true;
      if (!VARIABLE.test(value)) return value;
      holes.push(value);
      return `\u0000hole${holes.length - 1}\u0000`;
    }
    if (Array.isArray(value)) return value.map(mark);
    if (value && typeof value === "object")
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => {
          if (k.includes("\u0000")) hasNul = true;
          return [k, mark(v)];
        }),
      );
    return value;
  };
  const printed = JSON.stringify(mark(template), null, 2);
  let compiled: CompiledTemplate | null = null;
  if (!hasNul) {
    // split with a capturing group alternates text, hole number, text, …
    const pieces = printed.split(new RegExp(HOLE.source, "g"));
    const texts = pieces.filter((_, i) => i % 2 === 0);
    const fills = pieces
      .filter((_, i) => i % 2 === 1)
      .map((n) => {
        const source = holes[Number(n)] as string;
        const whole = WHOLE_VARIABLE.exec(source);
        return whole ? { whole: whole[1] as string } : { inline: source };
      });
    compiled = {
      variables: templateVariables(template),
      render(values) {
        let out = texts[0] as string;
        for (let i = 0; i < fills.length; i++) {
          const fill = fills[i] as { whole?: string; inline?: string };
          let text: string;
          if (fill.whole !== undefined) {
            const value: unknown = values[fill.whole];
            // Only plain values print the same alone as inside the body (undefined drops its
            // key, an object given at run time is indented): anything else takes the slow path.
            const kind = typeof value;
            if (value !== null && kind !== "string" && kind !== "number" && kind !== "boolean")
              return undefined;
            text = JSON.stringify(value);
          } else {
            text = JSON.stringify(
              (fill.inline as string).replace(ANY_VARIABLE, (_, name: string) =>
                String(values[name]),
              ),
            );
          }
          out += text + (texts[i + 1] as string);
        }
        return out;
      },
    };
  }
  compiledTemplates.set(template, compiled);
  return compiled;
}
