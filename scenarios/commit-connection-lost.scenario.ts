/**
 * The COMMIT of a payment runs on the server, but its reply is lost: the connection drops
 * before the service hears "COMMIT". The service answers 500, Stripe redelivers, and the
 * service must see the event as already handled: credited once, never twice.
 */
import {
  creditsApplied,
  defineScenario,
  idempotent,
  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  redeliver,
  sql,
  webhook,
} from "faultline";

export default defineScenario({
  name: "commit-connection-lost",
  description:
    "the first COMMIT's reply never reaches the service; the redelivery must not double-credit",
  randomSeed: 20261127,
  seed: {
    users: [
      { email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01", credits_balance: 0 },
    ],
  },
  faults: {
    rules: [
      {
        name: "commit-reply-lost",
        match: { kind: "COMMIT", nth: 1 },
        fault: { type: "resetConnection", when: "after" },
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
      "payment",
    ),
    redeliver("payment"),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "200",
        amount_total: 1990,
      },
      "next-payment",
    ),
  ],
  invariants: [
    noCascade(),
    processingContinues(),
    idempotent(),
    creditsApplied(),
    noAbortedIdleConnections(),
    sql({
      name: "credited exactly once",
      query: "SELECT credits_balance FROM users WHERE email = 'known@example.com'",
      rows: [{ credits_balance: 700 }],
    }),
  ],
});
