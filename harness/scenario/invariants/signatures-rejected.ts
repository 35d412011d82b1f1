import { z } from "zod";
import { formatDelivery } from "../../webhooks/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({
  invariant: z.literal("signaturesRejected"),
  status: z.number().int().min(400).max(499).default(400),
});

/**
 * Every delivery sent with a broken signature (wrong secret, stale, tampered) was answered with
 * `status` (400 by default) and wrote nothing: its event id is not in webhook_events.
 */
export const signaturesRejected: Invariant<z.infer<typeof schema>> = {
  name: "signaturesRejected",
  schema: schema as unknown as z.ZodType<z.infer<typeof schema>>,
  label: (spec) => `signaturesRejected(${spec.status})`,
  async evaluate(spec, context) {
    const name = `signaturesRejected(${spec.status})`;
    const expected = `every badly signed delivery answered ${spec.status} and left no webhook_events row`;
    const bad = context.deliveries.filter((d) => d.signature);
    if (bad.length === 0)
      return result(
        name,
        false,
        expected,
        "the scenario sends no badly signed delivery: add signature: wrongSecret | stale | tampered",
      );
    const accepted = new Set(
      context.deliveries
        .filter((d) => !d.signature && d.status >= 200 && d.status < 300)
        .map((d) => d.eventId),
    );
    const recorded = new Set(
      (
        await context.db
          .query<{ event_id: string }>("SELECT event_id FROM webhook_events")
          .catch(() => ({ rows: [] as { event_id: string }[] }))
      ).rows.map((r) => r.event_id),
    );
    const problems: string[] = [];
    for (const d of bad) {
      if (d.status !== spec.status)
        problems.push(`answered ${d.status || "nothing"}: ${formatDelivery(d)}`);
      // A row is only wrong if no well-signed delivery of the same event could have written it.
      if (recorded.has(d.eventId) && !accepted.has(d.eventId))
        problems.push(`wrote a webhook_events row: ${formatDelivery(d)}`);
    }
    if (problems.length)
      return result(
        name,
        false,
        expected,
        `${problems.length} problem(s) in ${bad.length} bad deliveries`,
        problems,
      );
    return result(name, true, expected, `${bad.length} bad deliveries rejected`);
  },
};
