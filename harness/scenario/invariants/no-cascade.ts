import { z } from "zod";
import { formatServerError } from "../../postgres/index.ts";
import { isError } from "../../proxy/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("noCascade") });
const IN_FAILED_SQL_TRANSACTION = "25P02";

/**
 * Statements drivers send on their own inside an aborted transaction, before the application's
 * ROLLBACK reaches the server: PDO deallocates its prepared statements, pools DISCARD or RESET,
 * cursors are closed. Their 25P02 is the driver tidying up, not the application carrying on.
 */
const HOUSEKEEPING = /^\s*(DEALLOCATE|DISCARD|CLOSE|RESET|UNLISTEN)\b/i;

/** Whether a statement's SQL is a driver's housekeeping. */
export function isDriverHousekeeping(sql: string | undefined): boolean {
  return sql !== undefined && HOUSEKEEPING.test(sql);
}

/** No statement failed with 25P02: no session carried on inside an aborted transaction. */
export const noCascade: Invariant<z.infer<typeof schema>> = {
  name: "noCascade",
  schema,
  label: () => "noCascade",
  async evaluate(_spec, { serverErrors, trace }) {
    const aborted = serverErrors.filter((e) => e.sqlstate === IN_FAILED_SQL_TRANSACTION);
    const cascade = aborted.filter((e) => !isDriverHousekeeping(e.statement));
    // The proxy sees what the service was told; the server log what Postgres raised. Either counts.
    const abortedTraced = trace.filter(
      (e) => isError(e) && e.result.sqlstate === IN_FAILED_SQL_TRANSACTION,
    );
    const traced = abortedTraced.filter((e) => !isDriverHousekeeping(e.sql));
    const expected =
      "no 25P02 (in_failed_sql_transaction) errors in the server log or the proxy trace";
    if (cascade.length === 0 && traced.length === 0) {
      const housekeeping = Math.max(aborted.length, abortedTraced.length);
      if (housekeeping === 0) return result("noCascade", true, expected, "none");
      const texts = [
        ...new Set([
          ...aborted.map((e) => e.statement?.trim().split(/\s+/)[0]?.toUpperCase()),
          ...abortedTraced.map((e) => e.sql.trim().split(/\s+/)[0]?.toUpperCase()),
        ]),
      ].filter(Boolean);
      return result(
        "noCascade",
        true,
        expected,
        `none from the application (note: ${housekeeping} × 25P02 on the driver's own ${texts.join("/")} inside an aborted transaction, not counted)`,
        [
          ...aborted.map((e) => `note: ${formatServerError(e)}`),
          ...(aborted.length === 0
            ? abortedTraced.map((e) => `note: trace: conn ${e.conn} ${e.at} ${e.sql} → 25P02`)
            : []),
        ].slice(0, 10),
      );
    }
    // The first error in each cascading session is the one that was swallowed: show it first.
    const sessions = new Set(cascade.map((e) => e.session));
    const causes = serverErrors.filter(
      (e) =>
        sessions.has(e.session) &&
        e.sqlstate !== IN_FAILED_SQL_TRANSACTION &&
        e.at <= (cascade.find((c) => c.session === e.session)?.at ?? e.at),
    );
    const evidence = [
      ...causes.map((e) => `cause: ${formatServerError(e)}`),
      ...cascade.slice(0, 10).map(formatServerError),
      ...(cascade.length > 10
        ? [`… and ${cascade.length - 10} more 25P02 errors in the server log`]
        : []),
      ...(cascade.length === 0
        ? traced.slice(0, 10).map((e) => `trace: conn ${e.conn} ${e.at} ${e.sql} → 25P02`)
        : []),
    ];
    const seen = `${cascade.length} × 25P02 in the server log (${sessions.size} session(s)), ${traced.length} in the proxy trace`;
    return result("noCascade", false, expected, seen, evidence);
  },
};
