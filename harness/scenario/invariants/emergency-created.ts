import { z } from "zod";
import { type Invariant, result, rowLines } from "./invariant.ts";
import { usersWithEmail } from "./payments.ts";

const schema = z.strictObject({
  invariant: z.literal("emergencyCreated"),
  email: z.string().min(3),
});

/** A user unknown before the run was created in an emergency (`created_via = 'emergency'`). */
export const emergencyCreated: Invariant<z.infer<typeof schema>> = {
  name: "emergencyCreated",
  schema,
  label: (spec) => `emergencyCreated(${spec.email})`,
  async prepare(spec, db) {
    const before = await db.query("SELECT count(*)::int AS n FROM users WHERE email = $1", [
      spec.email,
    ]);
    return before.rows[0]?.n as number;
  },
  async evaluate(spec, context, existedBefore) {
    const name = `emergencyCreated(${spec.email})`;
    const expected = `no user ${spec.email} before the run; afterwards one, with created_via = 'emergency'`;
    const users = await usersWithEmail(context, spec.email);
    if (existedBefore !== 0)
      return result(
        name,
        false,
        expected,
        `${existedBefore} user(s) with that email existed before the first webhook (fix the scenario's seed)`,
      );
    if (users.rowCount !== 1)
      return result(
        name,
        false,
        expected,
        `${users.rowCount} users with that email`,
        rowLines(users.rows),
      );
    const row = users.rows[0] as { created_via: string };
    const passed = row.created_via === "emergency";
    return result(
      name,
      passed,
      expected,
      `created_via = '${row.created_via}'`,
      rowLines(users.rows),
    );
  },
};
