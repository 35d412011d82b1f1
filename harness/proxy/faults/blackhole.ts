import { z } from "zod";
import type { FaultType } from "./fault.ts";

const schema = z.strictObject({ type: z.literal("blackhole") });

/** From this statement on, nothing is forwarded either way: the client waits until it gives up. */
export const blackhole: FaultType<z.infer<typeof schema>> = {
  type: "blackhole",
  schema,
  create() {
    return {
      type: "blackhole",
      phase: "statement",
      act: () => ({ action: "blackhole" }),
      describe: () => "blackhole",
    };
  },
};
