import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, test } from "vitest";
import type { StatementKind } from "./statement.ts";
import { connectionJson, type TraceEntry, TraceWriter } from "./trace.ts";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function linesOf(write: (trace: TraceWriter) => void): Promise<string> {
  dir ??= await mkdtemp(path.join(os.tmpdir(), "faultline-trace-"));
  const file = path.join(dir, `${Math.random()}.ndjson`);
  const trace = new TraceWriter(file);
  write(trace);
  await trace.close();
  return readFile(file, "utf8");
}

// The session's fast path must write exactly what the generic write gives for the same entry:
// readTrace, the oracle and the HTML report read these lines.
test("writeStatement writes the same lines as write, byte for byte", async () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const cases: {
    sql: string;
    kind: StatementKind;
    step?: TraceEntry["step"];
    rule?: string;
    database: string;
    applicationName: string;
    result: TraceEntry["result"];
    durationMs: number;
    tx: TraceEntry["tx"];
  }[] = [
    {
      sql: "SELECT abalance FROM pgbench_accounts WHERE aid = 42",
      kind: "SELECT",
      database: "bench",
      applicationName: "",
      result: { tag: "SELECT 1", rows: 1 },
      durationMs: 0.123,
      tx: "I",
    },
    {
      sql: "UPDATE \"t\" SET note = 'it''s \\ \"quoted\" ☃' WHERE id = $1",
      kind: "UPDATE",
      rule: 'break "it"',
      database: 'd"b',
      applicationName: "app\n☃",
      result: { sqlstate: "42703", message: 'column "x" does not exist' },
      durationMs: 12,
      tx: "E",
    },
    {
      sql: "BEGIN",
      kind: "BEGIN",
      database: "db",
      applicationName: "a",
      result: { tag: "BEGIN", rows: null },
      durationMs: 0,
      tx: "T",
    },
    {
      sql: "COMMIT",
      kind: "COMMIT",
      database: "db",
      applicationName: "a",
      result: { lost: true },
      durationMs: 1500.5,
      tx: "?",
    },
    {
      sql: "SELECT id, credits_balance FROM users WHERE email = $1",
      kind: "SELECT",
      step: "parse",
      rule: "r",
      database: "db",
      applicationName: "asyncpg",
      result: { sqlstate: "42703", message: 'column "credits_balance" does not exist' },
      durationMs: 0.5,
      tx: "E",
    },
    {
      sql: "SELECT 3",
      kind: "SELECT",
      database: "db",
      applicationName: "pgx",
      result: { skipped: true },
      durationMs: 0,
      tx: "I",
    },
  ];
  const generic = await linesOf((trace) => {
    for (const c of cases) {
      trace.write({
        conn: 7,
        at,
        sql: c.sql,
        kind: c.kind,
        ...(c.step === undefined ? {} : { step: c.step }),
        ...(c.rule === undefined ? {} : { rule: c.rule }),
        database: c.database,
        applicationName: c.applicationName,
        result: c.result,
        durationMs: c.durationMs,
        tx: c.tx,
      });
    }
  });
  const fast = await linesOf((trace) => {
    for (const c of cases) {
      const record = {
        conn: 7,
        at,
        sql: c.sql,
        kind: c.kind,
        step: c.step,
        rule: c.rule,
        connectionJson: connectionJson(c.database, c.applicationName),
      };
      // Twice: the second line comes from the caches.
      trace.writeStatement(record, c.result, c.durationMs, c.tx);
      trace.writeStatement(record, c.result, c.durationMs, c.tx);
    }
  });
  const doubled = generic
    .trimEnd()
    .split("\n")
    .flatMap((line) => [line, line]);
  expect(fast.trimEnd().split("\n")).toEqual(doubled);
  expect(JSON.parse(fast.split("\n")[2] ?? "")).toMatchObject({ rule: 'break "it"', tx: "E" });
});
