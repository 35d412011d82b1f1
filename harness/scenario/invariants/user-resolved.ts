import { z } from "zod";
import { type Invariant, result, rowLines } from "./invariant.ts";
import { grantsByEvent, paymentsSent, usersWithEmail } from "./payments.ts";

const schema = z.strictObject({ invariant: z.literal("userResolved"), email: z.string().min(3) });

/** The payments for `email` all landed on exactly one user with that email. */
export const userResolved: Invariant<z.infer<typeof schema>> = {
  name: "userResolved",
  schema,
  label: (spec) => `userResolved(${spec.email})`,
  async evaluate(spec, context) {
    const name = `userResolved(${spec.email})`;
    const users = await usersWithEmail(context, spec.email);
    const payments = paymentsSent(context.webhooks).filter((p) => p.email === spec.email);
    const expected = `one user with email ${spec.email}, credited by all ${payments.length} payment(s) sent for it`;
    if (users.rowCount !== 1) {
      return result(
        name,
        false,
        expected,
        `${users.rowCount} users with that email`,
        rowLines(users.rows),
      );
    }
    const user = users.rows[0] as { id: string };
    const grants = await grantsByEvent(context);
    const missing = payments.filter(
      (p) => String(grants.get(p.eventId)?.user_id) !== String(user.id),
    );
    if (missing.length > 0) {
      return result(
        name,
        false,
        expected,
        `${missing.length} payment(s) without a credit_grants row for user ${user.id}`,
        [
          ...rowLines(users.rows),
          ...missing.map(
            (p) =>
              `payment ${p.label} ${p.eventId}: grant ${JSON.stringify(grants.get(p.eventId) ?? null)}`,
          ),
        ],
      );
    }
    return result(
      name,
      true,
      expected,
      `user ${user.id} holds ${payments.length} grant(s)`,
      rowLines(users.rows),
    );
  },
};
