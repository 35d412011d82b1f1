import { describe, expect, it } from "vitest";
import { normaliseSql } from "./statement.ts";
import { type TraceEntry, traceLine } from "./trace.ts";

/** What the trace wrote before it built lines by hand: JSON.stringify of the entry. */
function stringified(entry: TraceEntry): string {
  const { conn, at, sql, kind, rule, database, applicationName, result, durationMs, tx } = entry;
  return `${JSON.stringify({
    conn,
    at,
    sql: normaliseSql(sql),
    kind,
    ...(rule === undefined ? {} : { rule }),
    database,
    applicationName,
    result,
    durationMs,
    tx,
  })}\n`;
}

const base: TraceEntry = {
  conn: 7,
  at: "2026-11-28T09:00:00.123Z",
  sql: "SELECT id, email FROM users WHERE email = 'a@b.c' AND n = 42",
  kind: "SELECT",
  database: "faultline_1a2b3c4d_credits",
  applicationName: "payments",
  result: { tag: "SELECT 1", rows: 1 },
  durationMs: 0.412,
  tx: "T",
};

describe("trace lines", () => {
  it.each<[string, Partial<TraceEntry>]>([
    ["a SELECT", {}],
    [
      "an error with quotes and newlines",
      {
        result: { sqlstate: "42703", message: 'column "credits_balance" does not exist\n\ttab' },
        tx: "E",
      },
    ],
    ["a lost statement with its rule", { result: { lost: true }, rule: "commit-reply-lost" }],
    ["no rows count", { result: { tag: "BEGIN", rows: null }, kind: "BEGIN", sql: "BEGIN" }],
    ["odd names", { applicationName: 'app "x" \\ ü 😀', database: "db\u0001", rule: 'r"1' }],
    [
      "SQL with a dollar-quoted body and unicode",
      {
        sql: "DO $x$ BEGIN RAISE EXCEPTION 'ü'; END $x$;\n  -- note",
      },
    ],
    ["an empty tag and whole durations", { result: { tag: "", rows: null }, durationMs: 12 }],
  ])("%s: the same bytes as JSON.stringify", (_, change) => {
    const entry = { ...base, ...change } as TraceEntry;
    expect(traceLine(entry)).toBe(stringified(entry));
    expect(JSON.parse(traceLine(entry))).toEqual(JSON.parse(stringified(entry)));
  });

  it("formats a numeric time as ISO 8601", () => {
    const at = Date.parse(base.at);
    expect(traceLine({ ...base, at })).toBe(stringified(base));
  });
});
