import { z } from "zod";
import { type Invariant, result, rowLines } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("noAbortedIdleConnections") });

/** At the end, no session of the service sits `idle in transaction (aborted)`: the pool is clean. */
export const noAbortedIdleConnections: Invariant<z.infer<typeof schema>> = {
  name: "noAbortedIdleConnections",
  schema,
  label: () => "noAbortedIdleConnections",
  async evaluate(_spec, { db }) {
    const name = "noAbortedIdleConnections";
    const aborted = await db.query(
      `SELECT pid, application_name, state, now() - state_change AS idle_for, query AS last_query
         FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction (aborted)'`,
    );
    const expected = "no connection in state 'idle in transaction (aborted)' (pg_stat_activity)";
    if (aborted.rowCount === 0) return result(name, true, expected, "none");
    return result(
      name,
      false,
      expected,
      `${aborted.rowCount} aborted idle connection(s)`,
      rowLines(aborted.rows),
    );
  },
};
