import { z } from "zod";
import { formatServerError, type ServerError } from "../../postgres/index.ts";
import { type Delivery, formatDelivery, succeeded } from "../../webhooks/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("processingContinues") });

// Log timestamps have millisecond precision; allow for rounding at either edge.
const SLACK_MS = 2;

function errorsDuring(delivery: Delivery, errors: ServerError[]): ServerError[] {
  const from = delivery.startedAt.getTime() - SLACK_MS;
  const to = delivery.finishedAt.getTime() + SLACK_MS;
  return errors.filter((e) => e.at.getTime() >= from && e.at.getTime() <= to);
}

/**
 * Once a webhook has failed (non-2xx, or the server raised an error while it was handled),
 * every later webhook must still succeed: one bad payment must not stop the next. Deliveries
 * forged on purpose (`signature: …`) are not the provider's and are meant to be refused: their
 * 400 is neither the first failure nor a later one. "Later" means started after the first
 * failure was answered: a delivery sent concurrently with it (a batch) is not the next one, and
 * a server error inside overlapping windows cannot say which of them it belonged to.
 */
export const processingContinues: Invariant<z.infer<typeof schema>> = {
  name: "processingContinues",
  schema,
  label: () => "processingContinues",
  async evaluate(_spec, context) {
    const { serverErrors } = context;
    const deliveries = context.deliveries.filter((d) => !d.signature);
    const name = "processingContinues";
    const firstFailure = deliveries.findIndex(
      (d) => !succeeded(d) || errorsDuring(d, serverErrors).length > 0,
    );
    const expected = "every webhook after the first failure answered 2xx";
    if (firstFailure === -1) return result(name, true, expected, "no webhook failed");
    const failed = deliveries[firstFailure] as Delivery;
    const later = deliveries
      .slice(firstFailure + 1)
      .filter((d) => d.startedAt.getTime() >= failed.finishedAt.getTime());
    const broken = later.filter((d) => !succeeded(d));
    const trigger = [
      `first failure: ${formatDelivery(failed)}`,
      ...errorsDuring(failed, serverErrors)
        .slice(0, 3)
        .map((e) => `  while handling it: ${formatServerError(e)}`),
    ];
    if (broken.length === 0) {
      return result(
        name,
        true,
        expected,
        `${later.length} later webhook(s) all succeeded`,
        trigger,
      );
    }
    return result(
      name,
      false,
      expected,
      `${broken.length} of ${later.length} later webhook(s) failed`,
      [...trigger, ...broken.map((d) => `then: ${formatDelivery(d)}`)],
    );
  },
};
