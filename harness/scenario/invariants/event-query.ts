import type { Delivery, PreparedWebhook } from "../../webhooks/index.ts";
import { succeeded } from "../../webhooks/index.ts";
import type { InvariantContext } from "./invariant.ts";

/** An event the service acknowledged, with the values a query may bind. */
export interface AcknowledgedEvent {
  eventId: string;
  type: string;
  label: string;
  values: Record<string, string | number | boolean | null>;
}

/**
 * The events of a scenario the provider delivered properly (deliberately broken signatures
 * aside), split into those acknowledged with a 2xx on some attempt and those never acknowledged.
 */
export function eventsByOutcome(context: InvariantContext): {
  acknowledged: AcknowledgedEvent[];
  unacknowledged: { eventId: string; last: Delivery }[];
} {
  const webhookByEvent = new Map<string, PreparedWebhook>();
  for (const w of context.webhooks)
    if (!webhookByEvent.has(w.eventId)) webhookByEvent.set(w.eventId, w);
  const acknowledged = new Map<string, AcknowledgedEvent>();
  const last = new Map<string, Delivery>();
  for (const d of context.deliveries) {
    if (d.signature) continue;
    last.set(d.eventId, d);
    if (!succeeded(d) || acknowledged.has(d.eventId)) continue;
    const webhook = webhookByEvent.get(d.eventId);
    acknowledged.set(d.eventId, {
      eventId: d.eventId,
      type: d.type,
      label: d.label,
      values: { ...webhook?.values, event_id: d.eventId, event_type: d.type },
    });
  }
  const unacknowledged = [...last.entries()]
    .filter(([id]) => !acknowledged.has(id))
    .map(([eventId, d]) => ({ eventId, last: d }));
  return { acknowledged: [...acknowledged.values()], unacknowledged };
}

/**
 * Turn `:name` placeholders into `$1, $2…` with their values. `::casts`, quoted strings,
 * quoted identifiers and comments are left alone. Throws naming an unknown placeholder.
 */
export function bindNamed(
  query: string,
  values: Record<string, unknown>,
): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const index = new Map<string, number>();
  let text = "";
  let i = 0;
  while (i < query.length) {
    const c = query[i] as string;
    const skipTo = (end: string) => {
      const stop = query.indexOf(end, i + 1);
      const to = stop === -1 ? query.length : stop + end.length;
      text += query.slice(i, to);
      i = to;
    };
    if (c === "'") skipTo("'");
    else if (c === '"') skipTo('"');
    else if (c === "-" && query[i + 1] === "-") skipTo("\n");
    else if (c === "/" && query[i + 1] === "*") skipTo("*/");
    else if (c === ":" && query[i + 1] === ":") {
      text += "::";
      i += 2;
    } else if (c === ":" && /[A-Za-z_]/.test(query[i + 1] ?? "")) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(i + 1))?.[0] as string;
      if (!(name in values))
        throw new Error(
          `:${name} is not a value of this event (it has: ${Object.keys(values)
            .map((k) => `:${k}`)
            .join(", ")})`,
        );
      let n = index.get(name);
      if (n === undefined) {
        params.push(values[name]);
        n = params.length;
        index.set(name, n);
      }
      text += `$${n}`;
      i += name.length + 1;
    } else {
      text += c;
      i++;
    }
  }
  return { text, params };
}

/** Run `query` once per event with its values bound; the row count per event, or the error. */
export async function rowsPerEvent(
  context: InvariantContext,
  query: string,
  events: AcknowledgedEvent[],
): Promise<{ event: AcknowledgedEvent; rows: number; error?: string }[]> {
  const out: { event: AcknowledgedEvent; rows: number; error?: string }[] = [];
  for (const event of events) {
    try {
      const { text, params } = bindNamed(query, event.values);
      const result = await context.db.query(text, params);
      out.push({ event, rows: result.rowCount ?? result.rows.length });
    } catch (error) {
      out.push({ event, rows: 0, error: (error as Error).message });
    }
  }
  return out;
}
