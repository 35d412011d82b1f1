/**
 * The credit update fails with 40001 serialization_failure. The service may retry itself or
 * answer 500 so Stripe retries; either way no credit is lost and none is applied twice.
 */
import {
  creditsApplied,
  defineScenario,
  noAbortedIdleConnections,
  noCascade,
  redeliver,
  rollsBackAfterError,
  sql,
  webhook,
} from "faultline";

export default defineScenario({
  name: "serialization-failure-retry",
  description: "40001 on the credit update; the provider's retry must land the credit exactly once",
  randomSeed: 20261127,
  seed: {
    users: [
      {
        email: "known@example.com",
        stripe_customer_id: "cus_KnownCustomer01",
        credits_balance: 10,
      },
    ],
  },
  faults: {
    rules: [
      {
        name: "credit-update-conflict",
        match: { sql: "UPDATE users SET credits_balance", nth: 1 },
        fault: { type: "preset", name: "serialization_failure" },
      },
    ],
  },
  webhooks: [
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "300",
        amount_total: 2900,
      },
      "payment",
    ),
    // Stripe retries what was not acknowledged; a retry of an acknowledged event is a no-op.
    redeliver("payment"),
    redeliver("payment"),
  ],
  invariants: [
    noCascade(),
    rollsBackAfterError(),
    creditsApplied(),
    noAbortedIdleConnections(),
    sql({
      name: "one grant for the payment",
      query: "SELECT count(*)::int AS grants FROM credit_grants",
      rows: [{ grants: 1 }],
    }),
    sql({
      name: "credited once",
      query: "SELECT credits_balance FROM users WHERE email = 'known@example.com'",
      rows: [{ credits_balance: 310 }],
    }),
  ],
});
