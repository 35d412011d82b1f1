/** The built-in invariants, each a small value behind the `Invariant` interface. */
import { z } from "zod";
import { creditsApplied, creditsPending } from "./credits.ts";
import { effectOnce } from "./effect-once.ts";
import { emergencyCreated } from "./emergency-created.ts";
import { exactlyOnceEffect } from "./exactly-once-effect.ts";
import { idempotent } from "./idempotent.ts";
import type { Invariant } from "./invariant.ts";
import { noAbortedIdleConnections } from "./no-aborted-idle-connections.ts";
import { noCascade } from "./no-cascade.ts";
import { noLostEvents } from "./no-lost-events.ts";
import { processingContinues } from "./processing-continues.ts";
import { rollsBackAfterError } from "./rolls-back-after-error.ts";
import { signaturesRejected } from "./signatures-rejected.ts";
import { sql } from "./sql.ts";
import { userResolved } from "./user-resolved.ts";

export {
  evaluateSafely,
  type Invariant,
  type InvariantContext,
  type InvariantResult,
  prepareSafely,
  type Snapshot,
} from "./invariant.ts";
export { snapshotTables } from "./snapshot.ts";

const all = [
  noCascade,
  processingContinues,
  userResolved,
  emergencyCreated,
  creditsApplied,
  creditsPending,
  idempotent,
  noAbortedIdleConnections,
  rollsBackAfterError,
  noLostEvents,
  exactlyOnceEffect,
  effectOnce,
  signaturesRejected,
  sql,
] as const;

/** Invariants by the name scenarios use in `invariant: …`. */
export const invariants: ReadonlyMap<string, Invariant> = new Map(
  all.map((inv) => [inv.name, inv as unknown as Invariant]),
);

/** Validates one entry of a scenario's `invariants` list. */
export const invariantSpecSchema = z.discriminatedUnion(
  "invariant",
  all.map((inv) => inv.schema) as unknown as [z.ZodObject, ...z.ZodObject[]],
) as unknown as z.ZodType<InvariantSpec, InvariantSpec>;

/** One entry of a scenario's `invariants` list, as data. */
export type InvariantSpec = {
  [K in (typeof all)[number] as K["name"]]: z.infer<K["schema"]>;
}[(typeof all)[number]["name"]];
