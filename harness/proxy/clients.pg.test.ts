import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScenarioDatabase } from "../postgres/index.ts";
import { type StartedProxy, startProxy } from "./index.ts";
import {
  cancelRequestPacket,
  eventually,
  query,
  RawClient,
  type RunResult,
  run,
  startTestPostgres,
  startupMessage,
  type TestPostgres,
} from "./testing/index.ts";

const PSQL = "/usr/bin/psql";
const PGBENCH = "/usr/bin/pgbench";

let pgTest: TestPostgres;
let db: ScenarioDatabase;
let proxy: StartedProxy;
let directPort: number;
let workDir: string;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  db = await pgTest.env.databases.create("proxy clients", []);
  directPort = pgTest.env.server.port;
  proxy = await startProxy({ upstream: { host: pgTest.env.server.host, port: directPort } });
  workDir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-clients-"));
});

afterAll(async () => {
  await proxy?.stop();
  await pgTest?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function withClient<T>(
  port: number,
  use: (client: pg.Client) => Promise<T>,
  config: pg.ClientConfig = {},
): Promise<T> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: db.name,
    ...config,
  });
  client.on("error", () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The parts of a pg result that must not depend on the path the bytes took. */
function shape(result: pg.QueryResult | pg.QueryResult[]): unknown {
  const one = (r: pg.QueryResult) => ({
    command: r.command,
    rowCount: r.rowCount,
    fields: r.fields.map((f) => [f.name, f.dataTypeID, f.format]),
    rows: r.rows,
  });
  return Array.isArray(result) ? result.map(one) : one(result);
}

/** Run the same work directly and through the proxy; both answers. */
async function both<T>(use: (client: pg.Client) => Promise<T>): Promise<[T, T]> {
  const direct = await withClient(directPort, use);
  const proxied = await withClient(proxy.port, use);
  return [direct, proxied];
}

function psql(
  port: number,
  args: string[],
  input?: string,
  env?: Record<string, string>,
): Promise<RunResult> {
  return run(
    PSQL,
    [
      "-X",
      "-w",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      db.name,
      "-v",
      "ON_ERROR_STOP=1",
      ...args,
    ],
    { input, env },
  );
}

/** Run psql the same way direct and through the proxy; both must succeed with equal output. */
async function psqlBoth(args: string[], input?: string): Promise<string> {
  const direct = await psql(directPort, args, input);
  const proxied = await psql(proxy.port, args, input);
  expect(direct.code, direct.stderr).toBe(0);
  expect(proxied.code, proxied.stderr).toBe(0);
  expect(proxied.stdout).toBe(direct.stdout);
  expect(proxied.stderr).toBe(direct.stderr);
  return proxied.stdout;
}

describe("node-postgres through the proxy", () => {
  it("simple queries give the same results as direct", async () => {
    const queries = [
      "SELECT 1 AS one, 'ünïcødé ✓' AS text, NULL::int AS nothing, 1.50::numeric AS n, true AS b",
      "SELECT '\\xdeadbeef'::bytea AS bytes, '{1,2,3}'::int[] AS arr, '{\"a\": [1, 2]}'::jsonb AS doc",
      "SELECT '2026-11-27 12:34:56+00'::timestamptz AS at, interval '1 day 2 hours' AS span",
      // Larger than one TCP read: the proxy must frame across chunks.
      "SELECT g AS n, md5(g::text) AS h, repeat('x', g % 200) AS pad FROM generate_series(1, 20000) g",
      "SELECT 1 AS a; SELECT 2 AS b; VALUES (3), (4)",
      "",
      "CREATE TEMP TABLE t (a int); INSERT INTO t SELECT generate_series(1, 5); UPDATE t SET a = a + 1 WHERE a > 2; DELETE FROM t WHERE a = 1",
    ];
    for (const sql of queries) {
      const [direct, proxied] = await both(async (c) => shape(await c.query(sql)));
      expect(proxied, sql).toEqual(direct);
    }
  });

  it("an error from the server reads the same as direct", async () => {
    const [direct, proxied] = await both(async (c) => {
      const error = await c.query("SELECT 1/0").catch((e: pg.DatabaseError) => e);
      const after = await c.query("SELECT 'fine' AS ok");
      return { error: { ...(error as pg.DatabaseError) }, after: after.rows };
    });
    expect(proxied).toEqual(direct);
    expect(direct.error.code).toBe("22012");
  });

  it("parameterised (extended protocol) queries, unnamed and named, give the same results", async () => {
    const [direct, proxied] = await both(async (c) => {
      const out: unknown[] = [];
      out.push(
        shape(
          await c.query(
            "SELECT $1::int AS i, $2::text AS t, $3::bytea AS b, $4::jsonb AS j, $5::text AS n",
            [42, "ünï", Buffer.from([0, 1, 2, 255]), JSON.stringify({ a: 1 }), null],
          ),
        ),
      );
      for (let i = 0; i < 5; i++) {
        out.push(
          shape(await c.query({ name: "sq", text: "SELECT $1::int * $1::int AS sq", values: [i] })),
        );
      }
      out.push(shape(await c.query("SELECT g FROM generate_series(1, $1::int) g", [5000])));
      out.push(
        await c.query("SELECT $1::int", ["not a number"]).then(
          () => "no error",
          (e: pg.DatabaseError) => e.code,
        ),
      );
      out.push(shape(await c.query("SELECT $1::text AS after_error", ["ok"])));
      return out;
    });
    expect(proxied).toEqual(direct);
    expect(direct.at(-2)).toBe("22P02");
  });

  it("a transaction commits and rolls back as it does direct", async () => {
    await db.query("CREATE TABLE IF NOT EXISTS tx_items (id int PRIMARY KEY, via text)");
    await withClient(proxy.port, async (c) => {
      await c.query("BEGIN");
      await c.query("INSERT INTO tx_items VALUES ($1, 'proxy')", [1]);
      expect((await c.query("SELECT count(*)::int AS n FROM tx_items")).rows).toEqual([{ n: 1 }]);
      // Not visible to others until COMMIT.
      expect((await db.query("SELECT count(*)::int AS n FROM tx_items")).rows).toEqual([{ n: 0 }]);
      await c.query("COMMIT");
      await c.query("BEGIN");
      await c.query("INSERT INTO tx_items VALUES (2, 'proxy')");
      await c.query("SAVEPOINT s");
      await expect(c.query("INSERT INTO tx_items VALUES (1, 'dup')")).rejects.toMatchObject({
        code: "23505",
      });
      await c.query("ROLLBACK TO SAVEPOINT s");
      await c.query("INSERT INTO tx_items VALUES (3, 'proxy')");
      await c.query("ROLLBACK");
    });
    expect((await db.query("SELECT id FROM tx_items ORDER BY id")).rows).toEqual([{ id: 1 }]);
  });

  it("LISTEN/NOTIFY works both ways across the proxy", async () => {
    await withClient(proxy.port, async (listener) => {
      const received: { channel: string; payload?: string }[] = [];
      listener.on("notification", (n) => received.push({ channel: n.channel, payload: n.payload }));
      await listener.query("LISTEN fl_events");
      await withClient(directPort, (c) => c.query("NOTIFY fl_events, 'from direct'"));
      await withClient(proxy.port, (c) => c.query("SELECT pg_notify('fl_events', 'from proxy')"));
      expect(await eventually(() => received.length === 2)).toBe(true);
      expect(received).toEqual([
        { channel: "fl_events", payload: "from direct" },
        { channel: "fl_events", payload: "from proxy" },
      ]);
    });
  });

  it("passes notices through", async () => {
    const notices = await withClient(proxy.port, async (c) => {
      const seen: { message?: string; severity?: string; code?: string }[] = [];
      c.on("notice", (n) => seen.push({ message: n.message, severity: n.severity, code: n.code }));
      await c.query("DO $$BEGIN RAISE NOTICE 'x'; END$$");
      await c.query("DO $$BEGIN RAISE WARNING 'careful %', 1; END$$");
      return seen;
    });
    expect(notices).toEqual([
      { message: "x", severity: "NOTICE", code: "00000" },
      { message: "careful 1", severity: "WARNING", code: "01000" },
    ]);
  });

  it("reports the server's parameters (ParameterStatus) as direct", async () => {
    const [direct, proxied] = await both(async (c) =>
      (await c.query("SHOW server_version")).rows.concat(
        (await c.query("SHOW client_encoding")).rows,
      ),
    );
    expect(proxied).toEqual(direct);
  });
});

describe("psql through the proxy", () => {
  it("-Atc output is the same as direct", async () => {
    const out = await psqlBoth([
      "-Atc",
      "SELECT g, md5(g::text), 'ü' || g FROM generate_series(1, 3000) g",
    ]);
    expect(out.split("\n")[0]).toBe(`1|${"c4ca4238a0b923820dcc509a6f75849b"}|ü1`);
    await psqlBoth([
      "-Atc",
      "SELECT NULL, 1.5::numeric, '{1,2}'::int[], '{\"a\": 1}'::jsonb, now() IS NOT NULL",
    ]);
    await psqlBoth(["-Atc", "SELECT current_database(), current_user"]);
  });

  it("fails the same way on an error (exit 1, same message)", async () => {
    const direct = await psql(directPort, ["-Atc", "SELECT 1/0"]);
    const proxied = await psql(proxy.port, ["-Atc", "SELECT 1/0"]);
    expect(direct.code).toBe(1);
    expect(proxied.code).toBe(1);
    expect(proxied.stderr).toBe(direct.stderr);
    expect(proxied.stderr).toContain("division by zero");
  });

  it("COPY FROM STDIN and COPY TO STDOUT give the same table and output", async () => {
    const rows = Array.from(
      { length: 20_000 },
      (_, i) => `${i}\trow ${i} ${"ü".repeat(i % 7)}\t${i % 3 ? "\\N" : "x"}`,
    );
    const input = `COPY copy_in FROM STDIN;\n${rows.join("\n")}\n\\.\nSELECT count(*), sum(id) FROM copy_in;\n`;
    await db.query("CREATE TABLE copy_in (id int, label text, extra text)");
    const direct = await psql(directPort, ["-At", "-f", "-"], input);
    expect(direct.code, direct.stderr).toBe(0);
    const directCopy = await psql(directPort, [
      "-Atc",
      "COPY (SELECT * FROM copy_in ORDER BY id) TO STDOUT",
    ]);
    await db.query("TRUNCATE copy_in");
    const proxied = await psql(proxy.port, ["-At", "-f", "-"], input);
    expect(proxied.code, proxied.stderr).toBe(0);
    expect(proxied.stdout).toBe(direct.stdout);
    expect(proxied.stdout.trim()).toBe(`COPY 20000\n20000|${(19_999 * 20_000) / 2}`);
    const proxiedCopy = await psql(proxy.port, [
      "-Atc",
      "COPY (SELECT * FROM copy_in ORDER BY id) TO STDOUT",
    ]);
    expect(proxiedCopy.code, proxiedCopy.stderr).toBe(0);
    expect(proxiedCopy.stdout).toBe(directCopy.stdout);
    expect(proxiedCopy.stdout).toBe(`${rows.join("\n")}\n`);
  });

  it("\\copy to and from a file works as direct, and a failed \\copy leaves the session usable", async () => {
    await db.query("CREATE TABLE copy_file (id int, name text)");
    const csv = path.join(workDir, "in.csv");
    await writeFile(csv, Array.from({ length: 5000 }, (_, i) => `${i},"name, ${i}"`).join("\n"));
    const load = await psql(proxy.port, ["-c", `\\copy copy_file FROM '${csv}' CSV`]);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout.trim()).toBe("COPY 5000");
    const outProxied = path.join(workDir, "out-proxied.csv");
    const outDirect = path.join(workDir, "out-direct.csv");
    expect(
      (
        await psql(proxy.port, [
          "-c",
          `\\copy (SELECT * FROM copy_file ORDER BY id) TO '${outProxied}' CSV`,
        ])
      ).code,
    ).toBe(0);
    expect(
      (
        await psql(directPort, [
          "-c",
          `\\copy (SELECT * FROM copy_file ORDER BY id) TO '${outDirect}' CSV`,
        ])
      ).code,
    ).toBe(0);
    const proxiedText = await readFile(outProxied, "utf8");
    expect(proxiedText).toBe(await readFile(outDirect, "utf8"));
    expect(proxiedText.trim()).toBe((await readFile(csv, "utf8")).trim());
    // A bad row makes the server fail the COPY (CopyFail/ErrorResponse path); psql goes on.
    const bad = path.join(workDir, "bad.csv");
    await writeFile(bad, "1,ok\nnot-a-number,bad\n");
    const script = `\\copy copy_file FROM '${bad}' CSV\nSELECT count(*) FROM copy_file;\n`;
    const direct = await run(
      PSQL,
      [
        "-X",
        "-w",
        "-At",
        "-h",
        "127.0.0.1",
        "-p",
        String(directPort),
        "-U",
        "postgres",
        "-d",
        db.name,
        "-f",
        "-",
      ],
      { input: script },
    );
    const proxied = await run(
      PSQL,
      [
        "-X",
        "-w",
        "-At",
        "-h",
        "127.0.0.1",
        "-p",
        String(proxy.port),
        "-U",
        "postgres",
        "-d",
        db.name,
        "-f",
        "-",
      ],
      { input: script },
    );
    expect(proxied.stdout).toBe(direct.stdout);
    expect(proxied.stdout.trim()).toBe("5000");
    expect(proxied.stderr.replace(/psql:<stdin>:\d+: /g, "")).toBe(
      direct.stderr.replace(/psql:<stdin>:\d+: /g, ""),
    );
    expect(proxied.stderr).toContain("invalid input syntax for type integer");
  });

  it("sslmode=require is refused cleanly (the proxy speaks no TLS); prefer falls back to plain", async () => {
    const required = await psql(proxy.port, ["-Atc", "SELECT 1"], undefined, {
      PGSSLMODE: "require",
    });
    expect(required.code).not.toBe(0);
    expect(required.stderr).toMatch(/does not support SSL/);
    const preferred = await psql(proxy.port, ["-Atc", "SELECT 1"], undefined, {
      PGSSLMODE: "prefer",
      PGGSSENCMODE: "prefer",
    });
    expect(preferred.code, preferred.stderr).toBe(0);
    expect(preferred.stdout).toBe("1\n");
  });
});

describe("pgbench through the proxy", () => {
  const bench = (args: string[], timeoutMs = 60_000) =>
    run(
      PGBENCH,
      ["-h", "127.0.0.1", "-p", String(proxy.port), "-U", "postgres", ...args, db.name],
      { timeoutMs },
    );

  it("initialises (-i -s 1, client-side COPY) and runs -S in simple, extended and prepared modes", async () => {
    const init = await bench(["-i", "-s", "1", "-q"]);
    expect(init.code, init.stderr).toBe(0);
    const count = "SELECT count(*)::int AS n FROM pgbench_accounts";
    expect((await db.query(count)).rows).toEqual([{ n: 100_000 }]);
    for (const mode of ["simple", "extended", "prepared"]) {
      const result = await bench(["-n", "-S", "-c", "2", "-T", "2", "-M", mode]);
      expect(result.code, `${mode}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`query mode: ${mode}`);
      const processed = Number(
        /number of transactions actually processed: (\d+)/.exec(result.stdout)?.[1],
      );
      expect(processed, result.stdout).toBeGreaterThan(100);
      expect(result.stdout).toMatch(/number of failed transactions: 0 /);
    }
    expect(await withClient(proxy.port, async (c) => (await c.query(count)).rows)).toEqual([
      { n: 100_000 },
    ]);
    expect(await withClient(directPort, async (c) => (await c.query(count)).rows)).toEqual([
      { n: 100_000 },
    ]);
  });
});

describe("authentication passthrough", () => {
  // The embedded server trusts every local connection; these rules, put first in its own
  // pg_hba.conf, make it ask these two roles for passwords.
  beforeAll(async () => {
    await db.query(
      "SET password_encryption = 'md5'; CREATE ROLE fl_md5 LOGIN PASSWORD 'md5-secret'; " +
        "SET password_encryption = 'scram-sha-256'; CREATE ROLE fl_scram LOGIN PASSWORD 'scram-secret'",
    );
    const hbaFile = (await db.query<{ hba_file: string }>("SHOW hba_file")).rows[0]?.hba_file ?? "";
    const original = await readFile(hbaFile, "utf8");
    await writeFile(
      hbaFile,
      `host all fl_md5 127.0.0.1/32 md5\nhost all fl_scram 127.0.0.1/32 scram-sha-256\n${original}`,
    );
    await db.query("SELECT pg_reload_conf()");
    const asksForPassword = async () => {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: directPort,
        user: "fl_scram",
        database: db.name,
        password: "wrong",
      });
      client.on("error", () => {});
      const code = await client.connect().then(
        () => "connected",
        (e: { code?: string }) => e.code,
      );
      await client.end().catch(() => {});
      return code === "28P01";
    };
    expect(await eventually(asksForPassword, 10_000, 100)).toBe(true);
  });

  /** The first authentication request the server sends this role, through the proxy. */
  async function authRequest(user: string): Promise<{ code: number; body: Buffer } | undefined> {
    const raw = await RawClient.connect(proxy.port);
    try {
      raw.write(startupMessage({ user, database: db.name }));
      const message = await raw.next();
      if (message?.type !== "R") return undefined;
      return { code: message.body.readInt32BE(0), body: message.body };
    } finally {
      raw.destroy();
    }
  }

  it.each([
    ["md5", "fl_md5", "md5-secret", 5],
    ["SCRAM-SHA-256", "fl_scram", "scram-secret", 10],
  ])(
    "%s: the right password logs in through the proxy, a wrong one is refused",
    async (_method, user, password, requestCode) => {
      const request = await authRequest(user);
      expect(request?.code).toBe(requestCode);
      if (requestCode === 10) expect(request?.body.toString("latin1")).toContain("SCRAM-SHA-256");
      const who = await withClient(
        proxy.port,
        async (c) => (await c.query("SELECT current_user AS u")).rows,
        {
          user,
          password,
        },
      );
      expect(who).toEqual([{ u: user }]);
      const wrong = await withClient(proxy.port, async () => "connected", {
        user,
        password: "nope",
      }).catch((e: { code?: string }) => e.code);
      expect(wrong).toBe("28P01");
      // libpq's implementation too, via psql and PGPASSWORD.
      const viaPsql = await run(
        PSQL,
        [
          "-X",
          "-w",
          "-h",
          "127.0.0.1",
          "-p",
          String(proxy.port),
          "-U",
          user,
          "-d",
          db.name,
          "-Atc",
          "SELECT current_user",
        ],
        {
          env: { PGPASSWORD: password },
        },
      );
      expect(viaPsql.code, viaPsql.stderr).toBe(0);
      expect(viaPsql.stdout).toBe(`${user}\n`);
    },
  );

  it("a password-carrying connection string works through the proxy", async () => {
    const url = `postgres://fl_scram:${encodeURIComponent("scram-secret")}@127.0.0.1:${proxy.port}/${db.name}`;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    expect((await client.query("SELECT current_user AS u")).rows).toEqual([{ u: "fl_scram" }]);
    await client.end();
  });
});

describe("a client that vanishes", () => {
  it("reset mid-result: the backend stops as it would direct, not a second later", async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: db.name,
      application_name: "vanishing",
    });
    client.on("error", () => {});
    await client.connect();
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]
      ?.pid;
    void client.query("SELECT generate_series(1, 50000000) AS g, repeat('x', 100)").catch(() => {});
    const running = async () =>
      ((await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]))
        .rowCount ?? 0) > 0;
    expect(await eventually(running, 5000)).toBe(true);
    // The client's process dies: its socket is reset, no Terminate.
    (
      client as unknown as { connection: { stream: import("node:net").Socket } }
    ).connection.stream.resetAndDestroy();
    const gone = async () =>
      ((await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount ?? 0) ===
      0;
    // Direct, the backend is gone ~10 ms after the reset; the proxy used to end and drain the
    // upstream socket, which kept the query running until its 1 s timer cut it.
    expect(await eventually(gone, 500)).toBe(true);
  });
});

describe("flow control", () => {
  it("a client that stops reading holds the server back (backpressure), the proxy does not buffer the result", async () => {
    const raw = await RawClient.connect(proxy.port);
    try {
      raw.write(
        startupMessage({ user: "postgres", database: db.name, application_name: "slow-reader" }),
      );
      expect(await raw.until("Z")).toBeDefined();
      raw.socket.pause();
      // About 200 MB of rows: far more than the socket buffers on both sides hold.
      raw.write(query("SELECT g, repeat('x', 200) FROM generate_series(1, 1000000) g"));
      const blockedOnClient = async () => {
        const r = await db.query<{ state: string; wait_event: string | null }>(
          "SELECT state, wait_event FROM pg_stat_activity WHERE application_name = 'slow-reader'",
        );
        return r.rows[0]?.state === "active" && r.rows[0]?.wait_event === "ClientWrite";
      };
      expect(await eventually(blockedOnClient, 10_000, 50)).toBe(true);
      // And it stays blocked: a proxy that drained the server into its own memory would let it
      // run on (it finishes in about 3 s then), seen here as samples out of ClientWrite.
      const samples: boolean[] = [];
      for (let i = 0; i < 12; i++) {
        await new Promise((r) => setTimeout(r, 200));
        samples.push(await blockedOnClient());
      }
      expect(samples).toEqual(Array(12).fill(true));
    } finally {
      raw.destroy();
    }
  });
});

describe("faults seen by a real client and the server", () => {
  it("an sqlError inside BEGIN: the next statement gets 25P02 from the real server, ROLLBACK recovers", async () => {
    const faulty = await startProxy({
      upstream: { host: pgTest.env.server.host, port: directPort },
      rules: [
        {
          name: "drift",
          match: { sql: "credits_balance" },
          fault: {
            type: "sqlError",
            sqlstate: "42703",
            message: 'column "credits_balance" does not exist',
          },
        },
      ],
    });
    try {
      await withClient(
        faulty.port,
        async (c) => {
          await c.query("BEGIN");
          await expect(
            c.query("SELECT id, credits_balance FROM users WHERE stripe_customer_id = $1", [
              "cus_1",
            ]),
          ).rejects.toMatchObject({
            code: "42703",
          });
          await expect(
            c.query("SELECT id FROM users WHERE email = $1", ["a@b.c"]),
          ).rejects.toMatchObject({
            code: "25P02",
            message:
              "current transaction is aborted, commands ignored until end of transaction block",
          });
          await c.query("ROLLBACK");
          expect((await c.query("SELECT count(*)::int AS n FROM users")).rows).toEqual([{ n: 0 }]);
        },
        { application_name: "cascade-test" },
      );
    } finally {
      await faulty.stop();
    }
    const log = pgTest.env.server.serverLog;
    await log?.sync(async (marker) => {
      await db.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
    });
    const errors = (log?.errors({ database: db.name }) ?? []).filter(
      (e) => e.applicationName === "cascade-test",
    );
    expect(errors.map((e) => e.sqlstate)).toEqual(["42703", "25P02"]);
    // The first error was raised by the server itself, running the proxy's stand-in statement.
    expect(errors[0]?.statement).toMatch(/^DO /);
    expect(errors[1]?.statement).toBe("SELECT id FROM users WHERE email = $1");
    expect(errors[0]?.session).toBe(errors[1]?.session);
  });

  it("a CancelRequest through the proxy cancels pg_sleep(10) with 57014", async () => {
    await withClient(
      proxy.port,
      async (c) => {
        const key = c as unknown as { processID: number; secretKey: number };
        const backend = (await c.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]
          ?.pid;
        // The client holds the backend's real pid (pg_stat_activity and pg_terminate_backend name
        // it) with a secret of the proxy's.
        expect(key.processID).toBe(backend);
        const started = Date.now();
        const sleeping = c.query("SELECT pg_sleep(10)").then(
          () => "finished",
          (e: { code?: string }) => e.code,
        );
        const active = async () =>
          ((
            await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [
              backend,
            ])
          ).rowCount ?? 0) > 0;
        expect(await eventually(active, 5000)).toBe(true);
        // A wrong key is ignored, as Postgres ignores it.
        const wrong = await RawClient.connect(proxy.port);
        wrong.write(cancelRequestPacket(key.processID, (key.secretKey + 1) | 0));
        expect(await wrong.closedWithin(2000)).toBe(true);
        // The client's key sent straight to Postgres cancels nothing: the secret is the proxy's.
        const direct = await RawClient.connect(directPort);
        direct.write(cancelRequestPacket(key.processID, key.secretKey));
        expect(await direct.closedWithin(2000)).toBe(true);
        await new Promise((r) => setTimeout(r, 300));
        expect(await active()).toBe(true);
        const cancel = await RawClient.connect(proxy.port);
        cancel.write(cancelRequestPacket(key.processID, key.secretKey));
        expect(await cancel.closedWithin(2000)).toBe(true);
        expect(await sleeping).toBe("57014");
        expect(Date.now() - started).toBeLessThan(4000);
        expect((await c.query("SELECT 'still usable' AS s")).rows).toEqual([{ s: "still usable" }]);
      },
      { application_name: "cancel-test" },
    );
  });
});
