/**
 * The incident: production's users table has no credits_balance. The payment webhook's first
 * query fails with 42703; code that swallows it and carries on in the same transaction turns
 * every later statement into 25P02 and payments stop. The hotfix must roll back, resolve or
 * create the user, record the credits as pending, and keep processing.
 */
import {
  creditsPending,
  defineScenario,
  dropColumn,
  emergencyCreated,
  idempotent,
  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  redeliver,
  rollsBackAfterError,
  sql,
  userResolved,
  webhook,
} from "faultline";

export default defineScenario({
  name: "credits-balance-missing",
  description: "users.credits_balance is missing in production; payments must keep flowing",
  randomSeed: 20261127,
  drift: [dropColumn("users.credits_balance")],
  seed: {
    users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }],
  },
  webhooks: [
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "500",
        amount_total: 4900,
      },
      "known-payment",
    ),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_UnknownCustomer",
        email: "unknown@example.com",
        credits: "100",
        amount_total: 990,
      },
      "unknown-payment",
    ),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "200",
        amount_total: 1990,
      },
      "later-payment",
    ),
    redeliver("known-payment"),
  ],
  invariants: [
    noCascade(),
    processingContinues(),
    userResolved("known@example.com"),
    emergencyCreated("unknown@example.com"),
    userResolved("unknown@example.com"),
    creditsPending(),
    idempotent(),
    noAbortedIdleConnections(),
    rollsBackAfterError(),
    sql({
      name: "every event recorded once",
      query: "SELECT event_id FROM webhook_events",
      rowCount: 3,
    }),
  ],
});
