import { describe, expect, it } from "vitest";
import type { ServerError } from "../../postgres/index.ts";
import type { TraceEntry } from "../../proxy/index.ts";
import type { InvariantContext } from "./invariant.ts";
import { noCascade } from "./no-cascade.ts";

function aborted(statement: string): ServerError {
  return {
    at: new Date(),
    sqlstate: "25P02",
    severity: "ERROR",
    message: "current transaction is aborted, commands ignored until end of transaction block",
    session: "s1",
    pid: 1,
    database: "db",
    statement,
    applicationName: "php",
  };
}

function tracedAborted(sql: string): TraceEntry {
  return {
    conn: 1,
    at: new Date().toISOString(),
    sql,
    kind: "other",
    durationMs: 0,
    result: { sqlstate: "25P02", message: "current transaction is aborted" },
    tx: "E",
    database: "db",
    applicationName: "php",
  };
}

function context(serverErrors: ServerError[], trace: TraceEntry[]): InvariantContext {
  return { serverErrors, trace } as unknown as InvariantContext;
}

describe("noCascade and a driver's housekeeping", () => {
  it("PDO's own DEALLOCATE inside the aborted transaction is a note, not a cascade", async () => {
    const verdict = await noCascade.evaluate(
      { invariant: "noCascade" },
      context(
        [aborted("DEALLOCATE pdo_stmt_00000001")],
        [tracedAborted("DEALLOCATE pdo_stmt_00000001")],
      ),
      undefined,
    );
    expect(verdict.passed).toBe(true);
    expect(verdict.seen).toContain("1 × 25P02 on the driver's own DEALLOCATE");
    expect(verdict.evidence[0]).toContain("note:");
  });

  it("a 25P02 on any statement the application sent still fails it", async () => {
    const verdict = await noCascade.evaluate(
      { invariant: "noCascade" },
      context(
        [
          aborted("DEALLOCATE pdo_stmt_00000001"),
          aborted("INSERT INTO webhook_events VALUES ($1)"),
        ],
        [],
      ),
      undefined,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.seen).toContain("1 × 25P02 in the server log");
  });

  it("seen only by the trace (no server log), an application statement fails it too", async () => {
    const verdict = await noCascade.evaluate(
      { invariant: "noCascade" },
      context([], [tracedAborted("DISCARD ALL"), tracedAborted("UPDATE users SET x = 1")]),
      undefined,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.seen).toContain("1 in the proxy trace");
  });
});
