import type { z } from "zod";
import { FaultlineError } from "../../errors.ts";
import type { ScenarioDatabase, ServerError } from "../../postgres/index.ts";
import type { TraceEntry } from "../../proxy/index.ts";
import type { Delivery, PreparedWebhook } from "../../webhooks/index.ts";

/**
 * A database snapshot, per table: its row count and a digest of every row; and, for a table
 * with timestamp columns, a digest of the rows without them and those columns' values (epoch
 * ms), so a change that only stamped the time (`updated_at = now()`) can be told apart.
 */
export type Snapshot = Record<
  string,
  { rows: number; digest: string; timeless?: string; stamps?: number[] }
>;

/** Everything an invariant may look at once the webhooks have been delivered. */
export interface InvariantContext {
  db: ScenarioDatabase;
  /** The webhooks as sent (payload bytes included), in order. */
  webhooks: PreparedWebhook[];
  deliveries: Delivery[];
  /** Errors the server logged in this scenario's database, from any session but faultline's own. */
  serverErrors: ServerError[];
  /** Every statement the service sent through the proxy, in order per connection. */
  trace: TraceEntry[];
  /** Every table's digest just before and after each redelivery and each badly signed delivery, by delivery index. */
  deliverySnapshots: Map<number, { before: Snapshot; after: Snapshot }>;
}

/** The verdict of one invariant, with what was expected, what was seen, and the evidence. */
export interface InvariantResult {
  name: string;
  passed: boolean;
  expected: string;
  seen: string;
  /** Log lines, rows or deliveries that show why. */
  evidence: string[];
}

/**
 * One invariant kind. Like a Toxiproxy toxic: a small value with one job. Scenarios refer to it
 * by `invariant: name` as data; `schema` validates that data.
 */
export interface Invariant<Spec extends { invariant: string } = { invariant: string }> {
  readonly name: Spec["invariant"];
  readonly schema: z.ZodType<Spec>;
  /** A short label for reports, e.g. `userResolved(a@example.com)`. */
  label(spec: Spec): string;
  /** Optional: capture state before any webhook is delivered. */
  prepare?(spec: Spec, db: ScenarioDatabase): Promise<unknown>;
  evaluate(spec: Spec, context: InvariantContext, prepared: unknown): Promise<InvariantResult>;
}

/** Build a result; keeps invariant files short. */
export function result(
  name: string,
  passed: boolean,
  expected: string,
  seen: string,
  evidence: string[] = [],
): InvariantResult {
  return { name, passed, expected, seen, evidence };
}

/** Render rows as one evidence line each. */
export function rowLines(rows: Record<string, unknown>[]): string[] {
  return rows.map((row) => `row ${JSON.stringify(row)}`);
}

/** A `prepare` that threw: the invariant is then judged as not judgeable, not crashed on. */
interface PrepareFailed {
  readonly prepareFailed: string;
}

function isPrepareFailed(value: unknown): value is PrepareFailed {
  return typeof value === "object" && value !== null && "prepareFailed" in value;
}

/**
 * Run an invariant's `prepare`, keeping its error for {@link evaluateSafely}: an invariant whose
 * own query fails (say, drift dropped a column it reads) must fail that invariant, with the
 * reason, rather than end the run with a stack trace.
 */
export async function prepareSafely(
  invariant: Invariant,
  spec: { invariant: string },
  db: ScenarioDatabase,
): Promise<unknown> {
  if (!invariant.prepare) return undefined;
  try {
    return await invariant.prepare(spec, db);
  } catch (error) {
    if (error instanceof FaultlineError) throw error;
    return { prepareFailed: (error as Error).message } satisfies PrepareFailed;
  }
}

/** Evaluate an invariant; one whose own query fails is a failed invariant saying why. */
export async function evaluateSafely(
  invariant: Invariant,
  spec: { invariant: string },
  context: InvariantContext,
  prepared: unknown,
): Promise<InvariantResult> {
  const label = invariant.label(spec);
  if (isPrepareFailed(prepared))
    return result(
      label,
      false,
      "its own query to run before the webhooks",
      `could not be judged: ${prepared.prepareFailed}`,
    );
  try {
    return await invariant.evaluate(spec, context, prepared);
  } catch (error) {
    if (error instanceof FaultlineError) throw error;
    return result(
      label,
      false,
      "its own query to run",
      `could not be judged: ${(error as Error).message}`,
    );
  }
}
