/**
 * Backward compatibility: with every migration applied, both variants record each invoice
 * with its tax (a computed 0 for these invoices, never NULL) and mark the accounts paid.
 */
import {
  defineScenario,
  effectOnce,
  noAbortedIdleConnections,
  noCascade,
  noLostEvents,
  processingContinues,
  sql,
  webhook,
} from "faultline";

const acme = { customer: "cus_BillingAcme0001", email: "billing@acme.example" };
const globex = { customer: "cus_BillingGlobex01", email: "ap@globex.example" };

export default defineScenario({
  name: "tax-column-present",
  description: "the full schema: every invoice is recorded with its tax",
  randomSeed: 20240315,
  webhooks: [
    webhook("invoice.paid", { ...acme, amount: 4900, amount_decimal: "4900" }, "acme-january"),
    webhook(
      "invoice.paid",
      { ...globex, amount: 12900, amount_decimal: "12900" },
      "globex-january",
    ),
    webhook("invoice.paid", { ...acme, amount: 4900, amount_decimal: "4900" }, "acme-february"),
  ],
  invariants: [
    noCascade(),
    processingContinues(),
    noAbortedIdleConnections(),
    noLostEvents({ query: "SELECT 1 FROM billing.processed_events WHERE event_id = :event_id" }),
    effectOnce({
      query:
        "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = :object_id AND status = 'paid'",
    }),
    sql({
      name: "every invoice taxed",
      query:
        "SELECT count(*)::int AS invoices, count(tax_cents)::int AS taxed, sum(amount_cents)::int AS cents FROM billing.invoices",
      rows: [{ invoices: 3, taxed: 3, cents: 22700 }],
    }),
    sql({
      name: "both accounts paid",
      query:
        "SELECT external_customer_id, billing_status FROM billing.accounts ORDER BY external_customer_id",
      rows: [
        { external_customer_id: "cus_BillingAcme0001", billing_status: "paid" },
        { external_customer_id: "cus_BillingGlobex01", billing_status: "paid" },
      ],
    }),
  ],
});
