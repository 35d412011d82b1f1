import { z } from "zod";
import { type Delivery, formatDelivery, succeeded } from "../../webhooks/index.ts";
import { type Invariant, result, type Snapshot } from "./invariant.ts";

const schema = z.strictObject({
  invariant: z.literal("idempotent"),
  /**
   * A redelivery may set timestamp columns to the time it was handled (`updated_at = now()`,
   * an ORM's onUpdate): only when every other column of every row is unchanged.
   */
  allowStamps: z.boolean().optional(),
});

// Postgres' clock and ours are one machine's; a transaction's now() is inside the request.
const STAMP_SLACK_MS = 1000;

/** The values in `after` that are not in `before`, each counted as often as it is new. */
function added(before: number[], after: number[]): number[] {
  const left = new Map<number, number>();
  for (const v of before) left.set(v, (left.get(v) ?? 0) + 1);
  return after.filter((v) => {
    const n = left.get(v) ?? 0;
    if (n > 0) left.set(v, n - 1);
    return n === 0;
  });
}

type TableState = Snapshot[string];

/** Why a change that kept every row but its timestamps is not just the redelivery's own stamp. */
function notAStamp(before: TableState, after: TableState, d: Delivery): string | undefined {
  if (before.timeless === undefined || after.timeless === undefined) return "no timestamp columns";
  if (before.rows !== after.rows || before.timeless !== after.timeless)
    return "more than its timestamps";
  const from = d.startedAt.getTime() - STAMP_SLACK_MS;
  const to = d.finishedAt.getTime() + STAMP_SLACK_MS;
  const foreign = added(before.stamps ?? [], after.stamps ?? []).filter((v) => v < from || v > to);
  if (foreign.length)
    return `a timestamp set to ${new Date(foreign[0] as number).toISOString()}, not the redelivery's time`;
  return undefined;
}

/** Every redelivered event was acknowledged (2xx) and changed no row in any table. */
export const idempotent: Invariant<z.infer<typeof schema>> = {
  name: "idempotent",
  schema,
  label: () => "idempotent",
  async evaluate(spec, { deliveries, deliverySnapshots }) {
    const name = "idempotent";
    const expected = spec.allowStamps
      ? "each redelivery answered 2xx and changed no table but for stamping the time it was handled"
      : "each redelivery answered 2xx and left every table unchanged";
    let stamped = 0;
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
        if (after && after.digest === before.digest) continue;
        const why = after && spec.allowStamps ? notAStamp(before, after, d) : "changed";
        if (why === undefined) {
          stamped++;
          continue;
        }
        problems.push(
          `${d.label}: table ${table} changed (${before.rows} → ${after?.rows ?? "gone"} rows${spec.allowStamps ? `; ${why}` : ""})`,
        );
      }
    }
    if (problems.length)
      return result(name, false, expected, `${problems.length} problem(s)`, problems);
    return result(
      name,
      true,
      expected,
      `${redeliveries.length} redelivery(ies) changed nothing${stamped ? ` but ${stamped} table stamp(s)` : ""}`,
    );
  },
};
