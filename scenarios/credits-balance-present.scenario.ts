/**
 * Backward compatibility: with the full schema (credits_balance present) the hotfixed service
 * must apply credits as before, create unknown payers, and stay idempotent.
 */
import {
  creditsApplied,
  defineScenario,
  emergencyCreated,
  idempotent,
  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  redeliver,
  sql,
  userResolved,
  webhook,
} from "faultline";

export default defineScenario({
  name: "credits-balance-present",
  description: "the full schema: credits are applied to users.credits_balance",
  randomSeed: 20261127,
  seed: {
    users: [
      {
        email: "known@example.com",
        stripe_customer_id: "cus_KnownCustomer01",
        credits_balance: 50,
      },
    ],
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
    creditsApplied(),
    idempotent(),
    noAbortedIdleConnections(),
    sql({
      name: "known customer's balance",
      query: "SELECT credits_balance FROM users WHERE email = 'known@example.com'",
      rows: [{ credits_balance: 750 }],
    }),
  ],
});
