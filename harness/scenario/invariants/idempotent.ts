import { z } from "zod";
import { formatDelivery, succeeded } from "../../webhooks/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("idempotent") });

/** Every redelivered event was acknowledged (2xx) and changed no row in any table. */
export const idempotent: Invariant<z.infer<typeof schema>> = {
  name: "idempotent",
  schema,
  label: () => "idempotent",
  async evaluate(_spec, { deliveries, deliverySnapshots }) {
    const name = "idempotent";
    const expected = "each redelivery answered 2xx and left every table unchanged";
    const redeliveries = deliveries.filter((d) => d.redeliveryOf !== undefined);
    if (redeliveries.length === 0)
      return result(
        name,
        false,
        expected,
        "the scenario redelivers nothing: add a { redeliver: … } webhook",
      );
    const problems: string[] = [];
    for (const d of redeliveries) {
      if (!succeeded(d)) problems.push(`not acknowledged: ${formatDelivery(d)}`);
      const snapshot = deliverySnapshots.get(d.index);
      if (!snapshot) continue;
      for (const [table, before] of Object.entries(snapshot.before)) {
        const after = snapshot.after[table];
        if (!after || after.digest !== before.digest) {
          problems.push(
            `${d.label}: table ${table} changed (${before.rows} → ${after?.rows ?? "gone"} rows)`,
          );
        }
      }
    }
    if (problems.length)
      return result(name, false, expected, `${problems.length} problem(s)`, problems);
    return result(name, true, expected, `${redeliveries.length} redelivery(ies) changed nothing`);
  },
};
