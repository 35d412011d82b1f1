import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnsafeDatabaseError } from "../errors.ts";
import { DEFAULT_MIGRATIONS_DIR, type RunEnvironment, startEnvironment } from "./index.ts";

let root: string;
let env: RunEnvironment;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-pg-test-"));
  // Postgres may run as another OS user (when we are root): it must reach the folder.
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  env = await startEnvironment({ migrationsDir: DEFAULT_MIGRATIONS_DIR });
});

afterAll(async () => {
  await env?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(root, { recursive: true, force: true });
});

async function columns(url: string, table: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
      [table],
    );
    return r.rows.map((row) => row.column_name);
  } finally {
    await client.end();
  }
}

describe("embedded Postgres", () => {
  it("serves on loopback, never as root, from a temp dir under the chosen root", async () => {
    expect(env.server.host).toBe("127.0.0.1");
    const entries = await readdir(root);
    expect(entries.some((e) => e.startsWith("faultline-pg-"))).toBe(true);
    const db = await env.databases.create("whoami", []);
    const pid = (await db.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    expect(uid).not.toBe("0");
    await env.databases.drop(db.name);
  });

  it("gives each scenario its own clone of the migrated template", async () => {
    const a = await env.databases.create("isolation a", []);
    const b = await env.databases.create("isolation b", []);
    await a.query("INSERT INTO users (email) VALUES ('only-in-a@example.com')");
    expect((await b.query("SELECT count(*)::int AS n FROM users")).rows[0]?.n).toBe(0);
    expect(await columns(a.url, "users")).toContain("credits_balance");
    await env.databases.drop(a.name);
    await env.databases.drop(b.name);
  });

  it("applies drift after the clone: a dropped column, a renamed one, an earlier migration", async () => {
    const dropped = await env.databases.create("drift", [
      { dropColumn: "users.credits_balance" },
      { renameColumn: "users.created_via", to: "origin" },
    ]);
    const cols = await columns(dropped.url, "users");
    expect(cols).not.toContain("credits_balance");
    expect(cols).toContain("origin");
    const early = await env.databases.create("early", [{ stopAtMigration: 1 }]);
    expect(await columns(early.url, "users")).not.toContain("credits_balance");
    await env.databases.drop(dropped.name);
    await env.databases.drop(early.name);
  });

  it("reads the errors the server raised from its own log", async () => {
    const db = await env.databases.create("oracle", [{ dropColumn: "users.credits_balance" }]);
    const client = new pg.Client({ connectionString: db.url, application_name: "oracle-test" });
    await client.connect();
    await client.query("BEGIN");
    await expect(client.query("SELECT credits_balance FROM users")).rejects.toThrow(
      /does not exist/,
    );
    await expect(client.query("SELECT 1")).rejects.toThrow(/current transaction is aborted/);
    await client.end();
    await env.server.serverLog?.sync(async (marker) => {
      await db.query(`DO $$BEGIN RAISE LOG '${marker}'; END$$`);
    });
    const errors = (env.server.serverLog?.errors({ database: db.name }) ?? []).filter(
      (e) => e.applicationName === "oracle-test",
    );
    expect(errors.map((e) => e.sqlstate)).toEqual(["42703", "25P02"]);
    expect(errors[0]?.statement).toBe("SELECT credits_balance FROM users");
    expect(errors[0]?.session).toBe(errors[1]?.session);
    await env.databases.drop(db.name);
  });

  it("refuses to drop a database it did not create", async () => {
    const admin = new pg.Client({ connectionString: env.server.urlFor("postgres") });
    await admin.connect();
    await admin.query("CREATE DATABASE not_faultlines");
    await expect(env.databases.drop("not_faultlines")).rejects.toBeInstanceOf(UnsafeDatabaseError);
    expect(
      (await admin.query("SELECT 1 FROM pg_database WHERE datname = 'not_faultlines'")).rowCount,
    ).toBe(1);
    await admin.end();
  });

  it("stops the server and removes its files", async () => {
    const before = new Set(await readdir(root));
    const other = await startEnvironment();
    const created = (await readdir(root)).filter((e) => !before.has(e));
    expect(created).toHaveLength(1);
    const port = other.server.port;
    await other.stop();
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "postgres",
      connectionTimeoutMillis: 1000,
    });
    await expect(client.connect()).rejects.toThrow();
    expect(existsSync(path.join(root, created[0] as string))).toBe(false);
  });
});
