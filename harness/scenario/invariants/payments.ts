import type { PreparedWebhook } from "../../webhooks/index.ts";
import type { InvariantContext } from "./invariant.ts";

/** A payment as the payments contract reads it from a checkout.session.completed payload. */
export interface PaymentSent {
  eventId: string;
  label: string;
  customer: string | null;
  email: string | null;
  credits: number;
  amountCents: number;
}

/** The distinct payments the scenario sent (redeliveries count once). */
export function paymentsSent(webhooks: PreparedWebhook[]): PaymentSent[] {
  const seen = new Set<string>();
  const payments: PaymentSent[] = [];
  for (const webhook of webhooks) {
    if (webhook.type !== "checkout.session.completed" || seen.has(webhook.eventId)) continue;
    seen.add(webhook.eventId);
    const event = JSON.parse(webhook.payload) as {
      data: {
        object: {
          customer?: string | null;
          customer_details?: { email?: string | null };
          amount_total?: number;
          metadata?: Record<string, string>;
        };
      };
    };
    const session = event.data.object;
    payments.push({
      eventId: webhook.eventId,
      label: webhook.label,
      customer: session.customer ?? null,
      email: session.customer_details?.email ?? null,
      credits: Number.parseInt(session.metadata?.credits ?? "0", 10) || 0,
      amountCents: session.amount_total ?? 0,
    });
  }
  return payments;
}

/** Whether `users.credits_balance` exists in the scenario's database. */
export async function hasCreditsBalance(context: Pick<InvariantContext, "db">): Promise<boolean> {
  const found = await context.db.query(
    `SELECT 1 FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'users' AND column_name = 'credits_balance'`,
  );
  return found.rowCount === 1;
}

/** credit_grants rows keyed by event id (empty when the table is missing). */
export async function grantsByEvent(
  context: Pick<InvariantContext, "db">,
): Promise<Map<string, Record<string, unknown>>> {
  const grants = await context.db
    .query(
      "SELECT event_id, user_id, credits, amount_cents, applied FROM credit_grants ORDER BY id",
    )
    .catch(() => ({ rows: [] as Record<string, unknown>[] }));
  return new Map(grants.rows.map((row) => [String(row.event_id), row]));
}

/** The users rows with this email, as evidence shows them. */
export async function usersWithEmail(context: Pick<InvariantContext, "db">, email: string) {
  return context.db.query<{
    id: string;
    email: string;
    stripe_customer_id: string | null;
    created_via: string;
  }>("SELECT id, email, stripe_customer_id, created_via FROM users WHERE email = $1", [email]);
}

/** Each user's credits_balance by email (empty when the column is missing): taken before the run. */
export async function balancesByEmail(db: InvariantContext["db"]): Promise<Map<string, number>> {
  const balances = await db
    .query<{ email: string; credits_balance: number }>("SELECT email, credits_balance FROM users")
    .catch(() => ({ rows: [] as { email: string; credits_balance: number }[] }));
  return new Map(balances.rows.map((r) => [r.email, r.credits_balance]));
}

/** Users whose balance is not their starting balance plus their applied grants. */
export async function balanceProblems(
  context: Pick<InvariantContext, "db">,
  start: Map<string, number>,
): Promise<string[]> {
  const balances = await context.db.query<{
    email: string;
    credits_balance: number;
    granted: number;
  }>(
    `SELECT u.email, u.credits_balance, coalesce(sum(g.credits) FILTER (WHERE g.applied), 0)::int AS granted
       FROM users u LEFT JOIN credit_grants g ON g.user_id = u.id GROUP BY u.id ORDER BY u.id`,
  );
  const problems: string[] = [];
  for (const row of balances.rows) {
    const was = start.get(row.email) ?? 0;
    if (row.credits_balance !== was + row.granted) {
      problems.push(
        `user ${row.email}: credits_balance ${row.credits_balance}, expected ${was} + ${row.granted} granted = ${was + row.granted}`,
      );
    }
  }
  return problems;
}
