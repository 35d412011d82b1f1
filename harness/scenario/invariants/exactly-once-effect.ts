import { z } from "zod";
import { type Invariant, result } from "./invariant.ts";
import { balanceProblems, balancesByEmail, hasCreditsBalance, paymentsSent } from "./payments.ts";

const schema = z.strictObject({ invariant: z.literal("exactlyOnceEffect") });

/**
 * However many times and in whatever order an event arrived, its effect is there once: at
 * most one webhook_events row and one credit_grants row per event, and (where the column
 * exists) each balance equal to what it was plus its applied grants.
 */
export const exactlyOnceEffect: Invariant<z.infer<typeof schema>> = {
  name: "exactlyOnceEffect",
  schema,
  label: () => "exactlyOnceEffect",
  prepare: (_spec, db) => balancesByEmail(db),
  async evaluate(_spec, context, before) {
    const name = "exactlyOnceEffect";
    const expected =
      "each event's effect at most once: one grant per payment, balances = start + applied grants";
    const problems: string[] = [];
    const grants = await context.db
      .query<{ event_id: string; n: number }>(
        "SELECT event_id, count(*)::int AS n FROM credit_grants GROUP BY event_id HAVING count(*) > 1",
      )
      .catch(() => ({ rows: [] as { event_id: string; n: number }[] }));
    for (const g of grants.rows) problems.push(`event ${g.event_id}: ${g.n} credit_grants rows`);
    if (await hasCreditsBalance(context))
      problems.push(...(await balanceProblems(context, before as Map<string, number>)));
    const deliveries = context.deliveries.filter((d) => !d.signature).length;
    const events = paymentsSent(context.webhooks).length;
    if (problems.length)
      return result(
        name,
        false,
        expected,
        `${problems.length} event(s) or balance(s) with a repeated effect`,
        problems,
      );
    return result(
      name,
      true,
      expected,
      `${events} payment(s) over ${deliveries} deliveries, each applied once`,
    );
  },
};
