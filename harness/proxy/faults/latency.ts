import { z } from "zod";
import type { FaultType } from "./fault.ts";

const schema = z.strictObject({
  type: z.literal("latency"),
  /** Delay in milliseconds. */
  ms: z.number().nonnegative(),
  /** Up to this many milliseconds more or less, drawn from the run's seeded random. */
  jitterMs: z.number().nonnegative().default(0),
  when: z.enum(["before", "after"]).default("before"),
});

/** Hold the statement before it reaches the server, or its reply before it reaches the client. */
export const latency: FaultType<z.infer<typeof schema>> = {
  type: "latency",
  schema: schema as unknown as z.ZodType<z.infer<typeof schema>>,
  create(spec) {
    return {
      type: "latency",
      phase: "statement",
      act: (random) => ({
        action: "delay",
        ms: Math.max(0, spec.ms + (spec.jitterMs ? (random.next() * 2 - 1) * spec.jitterMs : 0)),
        when: spec.when,
      }),
      describe: () => `latency ${spec.ms}±${spec.jitterMs} ms ${spec.when}`,
    };
  },
};
