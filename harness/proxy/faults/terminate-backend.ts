import { z } from "zod";
import type { FaultType } from "./fault.ts";

const schema = z.strictObject({ type: z.literal("terminateBackend") });

/**
 * The server really ends the session: in place of the statement the backend is asked to
 * terminate itself, so the client gets FATAL 57P01 from Postgres and a closed connection.
 */
export const terminateBackend: FaultType<z.infer<typeof schema>> = {
  type: "terminateBackend",
  schema,
  create() {
    return {
      type: "terminateBackend",
      phase: "statement",
      act: () => ({ action: "replace", sql: "SELECT pg_terminate_backend(pg_backend_pid())" }),
      describe: () => "terminateBackend",
    };
  },
};
