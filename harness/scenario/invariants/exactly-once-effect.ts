import { z } from "zod";
import { type Invariant, result } from "./invariant.ts";
import { paymentsSent } from "./payments.ts";

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
  async prepare(_spec, db) {
    const rows = await db
      .query<{ email: string; credits_balance: number }>("SELECT email, credits_balance FROM users")
      .catch(() => ({ rows: [] as { email: string; credits_balance: number }[] }));
    return new Map(rows.rows.map((r) => [r.email, r.credits_balance]));
  },
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
    const hasBalance = await context.db
      .query(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'credits_balance'",
      )
      .then((r) => r.rowCount === 1);
    if (hasBalance) {
      const balances = await context.db.query<{
        email: string;
        credits_balance: number;
        granted: number;
      }>(
        `SELECT u.email, u.credits_balance, coalesce(sum(g.credits) FILTER (WHERE g.applied), 0)::int AS granted
           FROM users u LEFT JOIN credit_grants g ON g.user_id = u.id GROUP BY u.id ORDER BY u.id`,
      );
      const start = before as Map<string, number>;
      for (const row of balances.rows) {
        const want = (start.get(row.email) ?? 0) + row.granted;
        if (row.credits_balance !== want)
          problems.push(
            `user ${row.email}: credits_balance ${row.credits_balance}, expected ${want}`,
          );
      }
    }
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
