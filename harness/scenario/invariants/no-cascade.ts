import { z } from "zod";
import { formatServerError } from "../../postgres/index.ts";
import { isError } from "../../proxy/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("noCascade") });
const IN_FAILED_SQL_TRANSACTION = "25P02";

/** No statement failed with 25P02: no session carried on inside an aborted transaction. */
export const noCascade: Invariant<z.infer<typeof schema>> = {
  name: "noCascade",
  schema,
  label: () => "noCascade",
  async evaluate(_spec, { serverErrors, trace }) {
    const cascade = serverErrors.filter((e) => e.sqlstate === IN_FAILED_SQL_TRANSACTION);
    // The proxy sees what the service was told; the server log what Postgres raised. Either counts.
    const traced = trace.filter(
      (e) => isError(e) && e.result.sqlstate === IN_FAILED_SQL_TRANSACTION,
    );
    const expected =
      "no 25P02 (in_failed_sql_transaction) errors in the server log or the proxy trace";
    if (cascade.length === 0 && traced.length === 0)
      return result("noCascade", true, expected, "none");
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
