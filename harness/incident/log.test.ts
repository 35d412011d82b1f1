import { describe, expect, it } from "vitest";
import { readLog, UnrecognisedLogError } from "./log.ts";
import { compilePrefix, KNOWN_PREFIXES, PrefixError } from "./prefix.ts";
import { reconstruct, resolveMissing, type Shape } from "./reconstruct.ts";
import { statementPattern } from "./scenario.ts";

const SHAPE: Shape = new Map([
  [
    "users",
    new Map([
      ["id", "bigint"],
      ["email", "text"],
      ["credits_balance", "integer"],
    ]),
  ],
  [
    "credit_grants",
    new Map([
      ["id", "bigint"],
      ["user_id", "bigint"],
      ["credits", "integer"],
    ]),
  ],
  [
    "billing.accounts",
    new Map([
      ["id", "bigint"],
      ["tax_cents", "integer"],
    ]),
  ],
]);

describe("log_line_prefix", () => {
  it("reads each known prefix back out of a line the server writes with it", () => {
    const lines: Record<string, string> = {
      "Postgres's default":
        "2026-11-27 14:02:11.123 UTC [4242] ERROR:  column users.credits_balance does not exist",
      "Debian's default":
        "2026-11-27 14:02:11.123 UTC [4242] app@payments ERROR:  column users.credits_balance does not exist",
      RDS: "2026-11-27 14:02:11 UTC:10.0.1.7(53718):app@payments:[4242]:ERROR:  column users.credits_balance does not exist",
      "pgBadger's recommended":
        "2026-11-27 14:02:11 UTC [4242]: user=app,db=payments,app=webhooks,client=10.0.1.7 ERROR:  column users.credits_balance does not exist",
      "Cloud SQL":
        "2026-11-27 14:02:11.123 UTC [4242]: [3-1] db=payments,user=app ERROR:  column users.credits_balance does not exist",
    };
    for (const [name, line] of Object.entries(lines)) {
      const known = KNOWN_PREFIXES.find((p) => p.name === name);
      const read = compilePrefix(known?.prefix as string).match(line);
      expect(read?.rest, name).toBe("ERROR:  column users.credits_balance does not exist");
      expect(read?.fields.pid, name).toBe("4242");
    }
    const rds = compilePrefix("%t:%r:%u@%d:[%p]:").match(lines.RDS as string);
    expect(rds?.fields).toMatchObject({
      user: "app",
      database: "payments",
      remote: "10.0.1.7(53718)",
    });
  });

  it("takes every documented escape, padding and %q, and names an escape Postgres lacks", () => {
    const prefix = compilePrefix("%n %-6p %c %l %v %x %e %Q %q%u@%d %a ");
    const line =
      "1764252131.123 4242   6566a1b3.1092 7 3/17 0 42703 -1234 app@payments webhooks ERROR:  x";
    expect(prefix.match(line)?.fields).toMatchObject({
      epoch: "1764252131.123",
      pid: "4242",
      session: "6566a1b3.1092",
      sqlstate: "42703",
      user: "app",
      database: "payments",
    });
    // A background process prints nothing after %q.
    expect(
      prefix.match("1764252131.123 77     6566a1b3.4d 1  0 00000 0 LOG:  checkpoint")?.rest,
    ).toBe("LOG:  checkpoint");
    expect(() => compilePrefix("%m %z ")).toThrow(PrefixError);
    expect(() => compilePrefix("%m %z ")).toThrow(/%z is no escape Postgres knows/);
  });
});

describe("reading a log", () => {
  it("groups a stderr ERROR with its DETAIL and multi-line STATEMENT, per session, and skips the noise", () => {
    const log = [
      "2026-11-27 14:02:10.001 UTC [77] LOG:  checkpoint starting: time",
      '2026-11-27 14:02:10.500 UTC [91] LOG:  automatic vacuum of table "payments.public.users"',
      "2026-11-27 14:02:11.123 UTC [4242] ERROR:  column u.credits_balance does not exist at character 20",
      '2026-11-27 14:02:11.123 UTC [4242] HINT:  Perhaps you meant to reference the column "u.credits".',
      "2026-11-27 14:02:11.123 UTC [4242] STATEMENT:  SELECT u.id, u.credits_balance",
      "\tFROM users u WHERE u.email = $1",
      "2026-11-27 14:02:11.130 UTC [4243] LOG:  connection received: host=10.0.1.7 port=5000",
      "2026-11-27 14:02:11.140 UTC [4242] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      "2026-11-27 14:02:11.140 UTC [4242] STATEMENT:  INSERT INTO credit_grants (user_id, credits) VALUES ($1, $2)",
    ].join("\n");
    const read = readLog("pg.log", log);
    expect(read.format).toContain("Postgres's default");
    expect(read.errors).toHaveLength(2);
    const [first, second] = read.errors;
    expect(first).toMatchObject({
      session: "4242",
      sqlstate: "42703",
      sqlstateFrom: "message",
      line: 3,
    });
    expect(first?.statement).toBe(
      "SELECT u.id, u.credits_balance\nFROM users u WHERE u.email = $1",
    );
    expect(first?.lines).toEqual([3, 4, 5, 6]);
    expect(second?.sqlstate).toBe("25P02");
    // The alias u is the users table, through the STATEMENT.
    expect(resolveMissing(first as never, SHAPE)).toMatchObject({
      kind: "column",
      table: "users",
      column: "credits_balance",
      known: true,
      how: "alias u resolved through the STATEMENT",
    });
  });

  it("reads Heroku's lines behind its log drain, with the SQLSTATE its prefix carries", () => {
    const read = readLog(
      "heroku.log",
      [
        "2026-11-27T14:02:11.000000+00:00 app[postgres.1234]: [DATABASE] [9-1] sql_error_code = 42703 ERROR:  column users.credits_balance does not exist",
        "2026-11-27T14:02:11.000000+00:00 app[postgres.1234]: [DATABASE] [9-2] sql_error_code = 42703 STATEMENT:  SELECT id, credits_balance FROM users",
        "2026-11-27T14:02:11.500000+00:00 app[postgres.1234]: [DATABASE] [10-1] sql_error_code = 00000 LOG:  checkpoint starting: time",
      ].join("\n"),
    );
    expect(read.format).toContain("Heroku");
    expect(read.errors).toEqual([
      expect.objectContaining({
        sqlstate: "42703",
        sqlstateFrom: "log",
        statement: "SELECT id, credits_balance FROM users",
        at: new Date("2026-11-27T14:02:11.000Z"),
      }),
    ]);
  });

  it("reads csvlog with quoted, multi-line fields, and jsonlog", () => {
    const csv = [
      '2026-11-27 14:02:11.123 UTC,"app","payments",4242,"10.0.1.7:5000",6566a1b3.1092,3,"SELECT",2026-11-27 14:00:00 UTC,3/17,0,ERROR,42703,"column ""credits_balance"" does not exist",,,,,,"SELECT id, credits_balance',
      'FROM users WHERE email = $1",8,,"webhooks","client backend",,0',
      '2026-11-27 14:02:12.000 UTC,,,77,,6566a1b3.4d,1,,2026-11-27 14:00:00 UTC,,0,LOG,00000,"checkpoint starting: time",,,,,,,,,"","checkpointer",,0',
    ].join("\n");
    const fromCsv = readLog("pg.csv", csv);
    expect(fromCsv.format).toBe("csvlog");
    expect(fromCsv.recognised).toBe(2);
    expect(fromCsv.errors).toEqual([
      expect.objectContaining({
        session: "6566a1b3.1092",
        sqlstate: "42703",
        sqlstateFrom: "log",
        message: 'column "credits_balance" does not exist',
        statement: "SELECT id, credits_balance\nFROM users WHERE email = $1",
        database: "payments",
        application: "webhooks",
      }),
    ]);
    const json = [
      '{"timestamp":"2026-11-27 14:02:11.123 UTC","user":"app","dbname":"payments","pid":4242,"session_id":"6566a1b3.1092","error_severity":"ERROR","state_code":"25P02","message":"current transaction is aborted, commands ignored until end of transaction block","statement":"COMMIT"}',
      '{"timestamp":"2026-11-27 14:02:12.000 UTC","pid":77,"error_severity":"LOG","message":"checkpoint complete"}',
    ].join("\n");
    const fromJson = readLog("pg.json", json);
    expect(fromJson.format).toBe("jsonlog");
    expect(fromJson.errors[0]).toMatchObject({
      sqlstate: "25P02",
      statement: "COMMIT",
      session: "6566a1b3.1092",
    });
  });

  it("reads the drivers' own words in an application log, and says what it tried when nothing fits", () => {
    const app = [
      "2026-11-27 14:02:11,123 ERROR webhook failed",
      "Traceback (most recent call last):",
      '  File "app.py", line 40, in handle',
      "psycopg2.errors.UndefinedColumn: column users.credits_balance does not exist",
      "LINE 1: SELECT id, credits_balance FROM users WHERE email = 'a@example.com'",
      "",
      "The above exception was the direct cause of the following exception:",
      "sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedColumn) column users.credits_balance does not exist",
      "[SQL: SELECT id, credits_balance FROM users WHERE email = %(email)s]",
      "asyncpg.exceptions.InFailedSQLTransactionError: current transaction is aborted, commands ignored until end of transaction block",
      "ActiveRecord::StatementInvalid: PG::InFailedSqlTransaction: ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      "webhook failed: ERROR: deadlock detected (SQLSTATE 40P01)",
    ].join("\n");
    const read = readLog("app.log", app);
    expect(read.errors.map((e) => [e.line, e.sqlstate, e.source])).toEqual([
      [4, "42703", "SQLAlchemy (psycopg2)"],
      [10, "25P02", "asyncpg"],
      [11, "25P02", "ruby-pg"],
      [12, "40P01", "pgx"],
    ]);
    // The wrapper told the same error again: one error, read from both lines.
    expect(read.errors[0]?.lines).toEqual([4, 8]);
    expect(() => readLog("notes.txt", "lunch at noon\nall good\n")).toThrow(UnrecognisedLogError);
    expect(() => readLog("notes.txt", "lunch at noon\n")).toThrow(/--log-line-prefix/);
  });
});

describe("application log sessions", () => {
  it("tells concurrent requests apart by their request id, so each cascade is its own", () => {
    const read = readLog(
      "app.log",
      [
        "2026-11-27 14:02:11,000 ERROR request_id=a1 column users.credits_balance does not exist",
        "2026-11-27 14:02:11,001 ERROR request_id=b2 column users.credits_balance does not exist",
        "2026-11-27 14:02:11,002 ERROR request_id=b2 current transaction is aborted, commands ignored until end of transaction block",
        "2026-11-27 14:02:11,003 ERROR request_id=a1 current transaction is aborted, commands ignored until end of transaction block",
      ].join("\n"),
    );
    expect(read.errors.map((e) => e.session)).toEqual([
      "app:app.log:a1",
      "app:app.log:b2",
      "app:app.log:b2",
      "app:app.log:a1",
    ]);
    const [incident] = reconstruct(read.errors, SHAPE).incidents;
    expect(incident).toMatchObject({ cascades: 2, sessions: ["app:app.log:a1", "app:app.log:b2"] });
  });
});

describe("reconstruction", () => {
  const log = (lines: string[]) => readLog("pg.log", lines.join("\n"));

  it("tells two unrelated incidents apart across sessions, counting the cascades and the ignored statements", () => {
    const { errors } = log([
      "2026-11-27 14:02:11.000 UTC [1] ERROR:  column users.credits_balance does not exist",
      "2026-11-27 14:02:11.001 UTC [2] ERROR:  column users.credits_balance does not exist",
      "2026-11-27 14:02:11.002 UTC [1] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      "2026-11-27 14:02:11.003 UTC [1] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      "2026-11-27 14:02:11.004 UTC [2] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      '2026-11-27 18:30:00.000 UTC [9] ERROR:  relation "billing.invoices" does not exist at character 15',
      "2026-11-27 18:30:00.001 UTC [8] ERROR:  current transaction is aborted, commands ignored until end of transaction block",
      '2026-11-27 18:31:00.000 UTC [7] FATAL:  password authentication failed for user "x"',
    ]);
    const rebuilt = reconstruct(errors, SHAPE);
    expect(
      rebuilt.incidents.map((i) => [
        i.key,
        i.roots.length,
        i.aborted.length,
        i.cascades,
        i.sessions,
      ]),
    ).toEqual([
      ["42703 users.credits_balance", 2, 3, 2, ["1", "2"]],
      ["42P01 billing.invoices", 1, 0, 0, ["9"]],
    ]);
    expect(rebuilt.incidents[1]?.missing).toMatchObject({ kind: "table", known: false });
    // Session 8's 25P02 has no error before it in its session.
    expect(rebuilt.orphanAborted).toHaveLength(1);
  });

  it("resolves a column by its relation, and says when the migrations do not have it", () => {
    const error = {
      message: 'column "tax_cents" of relation "accounts" does not exist',
    } as never;
    expect(resolveMissing(error, SHAPE)).toMatchObject({
      table: "billing.accounts",
      column: "tax_cents",
      known: true,
    });
    expect(
      resolveMissing({ message: 'column "nickname" does not exist' } as never, SHAPE),
    ).toMatchObject({
      kind: "column",
      column: "nickname",
      known: false,
    });
  });
});

describe("statementPattern", () => {
  it("matches the statement with other literals and parameters, and nothing else", () => {
    const pattern = new RegExp(
      statementPattern("SELECT id FROM users WHERE email = 'a@example.com' AND n > 3"),
    );
    expect(pattern.test("SELECT id FROM users WHERE email = 'b@example.com' AND n > 10")).toBe(
      true,
    );
    expect(pattern.test("SELECT id FROM users\n WHERE email = $1 AND n > $2;")).toBe(true);
    expect(pattern.test("SELECT id, email FROM users WHERE email = 'a' AND n > 3")).toBe(false);
  });
});
