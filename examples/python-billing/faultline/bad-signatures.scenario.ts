/**
 * The service checks Stripe-Signature as Stripe does: an invoice.paid signed with another
 * secret, signed an hour ago (outside the 300 s tolerance) or changed after signing is
 * answered 400 and writes nothing; a well-signed one lands.
 */
import { defineScenario, signaturesRejected, sql, webhook } from "faultline";

const acme = { customer: "cus_BillingAcme0001", email: "billing@acme.example" };

export default defineScenario({
  name: "bad-signatures",
  description: "wrong secret, stale, tampered: all 400, nothing written",
  randomSeed: 20240315,
  webhooks: [
    { ...webhook("invoice.paid", acme), signature: "wrongSecret" },
    { ...webhook("invoice.paid", acme), signature: "stale" },
    { ...webhook("invoice.paid", acme), signature: "tampered" },
    webhook("invoice.paid", acme, "genuine"),
  ],
  invariants: [
    signaturesRejected(400),
    sql({
      name: "only the genuine event recorded",
      query:
        "SELECT (SELECT count(*)::int FROM billing.processed_events) AS events, (SELECT count(*)::int FROM billing.invoices) AS invoices",
      rows: [{ events: 1, invoices: 1 }],
    }),
  ],
});
