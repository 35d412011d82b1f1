import { z } from "zod";
import type { FaultType } from "./fault.ts";

const schema = z
  .strictObject({
    type: z.literal("refuseConnections"),
    /** Refuse the first `count` new connections the rule matches… */
    count: z.number().int().positive().optional(),
    /** …or this share of them (drawn from the run's seeded random). */
    share: z.number().min(0).max(1).optional(),
    sqlstate: z
      .string()
      .regex(/^[0-9A-Z]{5}$/)
      .default("53300"),
    message: z.string().default("sorry, too many clients already"),
  })
  .refine((s) => !(s.count !== undefined && s.share !== undefined), {
    message: "give count or share, not both",
  });

/** New connections are refused at startup with FATAL 53300, as a full server refuses them. */
export const refuseConnections: FaultType<z.infer<typeof schema>> = {
  type: "refuseConnections",
  schema: schema as unknown as z.ZodType<z.infer<typeof schema>>,
  create(spec) {
    let refused = 0;
    return {
      type: "refuseConnections",
      phase: "connect",
      act: (random) => {
        const refuse =
          spec.count !== undefined
            ? refused < spec.count
            : spec.share !== undefined
              ? random.next() < spec.share
              : true;
        if (!refuse) return { action: "delay", ms: 0, when: "before" };
        refused++;
        return { action: "refuse", sqlstate: spec.sqlstate, message: spec.message };
      },
      describe: () =>
        `refuseConnections ${spec.sqlstate}${spec.count !== undefined ? ` first ${spec.count}` : ""}${spec.share !== undefined ? ` share ${spec.share}` : ""}`,
    };
  },
};
