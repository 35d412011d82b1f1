import { z } from "zod";
import { formatDelivery, succeeded } from "../../webhooks/index.ts";
import { eventsByOutcome, rowsPerEvent } from "./event-query.ts";
import { type Invariant, type InvariantContext, result } from "./invariant.ts";
import { grantsByEvent } from "./payments.ts";

const schema = z.strictObject({
  invariant: z.literal("noLostEvents"),
  /**
   * SQL with `:event_id`, `:event_type` or any template variable bound per event: at least one
   * row per acknowledged event. Without it, the payments preset's tables are read.
   */
  query: z.string().min(1).optional(),
});

/**
 * No event lost: every event the service acknowledged (2xx on any attempt) has its durable
 * effect — rows from `query`, or (the payments preset) a webhook_events row and, for a payment,
 * a credit_grants row. Events never acknowledged are reported as undelivered (the provider still
 * holds them), not as lost.
 */
export const noLostEvents: Invariant<z.infer<typeof schema>> = {
  name: "noLostEvents",
  schema,
  label: () => "noLostEvents",
  async evaluate(spec, context) {
    if (spec.query !== undefined) return byQuery(spec.query, context);
    const name = "noLostEvents";
    const expected =
      "every acknowledged event has a webhook_events row, and every acknowledged payment a credit_grants row";
    const acknowledged = new Map<string, string>();
    const attempted = new Map<string, string>();
    for (const d of context.deliveries) {
      if (d.signature) continue; // a deliberately broken signature is not the provider's delivery
      attempted.set(d.eventId, d.type);
      if (succeeded(d)) acknowledged.set(d.eventId, d.type);
    }
    const recorded = new Set(
      (
        await context.db
          .query<{ event_id: string }>("SELECT event_id FROM webhook_events")
          .catch(() => ({ rows: [] as { event_id: string }[] }))
      ).rows.map((r) => r.event_id),
    );
    const grants = await grantsByEvent(context);
    const lost: string[] = [];
    for (const [eventId, type] of acknowledged) {
      if (!recorded.has(eventId))
        lost.push(`${eventId} (${type}): acknowledged, but no webhook_events row`);
      else if (type === "checkout.session.completed" && !grants.has(eventId))
        lost.push(`${eventId} (${type}): acknowledged, but no credit_grants row`);
    }
    const undelivered = [...attempted.keys()].filter((id) => !acknowledged.has(id));
    const undeliveredLines = undelivered.map((id) => {
      const last = context.deliveries.filter((d) => d.eventId === id).at(-1);
      return `undelivered (never acknowledged): ${last ? formatDelivery(last) : id}`;
    });
    const seen = `${acknowledged.size} acknowledged, ${lost.length} of them without effect; ${undelivered.length} never acknowledged`;
    return result(name, lost.length === 0, expected, seen, [
      ...lost.map((l) => `lost: ${l}`),
      ...undeliveredLines,
    ]);
  },
};

async function byQuery(query: string, context: InvariantContext) {
  const name = "noLostEvents";
  const expected = `at least one row per acknowledged event from: ${query}`;
  const { acknowledged, unacknowledged } = eventsByOutcome(context);
  const counts = await rowsPerEvent(context, query, acknowledged);
  const lost = counts
    .filter((c) => c.error !== undefined || c.rows === 0)
    .map((c) =>
      c.error !== undefined
        ? `lost: ${c.event.eventId} (${c.event.type}): query failed: ${c.error}`
        : `lost: ${c.event.eventId} (${c.event.type}): acknowledged, but no row`,
    );
  const undelivered = unacknowledged.map(
    (u) => `undelivered (never acknowledged): ${formatDelivery(u.last)}`,
  );
  if (acknowledged.length === 0 && unacknowledged.length === 0)
    return result(name, false, expected, "the scenario delivered no event: nothing to judge");
  return result(
    name,
    lost.length === 0,
    expected,
    `${acknowledged.length} acknowledged, ${lost.length} of them without effect; ${unacknowledged.length} never acknowledged`,
    [...lost, ...undelivered],
  );
}
