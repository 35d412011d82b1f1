import { z } from "zod";
import { type Invariant, result } from "./invariant.ts";
import {
  balanceProblems,
  balancesByEmail,
  grantsByEvent,
  hasCreditsBalance,
  type PaymentSent,
  paymentsSent,
} from "./payments.ts";

const appliedSchema = z.strictObject({ invariant: z.literal("creditsApplied") });
const pendingSchema = z.strictObject({ invariant: z.literal("creditsPending") });

function grantProblems(
  payments: PaymentSent[],
  grants: Map<string, Record<string, unknown>>,
  applied: boolean,
): string[] {
  const problems: string[] = [];
  for (const p of payments) {
    const grant = grants.get(p.eventId);
    if (!grant) problems.push(`payment ${p.label} ${p.eventId}: no credit_grants row`);
    else if (
      grant.applied !== applied ||
      Number(grant.credits) !== p.credits ||
      Number(grant.amount_cents) !== p.amountCents
    ) {
      problems.push(
        `payment ${p.label} ${p.eventId}: expected credits ${p.credits}, amount_cents ${p.amountCents}, applied ${applied}; row ${JSON.stringify(grant)}`,
      );
    }
  }
  return problems;
}

/**
 * With `users.credits_balance` present: every payment has an applied grant, and each user's
 * balance grew by exactly the sum of their grants (so a redelivery did not pay twice).
 */
export const creditsApplied: Invariant<z.infer<typeof appliedSchema>> = {
  name: "creditsApplied",
  schema: appliedSchema,
  label: () => "creditsApplied",
  prepare: (_spec, db) => balancesByEmail(db),
  async evaluate(_spec, context, before) {
    const name = "creditsApplied";
    const expected =
      "users.credits_balance exists; each payment has an applied grant and each balance grew by its grants";
    if (!(await hasCreditsBalance(context))) {
      return result(
        name,
        false,
        expected,
        "users.credits_balance does not exist in this database (use creditsPending for that schema)",
      );
    }
    const payments = paymentsSent(context.webhooks);
    const problems = grantProblems(payments, await grantsByEvent(context), true);
    problems.push(...(await balanceProblems(context, before as Map<string, number>)));
    if (problems.length)
      return result(name, false, expected, `${problems.length} problem(s)`, problems);
    return result(name, true, expected, `${payments.length} payment(s) applied`);
  },
};

/** Without `users.credits_balance`: every payment is recorded as a grant with applied = false. */
export const creditsPending: Invariant<z.infer<typeof pendingSchema>> = {
  name: "creditsPending",
  schema: pendingSchema,
  label: () => "creditsPending",
  async evaluate(_spec, context) {
    const name = "creditsPending";
    const expected =
      "users.credits_balance absent; each payment recorded in credit_grants with applied = false";
    if (await hasCreditsBalance(context)) {
      return result(
        name,
        false,
        expected,
        "users.credits_balance exists in this database (use creditsApplied for that schema)",
      );
    }
    const payments = paymentsSent(context.webhooks);
    const problems = grantProblems(payments, await grantsByEvent(context), false);
    if (problems.length)
      return result(
        name,
        false,
        expected,
        `${problems.length} of ${payments.length} payment(s) not recorded as pending`,
        problems,
      );
    return result(name, true, expected, `${payments.length} payment(s) pending`);
  },
};
