import { execFileSync } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeSharedData, sharedData } from "../../test/shared-data.ts";
import { exitCodeFor, PostgresFailedError } from "../errors.ts";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";
import {
  Databases,
  DriftFailedError,
  embeddedPostgres,
  loadSchema,
  type PostgresProvider,
  type ScenarioDatabase,
  type SchemaSource,
  type StartedPostgres,
  startEnvironment,
} from "./index.ts";

const SCHEMAS = path.join(PACKAGE_ROOT, "fixtures", "schemas");
let root: string;
let server: StartedPostgres;
const opened: Databases[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-schema-pg-"));
  // Postgres may run as another OS user (when we are root): it must reach the folder.
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  server = await embeddedPostgres.start();
});

afterAll(async () => {
  for (const databases of opened) await databases.close();
  await server?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(root, { recursive: true, force: true });
});

const bySource = new Map<string, Databases>();

/** One Databases per source: like a run, which has one per server. */
async function databasesFor(source: SchemaSource): Promise<Databases> {
  const key = JSON.stringify(source);
  let databases = bySource.get(key);
  if (!databases) {
    databases = new Databases(server, await loadSchema(source));
    bySource.set(key, databases);
    opened.push(databases);
  }
  return databases;
}

/** `schema.table` of every user table, sorted. */
async function tables(db: ScenarioDatabase): Promise<string[]> {
  const r = await db.query<{ t: string }>(
    `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'
      ORDER BY 1`,
  );
  return r.rows.map((row) => row.t);
}

async function columns(db: ScenarioDatabase, schema: string, table: string): Promise<string[]> {
  const r = await db.query<{ c: string }>(
    "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    [schema, table],
  );
  return r.rows.map((row) => row.c);
}

async function scratchCopy(layout: string, name: string): Promise<string> {
  const dir = path.join(root, name);
  await cp(path.join(SCHEMAS, layout), dir, { recursive: true });
  return dir;
}

describe("each layout on a real Postgres", () => {
  it("drizzle-kit: every journal entry, sections whole, stop by number or name", async () => {
    const dbs = await databasesFor({ migrations: path.join(SCHEMAS, "drizzle-kit") });
    const all = await dbs.create("drizzle", []);
    expect(await tables(all)).toEqual([
      "public.audit_events",
      "public.credit_grants",
      "public.memberships",
      "public.teams",
      "public.users",
    ]);
    expect(await columns(all, "public", "teams")).toContain("credits_balance");
    for (const stop of [1, "0000_teams_and_members", "0000", "0000_teams_and_members.sql"]) {
      const early = await dbs.create("drizzle early", [{ stopAtMigration: stop }]);
      expect(await tables(early), String(stop)).not.toContain("public.credit_grants");
      expect(await columns(early, "public", "teams")).not.toContain("credits_balance");
      await dbs.drop(early.name);
    }
    await dbs.drop(all.name);
  });

  it("prisma: quoted PascalCase tables, stop by folder name, drift keeps the case", async () => {
    const dbs = await databasesFor({ migrations: path.join(SCHEMAS, "prisma", "migrations") });
    const all = await dbs.create("prisma", [{ dropColumn: "User.creditsBalance" }]);
    expect(await tables(all)).toEqual([
      "public.CreditGrant",
      "public.Team",
      "public.User",
      "public.WebhookEvent",
    ]);
    expect(await columns(all, "public", "User")).not.toContain("creditsBalance");
    await expect(dbs.create("prisma lower", [{ dropColumn: "user.email" }])).rejects.toThrow(
      'drift[0]: relation "user" does not exist; did you mean public.User?',
    );
    const early = await dbs.create("prisma early", [
      { stopAtMigration: "20240215093000_add_credits" },
    ]);
    expect(await tables(early)).not.toContain("public.WebhookEvent");
    expect(await columns(early, "public", "User")).toContain("creditsBalance");
    await dbs.drop(all.name);
    await dbs.drop(early.name);
  });

  it("flyway: V1.10 after V1.2, the repeatable view last, stop at V1.1", async () => {
    const dbs = await databasesFor({ migrations: path.join(SCHEMAS, "flyway") });
    const all = await dbs.create("flyway", []);
    expect(await tables(all)).toEqual(["public.credit_grants", "public.teams", "public.users"]);
    expect(await columns(all, "public", "teams")).toContain("owner_id");
    expect(await columns(all, "public", "users")).toContain("stripe_customer_id");
    expect((await all.query("SELECT * FROM user_balances")).rowCount).toBe(0);
    const early = await dbs.create("flyway early", [{ stopAtMigration: "V1.1" }]);
    expect(await tables(early)).toEqual(["public.users"]);
    expect(await columns(early, "public", "users")).toContain("stripe_customer_id");
    const third = await dbs.create("flyway third", [{ stopAtMigration: 3 }]);
    expect(await tables(third)).toEqual(["public.teams", "public.users"]);
    expect(await columns(third, "public", "teams")).not.toContain("owner_id");
    for (const db of [all, early, third]) await dbs.drop(db.name);
  });

  it("golang-migrate: up files only, the DO $$ block whole, stop by version", async () => {
    const dbs = await databasesFor({ migrations: path.join(SCHEMAS, "golang-migrate") });
    const all = await dbs.create("golang", []);
    expect(await tables(all)).toEqual(["public.users", "public.webhook_events"]);
    expect(await columns(all, "public", "webhook_events")).toContain("status");
    expect(await columns(all, "public", "users")).toContain("credits_balance");
    const early = await dbs.create("golang early", [{ stopAtMigration: "2" }]);
    expect(await columns(early, "public", "users")).not.toContain("credits_balance");
    await dbs.drop(all.name);
    await dbs.drop(early.name);
  });

  it("dbmate: the up blocks run and the down blocks never do", async () => {
    const dbs = await databasesFor({
      migrations: path.join(SCHEMAS, "dbmate", "db", "migrations"),
    });
    const all = await dbs.create("dbmate", []);
    expect(await tables(all)).toEqual([
      "public.credit_grants",
      "public.users",
      "public.webhook_events",
    ]);
    // The trigger from the first migration's $$ body works.
    await all.query("INSERT INTO users (email) VALUES ('MiXed@Example.com')");
    expect((await all.query("SELECT email FROM users")).rows[0]?.email).toBe("mixed@example.com");
    const early = await dbs.create("dbmate early", [{ stopAtMigration: "20240101120000" }]);
    expect(await tables(early)).toEqual(["public.users"]);
    await dbs.drop(all.name);
    await dbs.drop(early.name);
  });

  it("pg_dump: a real dump with schemas, enums, functions, triggers, owners and grants", async () => {
    const dbs = await databasesFor({ schema: path.join(SCHEMAS, "pg_dump", "schema.sql") });
    const db = await dbs.create("pg_dump", []);
    expect(await tables(db)).toEqual([
      "auth.users",
      "billing.credit_grants",
      "billing.invoices",
      "public.webhook_events",
    ]);
    await db.query("INSERT INTO auth.users (email) VALUES ('a@example.com')");
    const invoice = await db.query<{ id: string; number: string }>(
      "INSERT INTO billing.invoices (user_id, status, amount_cents) VALUES (1, 'open', 4900) RETURNING id, number",
    );
    expect(invoice.rows[0]?.number).toBe("1000");
    await db.query(
      "INSERT INTO billing.credit_grants (invoice_id, user_id, credits) VALUES ($1, 1, 500)",
      [invoice.rows[0]?.id],
    );
    expect(
      (await db.query("SELECT billing.apply_credits($1) AS n", [invoice.rows[0]?.id])).rows[0]?.n,
    ).toBe(1);
    expect(
      (await db.query("SELECT credits_balance FROM auth.users")).rows[0]?.credits_balance,
    ).toBe(500);
    const owner = await db.query(
      "SELECT tableowner FROM pg_tables WHERE schemaname = 'billing' AND tablename = 'invoices'",
    );
    expect(owner.rows[0]?.tableowner).toBe("app_owner");
    await dbs.drop(db.name);
  });

  it("pg_dump: drift on schema-qualified names", async () => {
    const dbs = await databasesFor({ schema: path.join(SCHEMAS, "pg_dump", "schema.sql") });
    const db = await dbs.create("qualified drift", [
      { dropColumn: "billing.invoices.amount_cents" },
      { renameColumn: "auth.users.stripe_customer_id", to: "customer_ref" },
      { dropTable: "billing.credit_grants" },
    ]);
    expect(await columns(db, "billing", "invoices")).not.toContain("amount_cents");
    expect(await columns(db, "auth", "users")).toContain("customer_ref");
    expect(await tables(db)).not.toContain("billing.credit_grants");
    // CASCADE took the view that read the dropped column.
    expect((await db.query("SELECT to_regclass('billing.open_invoices') AS v")).rows[0]?.v).toBe(
      null,
    );
    await dbs.drop(db.name);
    await expect(
      dbs.create("wrong schema", [{ dropColumn: "invoices.amount_cents" }]),
    ).rejects.toThrow(
      'drift[0]: relation "invoices" does not exist; did you mean billing.invoices?',
    );
    await expect(dbs.create("wrong column", [{ dropColumn: "auth.users.mail" }])).rejects.toThrow(
      'drift[0]: column "mail" of relation "users" does not exist; auth.users has id, email, role, stripe_customer_id, credits_balance, created_at, updated_at',
    );
  });

  it("pg_dump 17.6 shape: \\restrict, \\connect and a quoted grantee", async () => {
    const dbs = await databasesFor({ schema: path.join(SCHEMAS, "pg_dump", "restrict-17.sql") });
    const db = await dbs.create("restrict", []);
    expect(await tables(db)).toEqual(["public.users"]);
    const grants = await db.query(
      "SELECT grantee FROM information_schema.role_table_grants WHERE table_name = 'users' AND privilege_type = 'SELECT' AND grantee = 'read-only'",
    );
    expect(grants.rowCount).toBe(1);
    await dbs.drop(db.name);
  });

  it("an unknown stopAtMigration names the migrations there are", async () => {
    const dbs = await databasesFor({ migrations: path.join(SCHEMAS, "flyway") });
    const error = await dbs
      .create("unknown", [{ dropTable: "teams" }, { stopAtMigration: "V9" }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriftFailedError);
    expect((error as DriftFailedError).index).toBe(1);
    expect((error as Error).message).toBe(
      'drift[1]: stopAtMigration: no migration named "V9"; known: V1__init.sql, V1.1__users_stripe_customer.sql, V1.2__teams.sql, V1.10__teams_owner.sql, V2_1__credits.sql, R__balances_view.sql',
    );
  });
});

describeSharedData(
  "drizzle-kit's own output on a real Postgres (nextjs/saas-starter's first migration)",
  ["drizzle-kit-saas-starter"],
  () => {
    it("applies on a real Postgres, and a migration of ours on top stops at its name", async () => {
      const real = sharedData("drizzle-kit-saas-starter");
      const dbs = await databasesFor({ migrations: real });
      const db = await dbs.create("saas-starter", []);
      expect(await tables(db)).toEqual([
        "public.activity_logs",
        "public.invitations",
        "public.team_members",
        "public.teams",
        "public.users",
      ]);
      const fks = await db.query(
        "SELECT 1 FROM information_schema.table_constraints WHERE constraint_type = 'FOREIGN KEY'",
      );
      expect(fks.rowCount).toBe(6);
      await dbs.drop(db.name);

      // A team's next migration, appended to drizzle-kit's journal as drizzle-kit would.
      const dir = path.join(root, "saas-starter-plus-one");
      await cp(real, dir, { recursive: true });
      await chmod(dir, 0o755);
      await chmod(path.join(dir, "meta"), 0o755);
      const journalFile = path.join(dir, "meta", "_journal.json");
      await chmod(journalFile, 0o644);
      const journal = JSON.parse(await readFile(journalFile, "utf8"));
      journal.entries.push({
        idx: 1,
        version: "7",
        when: 1764300000000,
        tag: "0001_team_seats",
        breakpoints: true,
      });
      await writeFile(journalFile, JSON.stringify(journal, null, 2));
      await writeFile(
        path.join(dir, "0001_team_seats.sql"),
        'ALTER TABLE "teams" ADD COLUMN "seats" integer DEFAULT 1 NOT NULL;',
      );
      const behind = await databasesFor({ migrations: dir });
      const current = await behind.create("current", []);
      expect(await columns(current, "public", "teams")).toContain("seats");
      const early = await behind.create("behind", [{ stopAtMigration: "0000_soft_the_anarchist" }]);
      expect(await columns(early, "public", "teams")).not.toContain("seats");
      expect(await columns(early, "public", "teams")).toContain("stripe_customer_id");
      await behind.drop(current.name);
      await behind.drop(early.name);
    });
  },
);

describe("a broken migration", () => {
  it("names the file, line:column, the section and Postgres's error (drizzle-kit)", async () => {
    const dir = await scratchCopy("drizzle-kit", "broken-drizzle");
    await writeFile(
      path.join(dir, "0001_team_credits.sql"),
      'ALTER TABLE "teams" ADD COLUMN "credits_balance" integer DEFAULT 0 NOT NULL;--> statement-breakpoint\nCREATE TABLE "credit_grants" (\n\t"id" serial PRIMARY KEY NOT NULL,\n\t"team_id" integr NOT NULL\n);\n',
    );
    const dbs = await databasesFor({ migrations: dir });
    const error = await dbs.template().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresFailedError);
    const message = (error as Error).message;
    expect(message).toContain(
      'migration 0001_team_credits.sql failed: type "integr" does not exist (SQLSTATE 42704)',
    );
    expect(message).toContain(
      `at ${path.join(dir, "0001_team_credits.sql")}:4:12 (section 2 of 2)`,
    );
    expect(message).toContain(
      '  statement: CREATE TABLE "credit_grants" (\n             \t"id" serial PRIMARY KEY NOT NULL,\n             \t"team_id" integr NOT NULL\n             );',
    );
  });

  it("points into a pg_dump file by its own line numbers, meta-commands and all", async () => {
    const file = path.join(root, "broken-dump.sql");
    const text = await readFile(path.join(SCHEMAS, "pg_dump", "schema.sql"), "utf8");
    await writeFile(
      file,
      text.replace("amount_cents integer NOT NULL", "amount_cents intger NOT NULL"),
    );
    const line = text.split("\n").findIndex((l) => l.includes("amount_cents integer NOT NULL")) + 1;
    const dbs = await databasesFor({ schema: file });
    const message = await dbs.template().then(
      () => "no error",
      (e: Error) => e.message,
    );
    expect(message).toContain('migration broken-dump.sql failed: type "intger" does not exist');
    expect(message).toContain(`at ${file}:${line}:18`);
  });

  it("reports an error raised inside a DO block with Postgres's own context", async () => {
    const dir = path.join(root, "broken-plain");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "001_a.sql"), "CREATE TABLE a (id int);\n");
    await writeFile(
      path.join(dir, "002_b.sql"),
      "-- comment\nDO $$\nBEGIN\n  PERFORM missing_function(1);\nEND;\n$$;\n",
    );
    const dbs = await databasesFor({ migrations: dir });
    const message = await dbs.template().then(
      () => "no error",
      (e: Error) => e.message,
    );
    expect(message).toContain(
      "migration 002_b.sql failed: function missing_function(integer) does not exist",
    );
    expect(message).toContain(`at ${path.join(dir, "002_b.sql")}`);
    expect(message).toMatch(/where: PL\/pgSQL function inline_code_block line 3 at PERFORM/);
  });
});

describe("a migrate command", () => {
  async function project(name: string, script: string): Promise<string> {
    const dir = path.join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "migrate.mjs"), script);
    return dir;
  }
  const pgModule = JSON.stringify(path.join(PACKAGE_ROOT, "node_modules", "pg", "lib", "index.js"));

  it("runs once against the template with DATABASE_URL and PG* set", async () => {
    const cwd = await project(
      "knex-like",
      `import pg from ${pgModule};
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
await client.query("CREATE TABLE migrated_by_command (id int, db text DEFAULT current_database())");
await client.query("INSERT INTO migrated_by_command (id) VALUES ($1)", [Number(process.env.PGPORT)]);
await client.end();
console.log("migrated", process.env.PGHOST, process.env.PGUSER, process.env.PGDATABASE);
`,
    );
    const dbs = await databasesFor({ migrate: "node migrate.mjs", cwd });
    const db = await dbs.create("command", []);
    expect(await tables(db)).toEqual(["public.migrated_by_command"]);
    const row = (await db.query("SELECT id, db FROM migrated_by_command")).rows[0];
    expect(row?.id).toBe(server.port);
    expect(row?.db).toMatch(/^faultline_template_/);
    await expect(dbs.create("command stop", [{ stopAtMigration: 1 }])).rejects.toThrow(
      /stopAtMigration needs migration files; this schema comes from a migrate command/,
    );
    await dbs.drop(db.name);
  });

  // CI installs Debian's psycopg2 (.ci/run): there the test must run, not skip.
  it.skipIf(!hasPsycopg2() && !process.env.CI)(
    "serves a Python migration through DATABASE_URL (psycopg2)",
    async () => {
      const cwd = path.join(root, "python-project");
      await mkdir(cwd, { recursive: true });
      await writeFile(
        path.join(cwd, "migrate.py"),
        'import os, psycopg2\nconn = psycopg2.connect(os.environ["DATABASE_URL"])\nconn.cursor().execute("CREATE TABLE from_python (id serial PRIMARY KEY)")\nconn.commit()\n',
      );
      const dbs = await databasesFor({ migrate: "/usr/bin/python3 migrate.py", cwd });
      const db = await dbs.create("python", []);
      expect(await tables(db)).toEqual(["public.from_python"]);
      await dbs.drop(db.name);
    },
  );

  it("shows the command's output when it fails", async () => {
    const cwd = await project(
      "failing",
      'console.log("connecting…");\nconsole.error("relation \\"x\\" does not exist");\nprocess.exit(4);\n',
    );
    const dbs = await databasesFor({ migrate: "node migrate.mjs", cwd });
    const error = await dbs.template().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresFailedError);
    expect((error as Error).message).toMatch(
      /^migrate command failed \(exit 4\): node migrate\.mjs\n {2}in .*failing with DATABASE_URL=postgresql:\/\/postgres@127\.0\.0\.1:\d+\/faultline_template_\w+\n--- last 2 lines of its output ---\nconnecting…\nrelation "x" does not exist$/,
    );
  });
});

describe("a migrate command that exits 0 having done nothing", () => {
  it("stops the run (exit 3) when it swallowed its error and created no table", async () => {
    const dir = path.join(root, "swallowing");
    await mkdir(dir, { recursive: true });
    // The shape of a library migrator: the error is logged, the promise resolves, exit 0.
    await writeFile(
      path.join(dir, "migrate.mjs"),
      `import pg from ${JSON.stringify(path.join(PACKAGE_ROOT, "node_modules", "pg", "lib", "index.js"))};
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
try {
  await client.query("CREATE TABLE stripe.products (id text PRIMARY KEY)");
} catch (error) {
  console.error("migration 0001_products.sql failed:", error.message);
}
await client.end();
`,
    );
    const dbs = await databasesFor({ migrate: "node migrate.mjs", cwd: dir });
    const error = await dbs.template().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PostgresFailedError);
    expect(exitCodeFor(error)).toBe(3);
    const message = (error as Error).message;
    expect(message).toMatch(/^migrate command exited 0 but created no table: node migrate\.mjs/);
    expect(message).toContain('migration 0001_products.sql failed: schema "stripe" does not exist');
  });
});

function hasPsycopg2(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import psycopg2"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("template cache across runs", () => {
  let cacheDir: string;
  beforeAll(async () => {
    cacheDir = path.join(root, "cache");
    process.env.FAULTLINE_CLUSTER_CACHE = cacheDir;
  });
  afterAll(() => {
    delete process.env.FAULTLINE_CLUSTER_CACHE;
  });

  async function run(
    source: SchemaSource,
    options: { provider?: PostgresProvider; templateCache?: boolean } = {},
  ) {
    const lines: string[] = [];
    const started = Date.now();
    const env = await startEnvironment({
      schema: source,
      onProgress: (l) => lines.push(l),
      ...options,
    });
    const ms = Date.now() - started;
    return { env, lines, ms };
  }

  it("builds and saves on the first run, starts from the cache on the second, rebuilds on a change", async () => {
    const dir = await scratchCopy("flyway", "cached-flyway");
    const source = { migrations: dir };

    const first = await run(source);
    expect(first.env.templateCache).toBe("miss");
    expect(first.lines).toEqual([
      expect.stringMatching(/^flyway migrations: 6 files in /),
      "no cached template for this schema: building it",
    ]);
    // The server restarted after the save: everything still works through the new port.
    const db1 = await first.env.databases.create("after save", []);
    expect(await tables(db1)).toEqual(["public.credit_grants", "public.teams", "public.users"]);
    await first.env.stop();

    const secondStarted = new Date();
    const second = await run(source);
    expect(second.env.templateCache).toBe("hit");
    expect(second.lines[1]).toBe("template restored from the cache: no migration ran");
    const db2 = await second.env.databases.create("from cache", []);
    expect(await tables(db2)).toEqual(["public.credit_grants", "public.teams", "public.users"]);
    // An earlier template is still built from the files, on top of the restored cluster.
    const early = await second.env.databases.create("early from cache", [
      { stopAtMigration: "V1.1" },
    ]);
    expect(await tables(early)).toEqual(["public.users"]);
    // The cached data dir carries no server log over: the oracle sees only this run's entries
    // (the first run's start-up probes logged "starting up" errors too).
    const log = second.env.server.serverLog;
    if (!log) throw new Error("the embedded server has a log");
    await log.sync(async (marker) => {
      await db2.query(`DO $$BEGIN RAISE LOG '${marker}'; END$$`);
    });
    const logged = log.errors();
    expect(logged.filter((e) => e.at < secondStarted)).toEqual([]);
    await second.env.stop();

    const changed = path.join(dir, "V2_1__credits.sql");
    await writeFile(
      changed,
      `${await readFile(changed, "utf8")}\nALTER TABLE users ADD COLUMN note text;\n`,
    );
    const third = await run(source);
    expect(third.env.templateCache).toBe("miss");
    expect(third.lines[1]).toBe("schema changed since the cached template: rebuilding");
    const db3 = await third.env.databases.create("changed", []);
    expect(await columns(db3, "public", "users")).toContain("note");
    await third.env.stop();
    console.log(
      `template cache: first run (initdb, migrate, save) ${first.ms} ms; second run (hit) ${second.ms} ms; after a change (migrate, save) ${third.ms} ms`,
    );
    expect(second.ms).toBeLessThan(first.ms);
    expect(second.ms).toBeLessThan(third.ms);

    // The changed schema replaced its older entry: one entry for this folder.
    const entries = (await readdir(cacheDir)).filter((n) => n.startsWith("template-"));
    expect(entries).toHaveLength(1);

    const fourth = await run(source);
    expect(fourth.env.templateCache).toBe("hit");
    await fourth.env.stop();
  });

  it("is off for a provider without snapshots, and when asked to be", async () => {
    // Stands for a container or URL provider: only the base interface.
    const bare: PostgresProvider = {
      name: "bare",
      async start(options) {
        const started = await embeddedPostgres.start({ ...options, dataSnapshot: undefined });
        return {
          host: started.host,
          port: started.port,
          user: started.user,
          version: started.version,
          serverLog: started.serverLog,
          oracle: started.oracle,
          urlFor: (db) => started.urlFor(db),
          stop: () => started.stop(),
          [Symbol.asyncDispose]: () => started.stop(),
        };
      },
    };
    const source = { migrations: path.join(SCHEMAS, "golang-migrate") };
    const viaBare = await run(source, { provider: bare });
    expect(viaBare.env.templateCache).toBe("off");
    expect(viaBare.lines).toHaveLength(1);
    await viaBare.env.stop();
    const refused = await run(source, { templateCache: false });
    expect(refused.env.templateCache).toBe("off");
    await refused.env.stop();
  });
});
