/**
 * Stripe delivers at least once and in no guaranteed order. A dozen payments for three
 * customers arrive shuffled, each one twice; the last four arrive all at once, each twice at
 * the same instant. Every balance must be the exact sum, and each event's effect there once.
 */
import {
  creditsApplied,
  defineScenario,
  exactlyOnceEffect,
  noCascade,
  noLostEvents,
  sql,
} from "faultline";

const customers = {
  a: { customer: "cus_CustomerAaaaaa", email: "a@example.com" },
  b: { customer: "cus_CustomerBbbbbb", email: "b@example.com" },
  c: { customer: "cus_CustomerCccccc", email: "c@example.com" },
};

const payment = (who: keyof typeof customers, credits: number, as: string) => ({
  fixture: "checkout.session.completed",
  with: { ...customers[who], credits: String(credits), amount_total: credits * 10 },
  as,
  duplicates: 1,
});

export default defineScenario({
  name: "out-of-order-and-duplicates",
  description:
    "12 payments shuffled and duplicated, 4 of them concurrent: every balance the exact sum",
  randomSeed: 20261127,
  seed: {
    users: [
      { email: "a@example.com", stripe_customer_id: "cus_CustomerAaaaaa", credits_balance: 0 },
      { email: "b@example.com", stripe_customer_id: "cus_CustomerBbbbbb", credits_balance: 10 },
      { email: "c@example.com", stripe_customer_id: "cus_CustomerCccccc", credits_balance: 5 },
    ],
  },
  webhooks: [
    {
      order: "shuffled",
      batch: [
        payment("a", 100, "a1"),
        payment("a", 200, "a2"),
        payment("b", 150, "b1"),
        payment("c", 50, "c1"),
        payment("a", 300, "a3"),
        payment("b", 250, "b2"),
        payment("c", 60, "c2"),
        payment("c", 70, "c3"),
      ],
    },
    {
      order: "concurrent",
      batch: [
        payment("a", 400, "a4"),
        payment("b", 350, "b3"),
        payment("c", 80, "c4"),
        payment("c", 90, "c5"),
      ],
    },
  ],
  invariants: [
    noLostEvents(),
    exactlyOnceEffect(),
    creditsApplied(),
    noCascade(),
    sql({
      name: "every balance the exact sum",
      query: "SELECT email, credits_balance FROM users ORDER BY email",
      rows: [
        { email: "a@example.com", credits_balance: 1000 },
        { email: "b@example.com", credits_balance: 760 },
        { email: "c@example.com", credits_balance: 355 },
      ],
    }),
    sql({
      name: "twelve grants",
      query: "SELECT count(*)::int AS grants FROM credit_grants",
      rows: [{ grants: 12 }],
    }),
  ],
});
