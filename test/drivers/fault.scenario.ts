/**
 * A 40001 on the INSERT, raised by the real server whatever protocol path the driver takes:
 * the hotfixed service must roll back (no 25P02) and answer 500.
 */
import { defineScenario, noCascade, webhook } from "faultline";

export default defineScenario({
  name: "driver-fault",
  description: "40001 on the first INSERT; the service rolls back and keeps serving",
  randomSeed: 20261127,
  seed: {
    users: [{ email: "known@example.com", stripe_customer_id: "cus_KnownCustomer01" }],
  },
  faults: {
    rules: [
      {
        name: "insert-40001",
        match: { kind: "INSERT", nth: 1 },
        fault: { type: "sqlError", sqlstate: "40001", message: "could not serialize access" },
      },
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
      "payment",
    ),
  ],
  invariants: [noCascade()],
});
