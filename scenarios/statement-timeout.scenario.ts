/**
 * One webhook's statement is cancelled by a statement timeout (57014) halfway through. The
 * service must roll back (no 25P02 cascade), and the next webhook must go through untouched.
 * The fault is switched on for that one webhook only.
 */
import {
  addRule,
  creditsApplied,
  defineScenario,
  noAbortedIdleConnections,
  noCascade,
  processingContinues,
  redeliver,
  removeRule,
  rollsBackAfterError,
  webhook,
} from "faultline";

export default defineScenario({
  name: "statement-timeout",
  description: "57014 on one webhook's grant insert; no cascade, the next webhook is fine",
  randomSeed: 20261127,
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }] },
  webhooks: [
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "100",
        amount_total: 990,
      },
      "first",
    ),
    addRule({
      name: "grant-insert-times-out",
      match: { sql: "INSERT INTO credit_grants" },
      fault: { type: "preset", name: "query_canceled" },
    }),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "200",
        amount_total: 1990,
      },
      "timed-out",
    ),
    removeRule("grant-insert-times-out"),
    webhook(
      "checkout.session.completed",
      {
        customer: "cus_KnownCustomer01",
        email: "known@example.com",
        credits: "300",
        amount_total: 2990,
      },
      "next",
    ),
    redeliver("timed-out"),
  ],
  invariants: [
    noCascade(),
    processingContinues(),
    rollsBackAfterError(),
    creditsApplied(),
    noAbortedIdleConnections(),
  ],
});
