/**
 * The hotfix's promise, as a gate checks it: "backward compatible, no database changes". The same
 * payments must flow with users.credits_balance missing (production at the incident) and present
 * (the full schema): credits pending in one cell, applied in the other, no cascade in either.
 *
 *   npx faultline gate scenarios/credits-balance-hotfix.scenario.ts \
 *     --baseline payments:broken --candidate payments:fixed
 */
import {
  creditsApplied,
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
  name: "credits-balance-hotfix",
  description: "payments keep flowing whether users.credits_balance exists or not",
  randomSeed: 20261128,
  matrix: {
    schema: [
      {
        name: "credits_balance missing",
        drift: [dropColumn("users.credits_balance")],
        invariants: [creditsPending()],
      },
      { name: "credits_balance present", drift: [], invariants: [creditsApplied()] },
    ],
  },
  seed: {
    users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }],
  },
  webhooks: [
    webhook(
      "checkout.session.completed",
      { customer: "cus_KnownCustomer01", email: "known@example.com", credits: "500" },
      "known-payment",
    ),
    webhook("checkout.session.completed", {
      customer: "cus_UnknownCustomer",
      email: "unknown@example.com",
      credits: "100",
    }),
    webhook("checkout.session.completed", {
      customer: "cus_KnownCustomer01",
      email: "known@example.com",
      credits: "200",
    }),
    redeliver("known-payment"),
  ],
  invariants: [
    noCascade(),
    processingContinues(),
    userResolved("known@example.com"),
    emergencyCreated("unknown@example.com"),
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
