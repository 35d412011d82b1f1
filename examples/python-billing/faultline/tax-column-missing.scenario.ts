/**
 * The billing incident: production never ran the migration that added
 * billing.invoices.tax_cents. The webhook's tax write fails with 42703; the pre-hotfix code
 * swallows it and carries on in the aborted transaction (25P02 for everything after it), and
 * keeps the poisoned connection for the next webhook. The hotfix must roll back, record every
 * invoice without its tax, and keep going.
 */
import {
  defineScenario,
  dropColumn,
  effectOnce,
  noAbortedIdleConnections,
  noCascade,
  noLostEvents,
  processingContinues,
  rollsBackAfterError,
  sql,
  webhook,
} from "faultline";

const acme = { customer: "cus_BillingAcme0001", email: "billing@acme.example" };
const globex = { customer: "cus_BillingGlobex01", email: "ap@globex.example" };

export default defineScenario({
  name: "tax-column-missing",
  description: "no billing.invoices.tax_cents: every invoice.paid must still be recorded",
  randomSeed: 20240315,
  drift: [dropColumn("billing.invoices.tax_cents")],
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
    rollsBackAfterError(),
    noLostEvents({ query: "SELECT 1 FROM billing.processed_events WHERE event_id = :event_id" }),
    effectOnce({
      query:
        "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = :object_id AND status = 'paid'",
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
    sql({
      name: "three invoices, 22700 cents",
      query:
        "SELECT count(*)::int AS invoices, sum(amount_cents)::int AS cents FROM billing.invoices",
      rows: [{ invoices: 3, cents: 22700 }],
    }),
  ],
});
