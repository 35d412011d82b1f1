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

  it("agrees with the regular expressions it replaces past comments and odd whitespace", () => {
    const byRegex = (sql: string) => {
      const rest = sql.replace(/^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, "");
      return /^[A-Za-z]+/.exec(rest)?.[0]?.toUpperCase() ?? "";
    };
    const cases = [
      "-- only a comment",
      "/* unclosed SELECT",
      "\u00a0\u3000select 1",
      "--a\n--b\n/* c */ /**/insert into t values (1)",
      "/* a */* b */ SELECT",
      "`select`",
      "[update]",
      "ÀSELECT",
      "rollback;",
    ];
    for (const sql of cases) {
      const word = byRegex(sql);
      const kind = statementKind(sql);
      if (["SELECT", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "ROLLBACK"].includes(word))
        expect(kind, sql).toBe(word);
      else
        expect(
          kind === "other" || ["START", "END", "ABORT", "VALUES", "TABLE"].includes(word),
          sql,
        ).toBe(true);
    }
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

/** normaliseSql's definition: the four passes it replaces, kept to check it against. */
function normaliseSqlByRegex(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, "?")
    .replace(/(?<![$\w])\d+(?:\.\d+)?\b/g, "?")
    .replace(/\s+/g, " ")
    .trim();
}

describe("normaliseSql against its regular-expression definition", () => {
  it("agrees on SQL as services send it", () => {
    const real = [
      "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
      "UPDATE pgbench_accounts SET abalance = abalance + -4032 WHERE aid = 73;",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (7, 1, 48213, -4032, CURRENT_TIMESTAMP);",
      'insert into "invoices" ("id", "amount_cents") values ($1, $2) returning "id"',
      'SELECT "User"."id" FROM "public"."User" WHERE ("User"."email" = $1 AND 1=1) LIMIT $2 OFFSET $3',
      "UPDATE users SET credits = credits + 500, note = 'it''s paid', ratio = 0.75 WHERE email = 'a@b.c'",
      "DO $body$ BEGIN RAISE NOTICE 'x 1'; END $body$; SELECT $$a 'b' 2$$, 3.5e10, x1, _2, 1.2.3",
      "SELECT '\u00e9t\u00e9', 12\u00a0\u00a0FROM\u2028t\t\n\r WHERE v = 'unterminated",
      "  \t SELECT 1 -- trailing comment with 42\n ",
      "SELECT 'a''', 'b'' , $tag$ unclosed, $1$, 1.5a, 10., .5, 7_000",
      "",
      "   ",
    ];
    for (const sql of real) expect(normaliseSql(sql), sql).toBe(normaliseSqlByRegex(sql));
  });

  it("agrees on 100,000 random texts made of the characters the passes treat specially", () => {
    const alphabet = [
      "'",
      "''",
      "$",
      "$$",
      "$a$",
      "$_b$",
      "$1",
      "1",
      "23",
      ".",
      "4.5",
      "x",
      "_",
      "é",
      " ",
      "  ",
      "\t",
      "\n",
      "\u00a0",
      "\u3000",
      "\ufeff",
      "a1",
      ";",
      "(",
      "-",
      "e",
    ];
    let state = 12345;
    const next = () => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      return state;
    };
    for (let n = 0; n < 100_000; n++) {
      let sql = "";
      const parts = next() % 14;
      for (let p = 0; p < parts; p++) sql += alphabet[next() % alphabet.length];
      const expected = normaliseSqlByRegex(sql);
      if (normaliseSql(sql) !== expected)
        expect(normaliseSql(sql), JSON.stringify(sql)).toBe(expected);
    }
  });
});
