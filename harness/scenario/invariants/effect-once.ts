import { z } from "zod";
import { eventsByOutcome, rowsPerEvent } from "./event-query.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({
  invariant: z.literal("effectOnce"),
  /** SQL with `:event_id`, `:event_type` or any template variable (`:customer`…) bound per event. */
  query: z.string().min(1),
});

/**
 * The generic form of exactlyOnceEffect for any schema: for every acknowledged event, `query`
 * (run with the event's values bound) returns exactly one row — however often and in whatever
 * order the event arrived.
 */
export const effectOnce: Invariant<z.infer<typeof schema>> = {
  name: "effectOnce",
  schema,
  label: () => "effectOnce",
  async evaluate(spec, context) {
    const name = "effectOnce";
    const expected = `exactly one row per acknowledged event from: ${spec.query}`;
    const { acknowledged } = eventsByOutcome(context);
    if (acknowledged.length === 0)
      return result(name, false, expected, "no event was acknowledged: nothing to judge");
    const counts = await rowsPerEvent(context, spec.query, acknowledged);
    const problems = counts
      .filter((c) => c.error !== undefined || c.rows !== 1)
      .map((c) =>
        c.error !== undefined
          ? `${c.event.eventId} (${c.event.type}): query failed: ${c.error}`
          : `${c.event.eventId} (${c.event.type}): ${c.rows} rows`,
      );
    const deliveries = context.deliveries.filter((d) => !d.signature).length;
    if (problems.length)
      return result(
        name,
        false,
        expected,
        `${problems.length} of ${acknowledged.length} acknowledged event(s) without exactly one row`,
        problems,
      );
    return result(
      name,
      true,
      expected,
      `${acknowledged.length} event(s) over ${deliveries} deliveries, one row each`,
    );
  },
};
