/**
 * Deliveries signed with the wrong secret, signed an hour ago, or changed after signing must
 * all be rejected with 400, and nothing written.
 */
import { defineScenario, signaturesRejected, sql } from "faultline";

const payment = {
  customer: "cus_KnownCustomer01",
  email: "known@example.com",
  credits: "500",
  amount_total: 4900,
};

export default defineScenario({
  name: "bad-signatures",
  description: "wrong secret, stale timestamp, tampered body: all 400, nothing written",
  randomSeed: 20261127,
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }] },
  webhooks: [
    {
      fixture: "checkout.session.completed",
      with: payment,
      as: "wrong-secret",
      signature: "wrongSecret",
    },
    { fixture: "checkout.session.completed", with: payment, as: "stale", signature: "stale" },
    { fixture: "checkout.session.completed", with: payment, as: "tampered", signature: "tampered" },
  ],
  invariants: [
    signaturesRejected(400),
    sql({ name: "no event recorded", query: "SELECT event_id FROM webhook_events", rowCount: 0 }),
    sql({ name: "no credit granted", query: "SELECT id FROM credit_grants", rowCount: 0 }),
  ],
});
