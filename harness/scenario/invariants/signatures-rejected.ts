import { z } from "zod";
import { formatDelivery } from "../../webhooks/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({
  invariant: z.literal("signaturesRejected"),
  status: z.number().int().min(400).max(499).default(400),
});

/**
 * Every delivery sent with a broken signature (wrong secret, stale, tampered) was answered with
 * `status` (400 by default) and wrote nothing: no table in any schema changed across it.
 */
export const signaturesRejected: Invariant<z.infer<typeof schema>> = {
  name: "signaturesRejected",
  schema: schema as unknown as z.ZodType<z.infer<typeof schema>>,
  label: (spec) => `signaturesRejected(${spec.status})`,
  async evaluate(spec, context) {
    const name = `signaturesRejected(${spec.status})`;
    const expected = `every badly signed delivery answered ${spec.status} and changed no table`;
    const bad = context.deliveries.filter((d) => d.signature);
    if (bad.length === 0)
      return result(
        name,
        false,
        expected,
        "the scenario sends no badly signed delivery: add signature: wrongSecret | stale | tampered",
      );
    const problems: string[] = [];
    let unwatched = 0;
    for (const d of bad) {
      if (d.status !== spec.status)
        problems.push(`answered ${d.status || "nothing"}: ${formatDelivery(d)}`);
      const snapshot = context.deliverySnapshots.get(d.index);
      if (!snapshot) {
        // Inside a batch other deliveries write at the same time: only the status is judged.
        unwatched++;
        continue;
      }
      const tables = new Set([...Object.keys(snapshot.before), ...Object.keys(snapshot.after)]);
      for (const table of tables) {
        const before = snapshot.before[table];
        const after = snapshot.after[table];
        if (before?.digest !== after?.digest)
          problems.push(
            `table ${table} changed (${before?.rows ?? "absent"} → ${after?.rows ?? "gone"} rows): ${formatDelivery(d)}`,
          );
      }
    }
    if (problems.length)
      return result(
        name,
        false,
        expected,
        `${problems.length} problem(s) in ${bad.length} bad deliveries`,
        problems,
      );
    const note = unwatched ? ` (${unwatched} in batches: status only)` : "";
    return result(name, true, expected, `${bad.length} bad deliveries rejected${note}`);
  },
};
