import type { DriftStep } from "../postgres/index.ts";
import type { RuleSpec } from "../proxy/index.ts";
import type { TemplateValue } from "../webhooks/index.ts";
import type { InvariantSpec } from "./invariants/index.ts";
import type { ScenarioInput } from "./schema.ts";

/**
 * Declare a scenario. The value is checked when the runner loads the file, which names the
 * file and field of any mistake; the types catch most of them in the editor first.
 */
export function defineScenario(scenario: ScenarioInput): ScenarioInput {
  return scenario;
}

/** Drift: the column is missing, as in production. */
export const dropColumn = (ref: string): DriftStep => ({ dropColumn: ref });
/** Drift: the table is missing. */
export const dropTable = (ref: string): DriftStep => ({ dropTable: ref });
/** Drift: the column has another name. */
export const renameColumn = (ref: string, to: string): DriftStep => ({ renameColumn: ref, to });
/** Drift: only the first n migrations ran (NNN for numbered files), or up to a named one. */
export const stopAtMigration = (n: number | string): DriftStep =>
  ({ stopAtMigration: n }) as DriftStep;

/** A new webhook from a recorded fixture. */
export const webhook = (fixture: string, values?: Record<string, TemplateValue>, as?: string) => ({
  fixture,
  with: values,
  as,
});
/** The earlier webhook named `as`, sent again byte for byte. */
export const redeliver = (as: string) => ({ redeliver: as });

/** From this step on, the proxy injects this rule's fault. */
export const addRule = (rule: RuleSpec) => ({ addRule: rule });
/** From this step on, the named rule no longer fires. */
export const removeRule = (name: string) => ({ removeRule: name });

/** No 25P02: nothing ran inside an aborted transaction. */
export const noCascade = (): InvariantSpec => ({ invariant: "noCascade" });
/** Webhooks after a failed one still succeed. */
export const processingContinues = (): InvariantSpec => ({ invariant: "processingContinues" });
/** The payments for this email landed on exactly one user. */
export const userResolved = (email: string): InvariantSpec => ({
  invariant: "userResolved",
  email,
});
/** This unknown email got a user with created_via = 'emergency'. */
export const emergencyCreated = (email: string): InvariantSpec => ({
  invariant: "emergencyCreated",
  email,
});
/** With users.credits_balance: every payment applied, balances add up. */
export const creditsApplied = (): InvariantSpec => ({ invariant: "creditsApplied" });
/** Without users.credits_balance: every payment recorded as pending. */
export const creditsPending = (): InvariantSpec => ({ invariant: "creditsPending" });
/** After an error inside a transaction, the connection's next statement was a ROLLBACK. */
export const rollsBackAfterError = (): InvariantSpec => ({ invariant: "rollsBackAfterError" });
/**
 * Every acknowledged event has its durable effect; unacknowledged ones are listed. With
 * `query` (`:event_id`, `:event_type` and template variables bound), at least one row per event;
 * without, the payments preset's tables.
 */
export const noLostEvents = (check: { query?: string } = {}): InvariantSpec => ({
  invariant: "noLostEvents",
  ...check,
});
/** For every acknowledged event, `query` (its values bound) returns exactly one row. */
export const effectOnce = (check: { query: string }): InvariantSpec => ({
  invariant: "effectOnce",
  ...check,
});
/** Payments preset: however often and in whatever order an event arrived, its effect is there once. */
export const exactlyOnceEffect = (): InvariantSpec => ({ invariant: "exactlyOnceEffect" });
/** Badly signed deliveries were answered `status` (400) and changed no table. */
export const signaturesRejected = (status = 400): InvariantSpec => ({
  invariant: "signaturesRejected",
  status,
});
/**
 * Redelivered events were acknowledged and changed nothing; with `allowStamps`, nothing but
 * timestamp columns set to the time the redelivery was handled (`updated_at = now()`).
 */
export const idempotent = (options: { allowStamps?: boolean } = {}): InvariantSpec => ({
  invariant: "idempotent",
  ...(options.allowStamps ? { allowStamps: true } : {}),
});
/** No connection left `idle in transaction (aborted)` at the end. */
export const noAbortedIdleConnections = (): InvariantSpec => ({
  invariant: "noAbortedIdleConnections",
});
/** A plain SQL assertion: exactly `rowCount` rows, or exactly `rows`. */
export const sql = (check: {
  name: string;
  query: string;
  rowCount?: number;
  rows?: Record<string, unknown>[];
}): InvariantSpec => ({
  invariant: "sql",
  ...check,
});
