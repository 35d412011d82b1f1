import { z } from "zod";
import { isError, type TraceEntry } from "../../proxy/index.ts";
import { type Invariant, result } from "./invariant.ts";

const schema = z.strictObject({ invariant: z.literal("rollsBackAfterError") });

function line(e: TraceEntry): string {
  const outcome = isError(e)
    ? `${e.result.sqlstate} ${e.result.message}`
    : "tag" in e.result
      ? e.result.tag
      : "skipped" in e.result
        ? "skipped (an earlier statement of its batch failed)"
        : "reply lost";
  return `conn ${e.conn} ${e.at} ${e.sql} → ${outcome} (tx ${e.tx})`;
}

/**
 * After every error inside a transaction block (the proxy trace shows status E after it), the
 * connection's next statement is ROLLBACK or ROLLBACK TO SAVEPOINT — never another statement,
 * never silence. Read from the proxy's trace, so it holds for a service in any language.
 */
export const rollsBackAfterError: Invariant<z.infer<typeof schema>> = {
  name: "rollsBackAfterError",
  schema,
  label: () => "rollsBackAfterError",
  async evaluate(_spec, { trace }) {
    const name = "rollsBackAfterError";
    const expected =
      "after each error inside a transaction, the connection's next statement is ROLLBACK (or ROLLBACK TO SAVEPOINT)";
    const byConn = new Map<number, TraceEntry[]>();
    for (const entry of trace) {
      // What the server skipped in a failed batch was never run: the next statement is after it.
      if ("skipped" in entry.result) continue;
      const list = byConn.get(entry.conn) ?? [];
      list.push(entry);
      byConn.set(entry.conn, list);
    }
    let errors = 0;
    const violations: string[] = [];
    for (const entries of byConn.values()) {
      entries.forEach((entry, i) => {
        if (!isError(entry) || entry.tx !== "E") return;
        errors++;
        const next = entries[i + 1];
        if (next?.kind === "ROLLBACK") return;
        violations.push(
          `${line(entry)}\n          then: ${next ? line(next) : "no further statement on that connection"}`,
        );
      });
    }
    if (violations.length === 0)
      return result(
        name,
        true,
        expected,
        `${errors} error(s) in transactions, each followed by ROLLBACK`,
      );
    return result(
      name,
      false,
      expected,
      `${violations.length} of ${errors} error(s) not followed by ROLLBACK`,
      violations.slice(0, 10),
    );
  },
};
