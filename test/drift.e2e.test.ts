import { execFile } from "node:child_process";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePostgresProvider, type StartedPostgres } from "../harness/postgres/index.ts";
import { processesTagged, ROOT, runCli, startCli } from "./cli.ts";
import { describeSharedData, sharedData } from "./shared-data.ts";

const run = promisify(execFile);

// Production is a real database dumped by a real pg_dump: Debian's pg_dump 15 refuses a newer
// server and the embedded package ships none, so production runs on the harness's embedded
// Postgres 15 (fetched once into the cache, as `faultline postgres fetch 15` does).
const PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump";

let root: string;
let production: StartedPostgres;
let admin: pg.Client;
let migrations: string;
let databaseCount = 0;

/** The bundled payments migrations and one plain index, as a team's folder would add it. */
async function paymentsWithIndex(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const file of await readdir(path.join(ROOT, "fixtures", "schema")))
    await copyFile(path.join(ROOT, "fixtures", "schema", file), path.join(dir, file));
  await writeFile(
    path.join(dir, "003_credit_grants_user_index.sql"),
    "CREATE INDEX credit_grants_user_id_idx ON credit_grants (user_id);\n",
  );
}

/** A production database: the migrations' SQL files, then `drift`; returns its name. */
async function productionDatabase(dir: string, drift: string[]): Promise<string> {
  const name = `prod_${++databaseCount}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const client = new pg.Client({ connectionString: production.urlFor(name) });
  await client.connect();
  try {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort())
      await client.query(await readFile(path.join(dir, file), "utf8"));
    for (const sql of drift) await client.query(sql);
  } finally {
    await client.end();
  }
  return name;
}

/** `pg_dump --schema-only` of one production database into a file. */
async function dump(database: string): Promise<string> {
  const file = path.join(root, `${database}.sql`);
  await run(PG_DUMP, [
    "--schema-only",
    "-h",
    production.host,
    "-p",
    String(production.port),
    "-U",
    production.user,
    "-f",
    file,
    database,
  ]);
  return file;
}

function differences(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l && !l.startsWith("faultline:") && !l.startsWith("production "));
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-drift-e2e-"));
  await chmod(root, 0o755);
  production = await resolvePostgresProvider("embedded:15").start({ tmpRoot: root });
  admin = new pg.Client({ connectionString: production.urlFor("postgres") });
  await admin.connect();
  migrations = path.join(root, "migrations");
  await paymentsWithIndex(migrations);
}, 120_000);

afterAll(async () => {
  await admin?.end();
  await production?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("faultline drift --production", () => {
  it("finds the missing column, then the missing index, in a real pg_dump; writes an axis run and gate accept", async () => {
    const database = await productionDatabase(migrations, [
      "ALTER TABLE users DROP COLUMN credits_balance",
      "DROP INDEX credit_grants_user_id_idx",
    ]);
    const file = await dump(database);
    expect(await readFile(file, "utf8")).toMatch(/^-- Dumped by pg_dump version 15\./m);
    const axis = path.join(root, "production-schema.ts");
    const json = path.join(root, "drift.json");
    const started = performance.now();
    const result = await runCli([
      "drift",
      "--production",
      file,
      "--migrations",
      migrations,
      "--write",
      axis,
      "--json",
      json,
    ]);
    const seconds = (performance.now() - started) / 1000;
    expect(result.code, result.stderr + result.stdout).toBe(1);
    expect(differences(result.stdout)).toEqual([
      "users.credits_balance: missing in production",
      "index credit_grants_user_id_idx on credit_grants (btree (user_id)): missing in production",
    ]);
    expect(result.stdout).toMatch(/production differs from the migrations: 2 difference\(s\)/);
    console.log(`drift --production (pg_dump file, CLI start to exit): ${seconds.toFixed(2)}s`);
    const report = JSON.parse(await readFile(json, "utf8"));
    expect(report).toMatchObject({ command: "drift", matches: false });
    expect(
      report.differences.map((d: { kind: string; change: string }) => `${d.change} ${d.kind}`),
    ).toEqual(["missing column", "missing index"]);
    const written = await readFile(axis, "utf8");
    expect(written).toContain('dropColumn("users.credits_balance")');
    expect(written).toContain('{ sql: "DROP INDEX IF EXISTS \\"credit_grants_user_id_idx\\"" }');

    // The axis is written once: a second run never overwrites it.
    const again = await runCli(["drift", "--production", file, "--write", axis]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--write .*production-schema\.ts: the file exists/);

    // A scenario spreads the axis into its matrix: the production cell has production's
    // schema (the pre-hotfix service cascades there), the migrations cell the full one.
    const scenario = path.join(root, "production.scenario.ts");
    await writeFile(
      scenario,
      `import { defineScenario, noCascade, processingContinues, webhook } from "faultline";
import productionSchema from "./production-schema.ts";

export default defineScenario({
  name: "payments-on-production-schema",
  matrix: { ...productionSchema },
  seed: { users: [{ email: "known@example.com", stripe_customer_id: "cus_Known01" }] },
  webhooks: [
    webhook("checkout.session.completed", { customer: "cus_Known01", email: "known@example.com", credits: "500" }),
    webhook("checkout.session.completed", { customer: "cus_Known01", email: "known@example.com", credits: "200" }),
  ],
  invariants: [noCascade(), processingContinues()],
});
`,
    );
    const fixed = await runCli([
      "run",
      scenario,
      "--migrations",
      migrations,
      "--service",
      "payments:fixed",
    ]);
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(/PASS {2}payments-on-production-schema .*schema: production/);
    expect(fixed.stdout).toMatch(/PASS {2}payments-on-production-schema .*schema: migrations/);
    // gate proves a fix on both schemas: the pre-hotfix service cascades on production's and
    // the hotfixed one passes there; both pass on the migrations'.
    const gateJson = path.join(root, "gate.json");
    const gate = await runCli([
      "gate",
      scenario,
      "--migrations",
      migrations,
      "--baseline",
      "payments:broken",
      "--candidate",
      "payments:fixed",
      "--json",
      gateJson,
    ]);
    expect(gate.code, gate.stdout + gate.stderr).toBe(0);
    const gated = JSON.parse(await readFile(gateJson, "utf8"));
    expect(gated.scenarios[0].outcome).toBe("proves the fix");
    expect(
      gated.scenarios[0].cells.map((c: { cell: unknown; outcome: string }) => [c.cell, c.outcome]),
    ).toEqual([
      [{ schema: "production" }, "proves the fix"],
      [{ schema: "migrations" }, "does not reproduce"],
    ]);
  });

  it("says production matches when it does (exit 0)", async () => {
    const file = await dump(await productionDatabase(migrations, []));
    const result = await runCli(["drift", "--production", file, "--migrations", migrations]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(differences(result.stdout)).toEqual([]);
    expect(result.stdout).toMatch(/production matches the migrations \(3 table\(s\) compared/);
  });

  it("reads a url: production in one read-only transaction of catalog SELECTs", async () => {
    const database = await productionDatabase(migrations, [
      "ALTER TABLE users DROP COLUMN credits_balance",
    ]);
    // The server logs every statement of that database: what drift sent is on record.
    await admin.query(`ALTER DATABASE ${database} SET log_statement = 'all'`);
    const url = production.urlFor(database);
    const result = await runCli([
      "drift",
      "--production",
      `url:${url}`,
      "--migrations",
      migrations,
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(1);
    expect(differences(result.stdout)).toEqual(["users.credits_balance: missing in production"]);
    const log = production.serverLog;
    if (!log) throw new Error("the embedded server has a log");
    await log.refresh();
    const statements = log.entries
      .filter((e) => e.dbname === database && e.application_name === "faultline drift")
      .map((e) => e.message.replace(/^statement: /, "").trim());
    expect(statements[0]).toBe("BEGIN TRANSACTION READ ONLY");
    expect(statements.at(-1)).toBe("ROLLBACK");
    for (const statement of statements.slice(1, -1)) expect(statement).toMatch(/^SELECT /);
    expect(statements.length).toBeGreaterThan(3);
  });

  it("leaves no process and no temp dir behind, when it ends and when Ctrl-C stops it", async () => {
    const file = await dump(await productionDatabase(migrations, []));
    for (const interrupt of [false, true]) {
      const tmp = await mkdtemp(path.join(root, "tmp-"));
      await chmod(tmp, 0o755);
      const tag = `drift-${process.pid}-${Date.now()}`;
      const started = startCli(["drift", "--production", file, "--migrations", migrations], {
        FAULTLINE_TMPDIR: tmp,
        FAULTLINE_TEST_TAG: tag,
        FAULTLINE_CLUSTER_CACHE: "off",
      });
      if (interrupt) {
        // Postgres has started (initdb and the server are processes of the run's own).
        const deadline = Date.now() + 20_000;
        while (processesTagged("FAULTLINE_TEST_TAG", tag).length < 2 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
        started.child.kill("SIGINT");
      }
      const result = await started.done;
      expect(result.code, result.stderr).toBe(interrupt ? 130 : 0);
      expect(processesTagged("FAULTLINE_TEST_TAG", tag)).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    }
  });

  it("refuses a url: production off this machine without --allow-remote, before connecting", async () => {
    const started = Date.now();
    const result = await runCli(["drift", "--production", "url:postgres://reader@10.1.2.3/app"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refusing Postgres at 10\.1\.2\.3 .*--allow-remote/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("bad input: no --production, a missing file, a file that is not SQL (exit 2, naming it)", async () => {
    const none = await runCli(["drift"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--production is required/);
    const unknown = await runCli(["drift", "--production", "x.sql", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--bogus/);
    const missing = await runCli(["drift", "--production", path.join(root, "nope.sql")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--production .*nope\.sql: no such file/);
    const notSql = path.join(root, "notes.sql");
    await writeFile(notSql, "these are meeting notes, not a schema\n");
    const refused = await runCli(["drift", "--production", notSql]);
    expect(refused.code, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/--production .*notes\.sql: not a schema that loads/);
    expect(refused.stderr).toMatch(/syntax error at or near "these"/);
    expect(refused.stderr).toMatch(/notes\.sql:1:1/);
  });
});

describeSharedData(
  "drift --production with a team's real migrations",
  ["drizzle-kit-saas-starter"],
  () => {
    it("compares nextjs/saas-starter's drizzle-kit migrations with a dump lacking a column", async () => {
      const folder = sharedData("drizzle-kit-saas-starter");
      const sql = await readFile(path.join(folder, "0000_soft_the_anarchist.sql"), "utf8");
      const name = `prod_${++databaseCount}`;
      await admin.query(`CREATE DATABASE ${name}`);
      const client = new pg.Client({ connectionString: production.urlFor(name) });
      await client.connect();
      try {
        for (const section of sql.split("--> statement-breakpoint")) await client.query(section);
        await client.query("ALTER TABLE activity_logs DROP COLUMN ip_address");
      } finally {
        await client.end();
      }
      const file = await dump(name);
      const result = await runCli(["drift", "--production", file, "--migrations", folder]);
      expect(result.code, result.stderr + result.stdout).toBe(1);
      expect(differences(result.stdout)).toEqual([
        "activity_logs.ip_address: missing in production",
      ]);
    });
  },
);
