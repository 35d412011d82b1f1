/**
 * The first two deliveries of a payment hit a database error (the proxy fails the grant insert
 * with 40001) and get 500. Stripe retries on its back-off schedule (compressed to milliseconds);
 * the third attempt succeeds. No payment is lost, none applied twice.
 */
import {
  creditsApplied,
  defineScenario,
  exactlyOnceEffect,
  noCascade,
  noLostEvents,
  rollsBackAfterError,
  sql,
} from "faultline";

export default defineScenario({
  name: "retry-until-fixed",
  description: "two 500s, then Stripe's retry lands the payment exactly once",
  randomSeed: 20261127,
  seed: {
    users: [
      { email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01", credits_balance: 0 },
    ],
  },
  faults: {
    rules: [
      {
        name: "grant-insert-fails-twice",
        match: { sql: "INSERT INTO credit_grants", times: 2 },
        fault: {
          type: "sqlError",
          sqlstate: "40001",
          message: "could not serialize access due to concurrent update",
        },
      },
    ],
  },
  webhooks: [
    {
      fixture: "checkout.session.completed",
      with: {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "250",
        amount_total: 2500,
      },
      as: "payment",
      retry: { like: "stripe" },
    },
  ],
  invariants: [
    noLostEvents(),
    exactlyOnceEffect(),
    creditsApplied(),
    noCascade(),
    rollsBackAfterError(),
    sql({
      name: "credited once",
      query: "SELECT credits_balance FROM users",
      rows: [{ credits_balance: 250 }],
    }),
  ],
});
