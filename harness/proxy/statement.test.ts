import { describe, expect, it } from "vitest";
import { cachedStatementKind, normaliseSql, statementKind } from "./statement.ts";

describe("statementKind", () => {
  it("reads the first keyword past comments, in any case", () => {
    expect(statementKind("  select 1")).toBe("SELECT");
    expect(statementKind("/* app */ -- x\n UPDATE users SET a = 1")).toBe("UPDATE");
    expect(statementKind("start transaction")).toBe("BEGIN");
    expect(statementKind("END")).toBe("COMMIT");
    expect(statementKind("ROLLBACK TO SAVEPOINT a")).toBe("ROLLBACK");
    expect(statementKind("WITH x AS (SELECT 1) SELECT * FROM x")).toBe("other");
    expect(statementKind("")).toBe("other");
  });

  it("gives the same kinds when remembered per SQL text", () => {
    for (const sql of ["  select 1", "END", "WITH x AS (SELECT 1) SELECT 1", "", "END"])
      expect(cachedStatementKind(sql)).toBe(statementKind(sql));
  });
});

describe("normaliseSql", () => {
  it("drops literals and collapses whitespace", () => {
    expect(normaliseSql("SELECT *\n  FROM users WHERE email = 'a@b.c' AND id = 42")).toBe(
      "SELECT * FROM users WHERE email = ? AND id = ?",
    );
    expect(normaliseSql("SELECT 'it''s' , $$body$$, $t$x$t$")).toBe("SELECT ? , ?, ?");
    expect(normaliseSql("SELECT $1, a1 FROM t")).toBe("SELECT $1, a1 FROM t");
  });
});
