/**
 * Postgres is out of connection slots (53300 too_many_connections) when the service first
 * connects. The webhook fails with a 5xx so the provider retries; nothing half-done remains,
 * and payments resume as soon as a connection can be had.
 */
import {
  creditsApplied,
  defineScenario,
  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  redeliver,
  webhook,
} from "faultline";

export default defineScenario({
  name: "pool-exhaustion",
  description: "the first connection is refused with 53300; the retry and later payments succeed",
  randomSeed: 20261127,
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }] },
  faults: {
    rules: [
      { name: "server-full", fault: { type: "refuseConnections", count: 1, sqlstate: "53300" } },
    ],
  },
  webhooks: [
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "100",
        amount_total: 990,
      },
      "refused",
    ),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "200",
        amount_total: 1990,
      },
      "next",
    ),
    redeliver("refused"),
  ],
  invariants: [noCascade(), processingContinues(), creditsApplied(), noAbortedIdleConnections()],
});
