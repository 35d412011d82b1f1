/**
 * The incident for the driver matrix: the SELECT names a column production dropped. A service
 * that swallows the 42703 and carries on in the same transaction turns its INSERT into 25P02,
 * once per webhook; the hotfix rolls back and records the event.
 */
import { defineScenario, dropColumn, noCascade, webhook } from "faultline";

const payment = (key: string) =>
  webhook(
    "checkout.session.completed",
    {
      customer: "cus_KnownCustomer01",
      email: "known@example.com",
      credits: "100",
      amount_total: 990,
    },
    key,
  );

export default defineScenario({
  name: "driver-cascade",
  description: "users.credits_balance is missing; every driver must show the 42703 → 25P02 cascade",
  randomSeed: 20261127,
  drift: [dropColumn("users.credits_balance")],
  seed: {
    users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }],
  },
  webhooks: [payment("first-payment"), payment("second-payment"), payment("third-payment")],
  invariants: [noCascade()],
});
