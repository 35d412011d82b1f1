/**
 * Stripe delivers at least once. A renewal fails, then is paid (that event arrives twice); the
 * failure is redelivered late; a new customer's first invoices arrive all at once, one of them
 * three times. Every redelivery is acknowledged and changes nothing, each invoice and account
 * exists once, and the late failure does not reopen the paid invoice.
 */
import {
  defineScenario,
  effectOnce,
  idempotent,
  noCascade,
  noLostEvents,
  redeliver,
  sql,
  webhook,
} from "faultline";

const renewal = {
  customer: "cus_BillingAcme0001",
  email: "billing@acme.example",
  object_id: "in_RenewalAcme000000000001",
};
const initech = { customer: "cus_BillingInitech1", email: "finance@initech.example" };

export default defineScenario({
  name: "invoice-redelivery",
  description: "duplicates, late and concurrent redeliveries of invoice events: each effect once",
  randomSeed: 20240315,
  webhooks: [
    webhook("invoice.payment_failed", renewal, "renewal-failed"),
    { ...webhook("invoice.paid", renewal, "renewal-paid"), duplicates: 1 },
    redeliver("renewal-failed"),
    {
      order: "concurrent",
      batch: [
        { ...webhook("invoice.paid", initech, "initech-seats"), duplicates: 2 },
        webhook(
          "invoice.paid",
          { ...initech, amount: 2500, amount_decimal: "2500" },
          "initech-addon",
        ),
      ],
    },
    redeliver("renewal-paid"),
  ],
  invariants: [
    idempotent(),
    noCascade(),
    noLostEvents({ query: "SELECT 1 FROM billing.processed_events WHERE event_id = :event_id" }),
    effectOnce({ query: "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = :object_id" }),
    effectOnce({ query: "SELECT 1 FROM billing.accounts WHERE external_customer_id = :customer" }),
    sql({
      name: "the renewal stays paid",
      query:
        "SELECT status FROM billing.invoices WHERE stripe_invoice_id = 'in_RenewalAcme000000000001'",
      rows: [{ status: "paid" }],
    }),
    sql({
      name: "four events, three invoices, two accounts",
      query:
        "SELECT (SELECT count(*)::int FROM billing.processed_events) AS events, (SELECT count(*)::int FROM billing.invoices) AS invoices, (SELECT count(*)::int FROM billing.accounts) AS accounts",
      rows: [{ events: 4, invoices: 3, accounts: 2 }],
    }),
  ],
});
