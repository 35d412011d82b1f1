import { z } from "zod";
import { dollarQuote, type FaultType } from "./fault.ts";

const schema = z.strictObject({
  type: z.literal("sqlError"),
  sqlstate: z.string().regex(/^[0-9A-Z]{5}$/, "expected a five-character SQLSTATE like 42703"),
  message: z.string().min(1),
});

/**
 * The statement fails with this SQLSTATE and message, raised by the real server: the proxy
 * sends a DO block that RAISEs it in place of the statement, so inside a transaction block the
 * server's transaction really is aborted and whatever the client sends next is answered by
 * Postgres itself (25P02 until it rolls back).
 */
export const sqlError: FaultType<z.infer<typeof schema>> = {
  type: "sqlError",
  schema,
  create(spec) {
    const sql = `DO ${dollarQuote(`BEGIN RAISE EXCEPTION USING ERRCODE = '${spec.sqlstate}', MESSAGE = ${dollarQuote(spec.message, "m")}; END`)}`;
    return {
      type: "sqlError",
      phase: "statement",
      act: () => ({ action: "replace", sql }),
      describe: () => `sqlError ${spec.sqlstate} ${spec.message}`,
    };
  },
};
