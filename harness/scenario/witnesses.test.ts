import { describe, expect, it } from "vitest";
import type { ServerError } from "../postgres/index.ts";
import type { TraceEntry } from "../proxy/index.ts";
import { formatScenarioResult } from "../report/console.ts";
import { failedResult } from "../report/sample-results.ts";
import {
  compareWitnesses,
  formatDisagreements,
  serverLogSqlstates,
  traceSqlstates,
} from "./witnesses.ts";

function serverError(sqlstate: string, message = "boom"): ServerError {
  return {
    at: new Date(),
    sqlstate,
    severity: "ERROR",
    message,
    session: "s",
    pid: 1,
    database: "db",
    statement: undefined,
    applicationName: "svc",
  };
}

function traced(result: TraceEntry["result"]): TraceEntry {
  return {
    conn: 1,
    at: new Date().toISOString(),
    sql: "SELECT 1",
    kind: "SELECT",
    durationMs: 0,
    result,
    tx: "E",
    database: "db",
    applicationName: "svc",
  };
}

describe("the trace and the server log, counted against each other", () => {
  it("agree when every error the server sent is traced; skipped and lost are not errors", () => {
    const trace = [
      traced({ sqlstate: "42703", message: "x" }),
      traced({ sqlstate: "25P02", message: "x" }),
      traced({ skipped: true }),
      traced({ lost: true }),
      traced({ tag: "SELECT 1", rows: 1 }),
    ];
    const log = [serverError("42703"), serverError("25P02")];
    expect(traceSqlstates(trace)).toEqual({ "25P02": 1, "42703": 1 });
    expect(compareWitnesses(traceSqlstates(trace), serverLogSqlstates(log))).toEqual([]);
  });

  it("names each SQLSTATE they count differently, with both counts", () => {
    const log = [serverError("42703"), serverError("25P02"), serverError("25P02")];
    const disagreements = compareWitnesses({}, serverLogSqlstates(log));
    expect(disagreements).toEqual([
      { sqlstate: "25P02", trace: 0, serverLog: 2 },
      { sqlstate: "42703", trace: 0, serverLog: 1 },
    ]);
    expect(formatDisagreements(disagreements)).toBe(
      "the proxy trace and the server log disagree (25P02: 0 in the proxy trace, 2 in the server log; 42703: 0 in the proxy trace, 1 in the server log) — a faultline bug, please report it",
    );
  });

  it("leaves out what the server logs once its client is gone (never sent to anyone)", () => {
    const log = [serverError("08006", "connection to client lost"), serverError("57014")];
    expect(serverLogSqlstates(log)).toEqual({ "57014": 1 });
  });

  it("the console shows a disagreement in one line, under a passing verdict too", () => {
    const passing = failedResult([], { verdict: "pass", invariants: [] });
    const line = formatScenarioResult({
      ...passing,
      witnessDisagreements: [{ sqlstate: "25P02", trace: 0, serverLog: 3 }],
    });
    expect(line.split("\n")).toHaveLength(2);
    expect(line.split("\n")[1]).toContain("25P02: 0 in the proxy trace, 3 in the server log");
    expect(formatScenarioResult(passing).split("\n")).toHaveLength(1);
  });
});
