import { z } from "zod";
import type { FaultType } from "./fault.ts";

const schema = z.strictObject({
  type: z.literal("resetConnection"),
  when: z.enum(["before", "after"]).default("before"),
});

/**
 * Close both sides at this statement: `before` it is sent, or `after` it ran but before its
 * reply reaches the client — the "did my COMMIT happen?" case.
 */
export const resetConnection: FaultType<z.infer<typeof schema>> = {
  type: "resetConnection",
  schema: schema as unknown as z.ZodType<z.infer<typeof schema>>,
  create(spec) {
    return {
      type: "resetConnection",
      phase: "statement",
      act: () => ({ action: "reset", when: spec.when }),
      describe: () => `resetConnection ${spec.when}`,
    };
  },
};
