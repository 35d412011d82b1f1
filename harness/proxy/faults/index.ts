/** The faults the proxy can inject, each a small value behind the `Fault` interface. */
import { z } from "zod";
import { blackhole } from "./blackhole.ts";
import type { Fault, FaultType } from "./fault.ts";
import { latency } from "./latency.ts";
import { faultPresets } from "./presets.ts";
import { refuseConnections } from "./refuse-connections.ts";
import { resetConnection } from "./reset-connection.ts";
import { sqlError } from "./sql-error.ts";
import { terminateBackend } from "./terminate-backend.ts";

export type { Fault, FaultAction, FaultPhase } from "./fault.ts";
export { type FaultPresetName, faultPresets } from "./presets.ts";

const all = [
  sqlError,
  latency,
  resetConnection,
  blackhole,
  terminateBackend,
  refuseConnections,
] as const;

/** Fault types by the `type` rules use. */
export const faultTypes: ReadonlyMap<string, FaultType<{ type: string }>> = new Map(
  all.map((f) => [f.type, f as unknown as FaultType<{ type: string }>]),
);

const presetSchema = z.strictObject({
  type: z.literal("preset"),
  name: z.enum(
    Object.keys(faultPresets) as [keyof typeof faultPresets, ...(keyof typeof faultPresets)[]],
  ),
});

/** A fault as data: one of the types above, or a named preset. */
export const faultSpecSchema = z.discriminatedUnion("type", [
  ...(all.map((f) => f.schema) as unknown as z.ZodObject[]),
  presetSchema,
] as unknown as [z.ZodObject, ...z.ZodObject[]]);

/** A fault as a rule states it. */
export type FaultSpec = { type: string; [key: string]: unknown };

/** Build the fault a (validated) spec describes. */
export function createFault(spec: FaultSpec): Fault {
  const resolved =
    spec.type === "preset"
      ? (faultPresets[spec.name as keyof typeof faultPresets] as FaultSpec)
      : spec;
  const type = faultTypes.get(resolved.type);
  if (!type) throw new Error(`unknown fault type ${resolved.type}`);
  return type.create(type.schema.parse(resolved));
}
