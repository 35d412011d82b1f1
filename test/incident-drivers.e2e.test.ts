import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLog } from "../harness/incident/index.ts";
import { type RunEnvironment, startEnvironment } from "../harness/postgres/index.ts";
import { ROOT } from "./cli.ts";

// Each driver's own words, produced by the real driver on this machine: a SELECT of a column
// production lacks, the error swallowed, then the next statement in the same transaction. What
// the program prints (an uncaught exception, a logged one, a warning) is what an application log
// holds, and `readLog` must read both errors with their SQLSTATEs.
const run = promisify(execFile);
let dir: string;
let env: RunEnvironment;
let url: URL;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-incident-drivers-"));
  await chmod(dir, 0o755);
  process.env.FAULTLINE_TMPDIR = dir;
  env = await startEnvironment();
  const db = await env.databases.create("drivers", []);
  await db.query("CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY)");
  url = new URL(db.url);
}, 120_000);
afterAll(async () => {
  await env?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(dir, { recursive: true, force: true });
});

interface Driver {
  name: string;
  /** The file the program goes in, and its text; `URL` in it is the database's URL. */
  file: string;
  program: string;
  command: (file: string) => [string, string[]];
  /** A compiled driver's build, run in the program's folder. */
  build?: [string, string[], Record<string, string>?];
  source: string;
}

const GO_BUILD: Driver["build"] = [
  "go",
  ["build", "-o", "prog", "."],
  { GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOPROXY: "off", GOFLAGS: "" },
];

const goProgram = (imports: string, open: string, begin: string, exec: string) => `package main

import (
	"fmt"
	"os"
${imports}
)

func main() {
${open}
${begin}
	if _, err := ${exec}("${MISSING}"); err != nil {
		fmt.Fprintln(os.Stderr, "select failed:", err)
	}
	if _, err := ${exec}("SELECT 1"); err != nil {
		fmt.Fprintln(os.Stderr, "next failed:", err)
	}
}
`;

const MISSING = "SELECT credits_balance FROM accounts";

const DRIVERS: Driver[] = [
  {
    name: "psycopg2",
    file: "p2.py",
    program: `import sys, traceback, psycopg2
conn = psycopg2.connect(sys.argv[1]); cur = conn.cursor()
try:
    cur.execute("${MISSING}")
except Exception:
    traceback.print_exc()
cur.execute("SELECT 1")
`,
    command: (f) => ["/usr/bin/python3", [f, "URL"]],
    source: "psycopg2",
  },
  {
    name: "psycopg 3",
    file: "p3.py",
    program: `import sys, traceback, psycopg
conn = psycopg.connect(sys.argv[1])
try:
    conn.execute("${MISSING}")
except Exception:
    traceback.print_exc()
conn.execute("SELECT 1")
`,
    command: (f) => ["/usr/bin/python3", [f, "URL"]],
    source: "psycopg",
  },
  {
    name: "asyncpg",
    file: "apg.py",
    program: `import asyncio, sys, traceback, asyncpg
async def main():
    c = await asyncpg.connect(sys.argv[1])
    tr = c.transaction()
    await tr.start()
    try:
        await c.fetch("${MISSING}")
    except Exception:
        traceback.print_exc()
    await c.fetch("SELECT 1")
asyncio.run(main())
`,
    command: (f) => ["/usr/bin/python3", [f, "URL"]],
    source: "asyncpg",
  },
  {
    name: "SQLAlchemy + psycopg2",
    file: "sa.py",
    program: `import sys, traceback
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1].replace("postgres://", "postgresql+psycopg2://", 1), future=True)
with engine.connect() as c:
    try:
        c.execute(text("${MISSING}"))
    except Exception:
        traceback.print_exc()
    c.execute(text("SELECT 1"))
`,
    command: (f) => ["/usr/bin/python3", [f, "URL"]],
    // The DBAPI's exception, then SQLAlchemy's wrapping it: one error each, told twice.
    source: "SQLAlchemy (psycopg2)",
  },
  {
    name: "ruby-pg",
    file: "r.rb",
    program: `require "pg"
c = PG.connect(ARGV[0])
c.exec("BEGIN")
begin
  c.exec("${MISSING}")
rescue PG::Error => e
  warn "#{e.class}: #{e.message}"
end
c.exec("SELECT 1")
`,
    command: (f) => ["/usr/bin/ruby", [f, "URL"]],
    source: "ruby-pg",
  },
  {
    name: "node-postgres",
    file: "n.cjs",
    program: `const { Client } = require(${JSON.stringify(path.join(ROOT, "node_modules", "pg"))});
(async () => {
  const c = new Client({ connectionString: process.argv[2] });
  await c.connect();
  await c.query("BEGIN");
  try { await c.query("${MISSING}"); } catch (e) { console.error(e); }
  try { await c.query("SELECT 1"); } catch (e) { console.error(e); }
  await c.end();
})();
`,
    command: (f) => [process.execPath, [f, "URL"]],
    source: "node-postgres",
  },
  {
    name: "DBD::Pg",
    file: "p.pl",
    program: `use DBI;
my ($host, $port, $db) = @ARGV;
my $d = DBI->connect("dbi:Pg:dbname=$db;host=$host;port=$port", "postgres", "", { AutoCommit => 0, RaiseError => 0, PrintError => 1 });
$d->do("${MISSING}");
$d->do("SELECT 1");
`,
    command: (f) => ["/usr/bin/perl", [f, "HOST", "PORT", "DB"]],
    source: "DBD::Pg",
  },
  {
    name: "PHP PDO",
    file: "pdo.php",
    program: `<?php
[$_, $host, $port, $db] = $argv;
$p = new PDO("pgsql:host=$host;port=$port;dbname=$db", "postgres", "");
$p->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$p->beginTransaction();
try { $p->query("${MISSING}"); } catch (PDOException $e) { fwrite(STDERR, $e->getMessage() . "\\n"); }
$p->query("SELECT 1");
`,
    command: (f) => ["php", [f, "HOST", "PORT", "DB"]],
    source: "PHP PDO",
  },
  {
    name: "PHP pgsql",
    file: "pg.php",
    program: `<?php
[$_, $host, $port, $db] = $argv;
$c = pg_connect("host=$host port=$port dbname=$db user=postgres");
pg_query($c, "BEGIN");
pg_query_params($c, "${MISSING}", []);
pg_query_params($c, "SELECT 1", []);
`,
    command: (f) => [
      "php",
      ["-d", "display_errors=stderr", "-d", "log_errors=0", f, "HOST", "PORT", "DB"],
    ],
    source: "PHP pgsql",
  },
  {
    name: "pgx v4",
    file: "pgx/main.go",
    program: goProgram(
      '\t"context"\n\t"github.com/jackc/pgx/v4"',
      "\tctx := context.Background()\n\tc, err := pgx.Connect(ctx, os.Args[1])\n\tif err != nil {\n\t\tpanic(err)\n\t}",
      "\ttx, _ := c.Begin(ctx)\n\texec := func(q string) (interface{}, error) { return tx.Exec(ctx, q) }",
      "exec",
    ),
    build: GO_BUILD,
    command: (f) => [path.join(path.dirname(f), "prog"), ["URL"]],
    source: "pgx",
  },
  {
    name: "lib/pq",
    file: "pq/main.go",
    program: goProgram(
      '\t"database/sql"\n\t_ "github.com/lib/pq"',
      '\tdb, _ := sql.Open("postgres", os.Args[1])',
      "\ttx, err := db.Begin()\n\tif err != nil {\n\t\tpanic(err)\n\t}",
      "tx.Exec",
    ),
    build: GO_BUILD,
    // lib/pq asks for TLS unless told not to; the test server has none.
    command: (f) => [path.join(path.dirname(f), "prog"), ["URL_NO_TLS"]],
    source: "lib/pq",
  },
  {
    name: "pgjdbc",
    file: "jdbc/Main.java",
    program: `import java.sql.*;
public class Main {
  public static void main(String[] a) throws Exception {
    Connection c = DriverManager.getConnection("jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[2] + "?user=postgres");
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) { s.execute("${MISSING}"); } catch (SQLException e) { e.printStackTrace(); }
    try (Statement s = c.createStatement()) { s.execute("SELECT 1"); } catch (SQLException e) { e.printStackTrace(); }
  }
}
`,
    build: ["javac", ["-cp", "/usr/share/java/postgresql.jar", "Main.java"]],
    command: (f) => [
      "java",
      ["-cp", `/usr/share/java/postgresql.jar:${path.dirname(f)}`, "Main", "HOST", "PORT", "DB"],
    ],
    source: "pgjdbc",
  },
];

/** What the program printed, whatever it exited with (an uncaught exception is the point). */
async function stderrOf(driver: Driver): Promise<string> {
  const file = path.join(dir, driver.file);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, driver.program);
  if (driver.build) {
    const [command, args, env] = driver.build;
    await run(command, args, { cwd: path.dirname(file), env: { ...process.env, ...env } });
  }
  const [command, args] = driver.command(file);
  const values: Record<string, string> = {
    URL: url.href,
    URL_NO_TLS: `${url.href}${url.search ? "&" : "?"}sslmode=disable`,
    HOST: url.hostname,
    PORT: url.port,
    DB: url.pathname.slice(1),
  };
  const result = await run(
    command,
    args.map((a) => values[a] ?? a),
    { cwd: dir },
  ).catch((error: { stdout: string; stderr: string }) => error);
  return `${result.stdout}\n${result.stderr}`;
}

describe("the drivers' own words, from the real drivers", () => {
  for (const driver of DRIVERS)
    it(`reads ${driver.name}'s 42703 and the 25P02 after it`, async () => {
      const printed = await stderrOf(driver);
      const read = readLog(`${driver.name}.log`, printed);
      const seen = read.errors.map((e) => [e.sqlstate, e.source]);
      expect(seen, printed).toEqual([
        ["42703", driver.source],
        ["25P02", driver.source],
      ]);
      expect(read.errors[0]?.message).toContain("credits_balance");
    }, 180_000);
});
