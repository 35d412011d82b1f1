import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresFailedError, UnsafeDatabaseError } from "../errors.ts";
import {
  embeddedPostgres,
  resolvePostgresProvider,
  type StartedPostgres,
  startEnvironment,
} from "./index.ts";

// The "existing server" is one this test starts itself, holding a database faultline must
// never touch.
let root: string;
let existing: StartedPostgres;
let admin: pg.Client;

async function databases(): Promise<string[]> {
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database ORDER BY datname",
  );
  return rows.map((r) => r.datname);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-url-test-"));
  await chmod(root, 0o755);
  existing = await embeddedPostgres.start({ tmpRoot: root });
  admin = new pg.Client({ connectionString: existing.urlFor("postgres") });
  await admin.connect();
  await admin.query("CREATE DATABASE keepme");
  const keep = new pg.Client({ connectionString: existing.urlFor("keepme") });
  await keep.connect();
  await keep.query("CREATE TABLE precious (id int PRIMARY KEY, note text)");
  await keep.query("INSERT INTO precious VALUES (1, 'still here')");
  await keep.end();
});

afterAll(async () => {
  await admin?.end();
  await existing?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("url: an existing server", () => {
  it("runs a whole environment on it and leaves its other databases alone", async () => {
    const before = await databases();
    const provider = resolvePostgresProvider(`url:${existing.urlFor("keepme")}`);
    const env = await startEnvironment({ provider });
    expect(env.server.oracle).toBe("proxy trace only");
    expect(env.server.serverLog).toBeUndefined();
    expect(env.postgres).toMatch(/^url Postgres 18\.\d+ on 127\.0\.0\.1:\d+$/);
    const prefix = env.server.databasePrefix as string;
    expect(prefix).toMatch(/^faultline_[0-9a-f]{8}_$/);

    const db = await env.databases.create("url scenario", []);
    // Every database the run made, template included, carries the run's prefix.
    const during = (await databases()).filter((d) => !before.includes(d));
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (const name of during) expect(name.startsWith(prefix)).toBe(true);
    expect(db.name.startsWith(prefix)).toBe(true);
    await db.query("INSERT INTO users (email) VALUES ('a@example.com')");
    await env.databases.drop(db.name);
    // What a crashed scenario leaves behind under the run's prefix, and a look-alike that is
    // someone else's: stop() drops the first and never the second.
    await admin.query(`CREATE DATABASE ${prefix}leftover`);
    await admin.query(`ALTER DATABASE ${prefix}leftover WITH IS_TEMPLATE true`);
    await admin.query("CREATE DATABASE faultline_ffffffff_other_run");
    await env.stop();

    const after = await databases();
    expect(after.filter((d) => d.startsWith(prefix))).toEqual([]);
    expect(after).toContain("faultline_ffffffff_other_run");
    for (const name of before) expect(after).toContain(name);
    const keep = new pg.Client({ connectionString: existing.urlFor("keepme") });
    await keep.connect();
    expect((await keep.query("SELECT note FROM precious")).rows).toEqual([{ note: "still here" }]);
    await keep.end();
    // The server itself still runs.
    expect((await admin.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("refuses a server off this machine without connecting to it", () => {
    const started = Date.now();
    expect(() => resolvePostgresProvider("url:postgres://10.1.2.3/x")).toThrow(UnsafeDatabaseError);
    // A connection attempt to an unroutable address would take seconds, not microseconds.
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("fails as infrastructure (exit 3) when the server does not answer", async () => {
    const provider = resolvePostgresProvider("url:postgres://postgres@127.0.0.1:9/x");
    await expect(provider.start()).rejects.toBeInstanceOf(PostgresFailedError);
    await expect(provider.start()).rejects.toThrow(
      /cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:9\/x/,
    );
  });
});
