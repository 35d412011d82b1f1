import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort, type ScenarioDatabase } from "../postgres/index.ts";
import {
  type FaultEvent,
  type RuleSpec,
  readTrace,
  type StartedProxy,
  startProxy,
  type TraceEntry,
} from "./index.ts";
import {
  bind,
  describeMessage,
  eventually,
  execute,
  fieldsOf,
  parse,
  RawClient,
  run,
  startTestPostgres,
  startupMessage,
  sync,
  type TestPostgres,
} from "./testing/index.ts";

let pgTest: TestPostgres;
let db: ScenarioDatabase;
let traceDir: string;
const clients: pg.Client[] = [];
const proxies: StartedProxy[] = [];

beforeAll(async () => {
  pgTest = await startTestPostgres();
  db = await pgTest.env.databases.create("proxy faults", []);
  await db.query("CREATE TABLE items (id int PRIMARY KEY, note text)");
  traceDir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-trace-"));
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => {});
  for (const p of proxies.splice(0)) await p.stop();
});

afterAll(async () => {
  await pgTest?.stop();
  if (traceDir) await rm(traceDir, { recursive: true, force: true });
});

interface Harness {
  proxy: StartedProxy;
  events: FaultEvent[];
  tracePath: string;
  /** Stop the proxy (which closes the trace) and read every trace line. */
  trace(): Promise<TraceEntry[]>;
}

let traces = 0;
async function proxyWith(rules: RuleSpec[], seed = 1): Promise<Harness> {
  const events: FaultEvent[] = [];
  const tracePath = path.join(traceDir, `trace-${++traces}.ndjson`);
  const proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
    rules,
    seed,
    tracePath,
    onFault: (e) => events.push(e),
  });
  proxies.push(proxy);
  return {
    proxy,
    events,
    tracePath,
    async trace() {
      for (const c of clients.splice(0)) await c.end().catch(() => {});
      await proxy.stop();
      const out: TraceEntry[] = [];
      for await (const e of readTrace(tracePath)) out.push(e);
      return out;
    },
  };
}

function newClient(port: number, config: pg.ClientConfig = {}): pg.Client {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: db.name,
    application_name: "faults-test",
    ...config,
  });
  // A cut connection is reported on the query; the client-level event must not crash the run.
  client.on("error", () => {});
  clients.push(client);
  return client;
}

async function connectTo(proxy: StartedProxy, config: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = newClient(proxy.port, config);
  await client.connect();
  return client;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected the statement to fail, but it succeeded");
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

async function rowExists(id: number): Promise<boolean> {
  return ((await db.query("SELECT 1 FROM items WHERE id = $1", [id])).rowCount ?? 0) > 0;
}

const missingColumn = {
  type: "sqlError",
  sqlstate: "42703",
  message: 'column "credits_balance" does not exist',
} as const;

describe("sqlError", () => {
  it("fails a simple-protocol statement with the SQLSTATE and message; the connection stays usable", async () => {
    const h = await proxyWith([
      { name: "drift", match: { sql: "FROM items" }, fault: missingColumn },
    ]);
    const client = await connectTo(h.proxy);
    const error = await failure(client.query("SELECT id FROM items"));
    expect(error.code).toBe("42703");
    expect(error.message).toBe('column "credits_balance" does not exist');
    expect((await client.query("SELECT 41 + 1 AS n")).rows).toEqual([{ n: 42 }]);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ rule: "drift", sql: "SELECT id FROM items" });
    expect(h.events[0]?.fault).toContain("42703");
  });

  it("fails an extended-protocol (parameterised) statement; unnamed and named statements both", async () => {
    const h = await proxyWith([
      { name: "drift", match: { sql: "FROM items WHERE" }, fault: missingColumn },
    ]);
    const client = await connectTo(h.proxy);
    const text = "SELECT id FROM items WHERE id = $1";
    expect((await failure(client.query(text, [1]))).code).toBe("42703");
    expect((await failure(client.query({ name: "by-id", text, values: [1] }))).code).toBe("42703");
    // Again with the prepared statement already parsed: Bind/Execute only.
    expect((await failure(client.query({ name: "by-id", text, values: [2] }))).code).toBe("42703");
    expect((await client.query("SELECT $1::int * 2 AS n", [21])).rows).toEqual([{ n: 42 }]);
    h.proxy.rules.remove("drift");
    await db.query("INSERT INTO items VALUES (900, 'named') ON CONFLICT DO NOTHING");
    expect((await client.query({ name: "by-id", text, values: [900] })).rows).toEqual([
      { id: 900 },
    ]);
    expect(h.events.map((e) => e.sql)).toEqual([text, text, text]);
  });

  it("inside BEGIN aborts the real transaction (25P02 next, in both protocols) until ROLLBACK", async () => {
    const h = await proxyWith([{ name: "drift", match: { sql: "credits" }, fault: missingColumn }]);
    const client = await connectTo(h.proxy);
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES (1, 'in aborted tx')");
    expect(
      (await failure(client.query("SELECT id AS credits FROM items WHERE id = $1", [1]))).code,
    ).toBe("42703");
    expect((await failure(client.query("SELECT 1"))).code).toBe("25P02");
    expect((await failure(client.query("SELECT $1::int", [1]))).code).toBe("25P02");
    await client.query("ROLLBACK");
    expect((await client.query("SELECT $1::int AS n", [7])).rows).toEqual([{ n: 7 }]);
    expect(await rowExists(1)).toBe(false);
  });

  it("answers a raw extended batch with exactly the messages the server sends for a real error", async () => {
    const h = await proxyWith([
      { name: "drift", match: { sql: "FROM items" }, fault: missingColumn },
    ]);
    const batch = (sql: string) =>
      Buffer.concat([parse("", sql), bind("", ""), describeMessage("P", ""), execute(), sync()]);
    // What Postgres itself sends when a statement fails at execution: 1 2 T E Z.
    const direct = await RawClient.connect(pgTest.env.server.port);
    const through = await RawClient.connect(h.proxy.port);
    try {
      for (const raw of [direct, through]) {
        raw.write(startupMessage({ user: "postgres", database: db.name }));
        expect(await raw.until("Z")).toBeDefined();
      }
      direct.write(batch("SELECT 1 / (random() * 0)::int"));
      through.write(batch("SELECT id FROM items"));
      const want = (await direct.until("Z"))?.map((m) => m.type);
      const got = await through.until("Z");
      expect(want).toEqual(["1", "2", "T", "E", "Z"]);
      expect(got?.map((m) => m.type)).toEqual(want);
      const error = fieldsOf(got?.find((m) => m.type === "E")?.body ?? Buffer.alloc(0));
      expect(error.C).toBe("42703");
      expect(got?.at(-1)?.body.toString()).toBe("I");
      // And nothing more arrives: no stray ParseComplete/BindComplete of the injected statement.
      expect(await through.next(200)).toBeUndefined();
      // A named statement with Bind/Execute/Sync only, as prepared-statement clients send it.
      through.write(Buffer.concat([parse("named", "SELECT id FROM items"), sync()]));
      expect((await through.until("Z"))?.map((m) => m.type)).toEqual(["1", "Z"]);
      through.write(Buffer.concat([bind("", "named"), execute(), sync()]));
      expect((await through.until("Z"))?.map((m) => m.type)).toEqual(["2", "E", "Z"]);
    } finally {
      direct.destroy();
      through.destroy();
    }
  });

  it("leaves the client's unnamed prepared statement as the client left it", async () => {
    // The protocol keeps the unnamed statement until the next Parse of "" or a simple Query, so a
    // client may Bind it again without re-parsing (libpq's PQprepare(conn, "", …) does).
    const h = await proxyWith([
      { name: "once", match: { sql: "SELECT 'unnamed'", nth: 1 }, fault: missingColumn },
    ]);
    const raw = await RawClient.connect(h.proxy.port);
    try {
      raw.write(startupMessage({ user: "postgres", database: db.name }));
      expect(await raw.until("Z")).toBeDefined();
      raw.write(Buffer.concat([parse("", "SELECT 'unnamed' AS v"), sync()]));
      expect((await raw.until("Z"))?.map((m) => m.type)).toEqual(["1", "Z"]);
      raw.write(Buffer.concat([bind("", ""), execute(), sync()]));
      expect((await raw.until("Z"))?.map((m) => m.type)).toEqual(["2", "E", "Z"]);
      // The rule fired once (nth: 1); the statement itself must run now.
      raw.write(Buffer.concat([bind("", ""), execute(), sync()]));
      const second = await raw.until("Z");
      expect(second?.map((m) => m.type)).toEqual(["2", "D", "C", "Z"]);
    } finally {
      raw.destroy();
    }
  });
});

describe("latency", () => {
  it("before: holds the statement, so the server runs it ms later", async () => {
    const h = await proxyWith([
      { name: "slow", match: { sql: "clock_timestamp" }, fault: { type: "latency", ms: 400 } },
    ]);
    const client = await connectTo(h.proxy);
    const sent = Date.now();
    const [result, ms] = await timed(() =>
      client.query<{ at: Date }>("SELECT clock_timestamp() AS at"),
    );
    expect(ms).toBeGreaterThanOrEqual(398);
    expect(ms).toBeLessThan(2000);
    const serverRanAfter = (result.rows[0]?.at.getTime() ?? 0) - sent;
    expect(serverRanAfter).toBeGreaterThanOrEqual(390);
    // Statements the rule does not match are not delayed.
    const [, fast] = await timed(() => client.query("SELECT 1"));
    expect(fast).toBeLessThan(200);
  });

  it("after: the server runs it at once, the reply is held", async () => {
    const h = await proxyWith([
      {
        name: "slow-reply",
        match: { sql: "clock_timestamp" },
        fault: { type: "latency", ms: 400, when: "after" },
      },
    ]);
    const client = await connectTo(h.proxy);
    const sent = Date.now();
    const [result, ms] = await timed(() =>
      client.query<{ at: Date }>("SELECT clock_timestamp() AS at"),
    );
    expect(ms).toBeGreaterThanOrEqual(398);
    expect(ms).toBeLessThan(2000);
    const serverRanAfter = (result.rows[0]?.at.getTime() ?? 0) - sent;
    expect(serverRanAfter).toBeLessThan(200);
  });

  it("delays extended-protocol statements too (before and after)", async () => {
    const h = await proxyWith([
      { name: "b", match: { sql: "'before'" }, fault: { type: "latency", ms: 300 } },
      { name: "a", match: { sql: "'after'" }, fault: { type: "latency", ms: 300, when: "after" } },
    ]);
    const client = await connectTo(h.proxy);
    const [r1, ms1] = await timed(() => client.query("SELECT 'before' AS w, $1::int AS n", [1]));
    const [r2, ms2] = await timed(() => client.query("SELECT 'after' AS w, $1::int AS n", [2]));
    expect(r1.rows).toEqual([{ w: "before", n: 1 }]);
    expect(r2.rows).toEqual([{ w: "after", n: 2 }]);
    expect(ms1).toBeGreaterThanOrEqual(298);
    expect(ms2).toBeGreaterThanOrEqual(298);
  });
});

describe("resetConnection", () => {
  it("before: the client sees the connection die and the statement never ran", async () => {
    const h = await proxyWith([
      { name: "cut", match: { kind: "INSERT" }, fault: { type: "resetConnection" } },
    ]);
    const client = await connectTo(h.proxy);
    const error = await failure(client.query("INSERT INTO items VALUES (10, 'never')"));
    expect(error.message).toMatch(/terminated|ECONNRESET|closed/i);
    expect(await rowExists(10)).toBe(false);
    // The proxy keeps serving new connections.
    const again = await connectTo(h.proxy);
    expect((await again.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    const trace = await h.trace();
    const cut = trace.find((e) => e.rule === "cut");
    expect(cut?.result).toEqual({ lost: true });
    expect(cut?.sql).toBe("INSERT INTO items VALUES (?, ?)");
  });

  it("after on COMMIT: the client sees a connection error, but the row IS committed", async () => {
    const h = await proxyWith([
      {
        name: "lost-ack",
        match: { kind: "COMMIT" },
        fault: { type: "resetConnection", when: "after" },
      },
    ]);
    const client = await connectTo(h.proxy);
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES (11, 'committed')");
    const error = await failure(client.query("COMMIT"));
    expect(error.message).toMatch(/terminated|ECONNRESET|closed/i);
    expect(await rowExists(11)).toBe(true);
    const trace = await h.trace();
    const commit = trace.find((e) => e.rule === "lost-ack");
    expect(commit?.result).toEqual({ tag: "COMMIT", rows: null });
    expect(commit?.tx).toBe("I");
  });

  it("after, in the extended protocol: the INSERT ran, the client never hears of it", async () => {
    const h = await proxyWith([
      {
        name: "cut-after",
        match: { sql: "INSERT INTO items" },
        fault: { type: "resetConnection", when: "after" },
      },
    ]);
    const client = await connectTo(h.proxy);
    const error = await failure(client.query("INSERT INTO items VALUES ($1, $2)", [12, "ext"]));
    expect(error.message).toMatch(/terminated|ECONNRESET|closed/i);
    expect(await eventually(() => rowExists(12), 2000)).toBe(true);
  });
});

describe("blackhole", () => {
  it("a client with a short query_timeout times out; other connections still work", async () => {
    const h = await proxyWith([
      { name: "hole", match: { sql: "'into the hole'" }, fault: { type: "blackhole" } },
    ]);
    const victim = await connectTo(h.proxy, { query_timeout: 500 });
    const bystander = await connectTo(h.proxy);
    const [error, ms] = await timed(() => failure(victim.query("SELECT 'into the hole'")));
    expect(error.message).toMatch(/timeout/i);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(3000);
    expect((await bystander.query("SELECT 'still here' AS s")).rows).toEqual([{ s: "still here" }]);
    const fresh = await connectTo(h.proxy);
    expect((await fresh.query("SELECT $1::text AS s", ["fresh"])).rows).toEqual([{ s: "fresh" }]);
    expect(h.events.map((e) => e.rule)).toEqual(["hole"]);
  });

  it("nothing more is forwarded either way on the blackholed connection", async () => {
    const h = await proxyWith([
      { name: "hole", match: { sql: "'hole'" }, fault: { type: "blackhole" } },
    ]);
    const victim = await connectTo(h.proxy, { query_timeout: 300 });
    await failure(victim.query("SELECT 'hole'"));
    // Its next statement (which the rule does not match) is not answered either.
    expect((await failure(victim.query("SELECT 1"))).message).toMatch(/timeout/i);
  });
});

describe("terminateBackend", () => {
  it("the server ends the session: the client gets 57P01 and a closed connection", async () => {
    const h = await proxyWith([
      { name: "kill", match: { sql: "'kill me'" }, fault: { type: "terminateBackend" } },
    ]);
    const client = await connectTo(h.proxy);
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]
      ?.pid;
    const error = await failure(client.query("SELECT 'kill me'"));
    expect(error.code).toBe("57P01");
    await failure(client.query("SELECT 1"));
    expect(
      await eventually(
        async () =>
          ((await db.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rowCount ??
            0) === 0,
      ),
    ).toBe(true);
    const next = await connectTo(h.proxy);
    expect((await next.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("works in the extended protocol too", async () => {
    const h = await proxyWith([
      { name: "kill", match: { sql: "'kill me'" }, fault: { type: "terminateBackend" } },
    ]);
    const client = await connectTo(h.proxy);
    expect((await failure(client.query("SELECT 'kill me', $1::int", [1]))).code).toBe("57P01");
  });
});

describe("refuseConnections", () => {
  it("count 2: the first two connects fail with 53300, the third works", async () => {
    const h = await proxyWith([{ name: "full", fault: { type: "refuseConnections", count: 2 } }]);
    const attempts: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const client = newClient(h.proxy.port);
      try {
        await client.connect();
        attempts.push("ok");
      } catch (error) {
        attempts.push((error as { code?: string }).code);
      }
    }
    expect(attempts).toEqual(["53300", "53300", "ok"]);
    expect((await clients.at(-1)?.query("SELECT 1 AS one"))?.rows).toEqual([{ one: 1 }]);
    expect(h.events.map((e) => e.rule)).toEqual(["full", "full"]);
  });

  it("matches connections by application name and uses the given SQLSTATE", async () => {
    const h = await proxyWith([
      {
        name: "no-worker",
        match: { applicationName: "worker" },
        fault: {
          type: "refuseConnections",
          sqlstate: "57P03",
          message: "the database system is starting up",
        },
      },
    ]);
    const refused = newClient(h.proxy.port, { application_name: "worker" });
    const error = await failure(refused.connect());
    expect(error.code).toBe("57P03");
    expect(error.message).toBe("the database system is starting up");
    const other = await connectTo(h.proxy, { application_name: "web" });
    expect((await other.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });
});

describe("refuseConnections with libpq", () => {
  it("psql sees the FATAL message, and count refusals are per connection attempt", async () => {
    const h = await proxyWith([{ name: "full", fault: { type: "refuseConnections", count: 1 } }]);
    const psql = () =>
      run("/usr/bin/psql", [
        "-X",
        "-w",
        "-h",
        "127.0.0.1",
        "-p",
        String(h.proxy.port),
        "-U",
        "postgres",
        "-d",
        db.name,
        "-Atc",
        "SELECT 1",
      ]);
    const first = await psql();
    expect(first.code).toBe(2);
    expect(first.stderr).toContain("FATAL:  sorry, too many clients already");
    const second = await psql();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe("1\n");
  });
});

describe("proxy lifecycle", () => {
  it("stop() cuts open connections at once, ends their server sessions, and frees the port", async () => {
    const h = await proxyWith([]);
    const client = await connectTo(h.proxy, { application_name: "stopped-under" });
    const sleeping = client.query("SELECT pg_sleep(2)").then(
      () => "finished",
      (e: Error) => e.message,
    );
    const backendActive = async () =>
      ((await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'stopped-under'"))
        .rowCount ?? 0) > 0;
    expect(await eventually(backendActive)).toBe(true);
    const [, ms] = await timed(() => h.proxy.stop());
    expect(ms).toBeLessThan(1000);
    expect(await sleeping).toMatch(/terminated|ECONNRESET|closed/i);
    expect(h.proxy.connections()).toBe(0);
    // The backend notices the cut once pg_sleep returns and it writes: then it must be gone.
    expect(await eventually(async () => !(await backendActive()), 8000, 100)).toBe(true);
    const refused = newClient(h.proxy.port, { connectionTimeoutMillis: 1000 });
    await failure(refused.connect());
  });

  it("with its upstream down, a client is refused at once with FATAL 08006", async () => {
    const proxy = await startProxy({ upstream: { host: "127.0.0.1", port: await freePort() } });
    proxies.push(proxy);
    const [error, ms] = await timed(() => failure(newClient(proxy.port).connect()));
    expect(error.code).toBe("08006");
    expect(error.message).toMatch(/upstream/);
    expect(ms).toBeLessThan(2000);
    expect(await eventually(() => proxy.connections() === 0, 2000)).toBe(true);
  });

  it("is disposable with await using", async () => {
    let port = 0;
    {
      await using proxy = await startProxy({
        upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
      });
      port = proxy.port;
      const client = newClient(port);
      await client.connect();
      expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    }
    await failure(newClient(port, { connectionTimeoutMillis: 1000 }).connect());
  });
});

describe("presets", () => {
  it.each([
    ["undefined_column", "42703"],
    ["undefined_table", "42P01"],
    ["serialization_failure", "40001"],
    ["deadlock_detected", "40P01"],
    ["query_canceled", "57014"],
    ["unique_violation", "23505"],
  ] as const)("%s fails the statement with %s", async (name, code) => {
    const h = await proxyWith([
      { name: "p", match: { sql: "'preset'" }, fault: { type: "preset", name } },
    ]);
    const client = await connectTo(h.proxy);
    expect((await failure(client.query("SELECT 'preset'"))).code).toBe(code);
    expect((await client.query("SELECT 2 AS two")).rows).toEqual([{ two: 2 }]);
  });

  it("too_many_connections refuses connections with 53300", async () => {
    const h = await proxyWith([
      { name: "p", fault: { type: "preset", name: "too_many_connections" } },
    ]);
    expect((await failure(newClient(h.proxy.port).connect())).code).toBe("53300");
  });

  it("connection_failure cuts the connection before the statement runs", async () => {
    const h = await proxyWith([
      {
        name: "p",
        match: { kind: "INSERT" },
        fault: { type: "preset", name: "connection_failure" },
      },
    ]);
    const client = await connectTo(h.proxy);
    await failure(client.query("INSERT INTO items VALUES (20, 'no')"));
    expect(await rowExists(20)).toBe(false);
  });
});

describe("counting and live rules", () => {
  it("nth fires on exactly the nth matching statement", async () => {
    const h = await proxyWith([
      { name: "third", match: { sql: "'counted'", nth: 3 }, fault: missingColumn },
    ]);
    const client = await connectTo(h.proxy);
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      await client.query("SELECT 'other'");
      outcomes.push(
        await client.query("SELECT 'counted'").then(
          () => "ok",
          (e: { code?: string }) => e.code ?? "?",
        ),
      );
    }
    expect(outcomes).toEqual(["ok", "ok", "42703", "ok", "ok", "ok"]);
  });

  it("every fires on every nth matching statement, across connections", async () => {
    const h = await proxyWith([
      { name: "every2", match: { sql: "'counted'", every: 2 }, fault: missingColumn },
    ]);
    const a = await connectTo(h.proxy);
    const b = await connectTo(h.proxy);
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const client = i % 3 === 0 ? a : b;
      outcomes.push(
        await client.query("SELECT 'counted'").then(
          () => "ok",
          (e: { code?: string }) => e.code ?? "?",
        ),
      );
    }
    expect(outcomes).toEqual(["ok", "42703", "ok", "42703", "ok", "42703"]);
  });

  it("probability with the same seed fails the same statements", async () => {
    const outcomes = async (seed: number) => {
      const h = await proxyWith(
        [{ name: "coin", match: { sql: "'coin'", probability: 0.5 }, fault: missingColumn }],
        seed,
      );
      const client = await connectTo(h.proxy);
      const out: boolean[] = [];
      for (let i = 0; i < 24; i++)
        out.push(
          await client.query("SELECT 'coin'").then(
            () => true,
            () => false,
          ),
        );
      return out;
    };
    const first = await outcomes(99);
    expect(await outcomes(99)).toEqual(first);
    expect(first).toContain(true);
    expect(first).toContain(false);
  });

  it("rules added and removed while a connection is open apply to its next statement", async () => {
    const h = await proxyWith([]);
    const client = await connectTo(h.proxy);
    expect((await client.query("SELECT 'live' AS v")).rows).toEqual([{ v: "live" }]);
    h.proxy.rules.add({ name: "live", match: { sql: "'live'" }, fault: missingColumn });
    expect((await failure(client.query("SELECT 'live' AS v"))).code).toBe("42703");
    expect(h.proxy.rules.remove("live")).toBe(true);
    expect((await client.query("SELECT 'live' AS v")).rows).toEqual([{ v: "live" }]);
  });

  it("matches on database", async () => {
    const other = await pgTest.env.databases.create("proxy faults other", []);
    const h = await proxyWith([
      { name: "only-other", match: { database: other.name }, fault: missingColumn },
    ]);
    const mine = await connectTo(h.proxy);
    const theirs = await connectTo(h.proxy, { database: other.name });
    expect((await mine.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect((await failure(theirs.query("SELECT 1"))).code).toBe("42703");
  });
});

describe("trace", () => {
  it("writes a line per statement with the transaction status after it and the rule that fired", async () => {
    const h = await proxyWith([{ name: "drift", match: { sql: "credits" }, fault: missingColumn }]);
    const client = await connectTo(h.proxy, { application_name: "tracer" });
    await client.query("BEGIN");
    await client.query("INSERT INTO items VALUES ($1, 'x')", [30]);
    await failure(client.query("SELECT credits FROM users WHERE id = 5"));
    await failure(client.query("SELECT 1"));
    await client.query("ROLLBACK");
    await client.query("SELECT $1::int", [1]);
    const trace = (await h.trace()).filter((e) => e.applicationName === "tracer");
    expect(
      trace.map((e) => [
        e.sql,
        e.kind,
        e.tx,
        e.rule ?? null,
        "sqlstate" in e.result ? e.result.sqlstate : null,
      ]),
    ).toEqual([
      ["BEGIN", "BEGIN", "T", null, null],
      ["INSERT INTO items VALUES ($1, ?)", "INSERT", "T", null, null],
      ["SELECT credits FROM users WHERE id = ?", "SELECT", "E", "drift", "42703"],
      ["SELECT ?", "SELECT", "E", null, "25P02"],
      ["ROLLBACK", "ROLLBACK", "I", null, null],
      ["SELECT $1::int", "SELECT", "I", null, null],
    ]);
    expect(trace[1]?.result).toEqual({ tag: "INSERT 0 1", rows: 1 });
    expect(new Set(trace.map((e) => e.conn)).size).toBe(1);
    for (const e of trace) {
      expect(e.database).toBe(db.name);
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
  });

  it("writes a line for the statement a latency fault delayed, with its duration", async () => {
    const h = await proxyWith([
      { name: "slow", match: { sql: "'slow'" }, fault: { type: "latency", ms: 250 } },
    ]);
    const client = await connectTo(h.proxy, { application_name: "tracer" });
    await client.query("SELECT 'slow'");
    const trace = await h.trace();
    const slow = trace.find((e) => e.rule === "slow");
    expect(slow?.durationMs).toBeGreaterThanOrEqual(245);
    expect(slow?.result).toEqual({ tag: "SELECT 1", rows: 1 });
  });

  it.each([
    ["simple", "SELECT 'kill me'", undefined],
    ["extended", "SELECT 'kill me', $1::int", [1]],
  ])(
    "writes a line naming the rule for a statement a terminateBackend fault ended (%s protocol)",
    async (_protocol, sql, values) => {
      const h = await proxyWith([
        { name: "kill", match: { sql: "'kill me'" }, fault: { type: "terminateBackend" } },
      ]);
      const client = await connectTo(h.proxy, { application_name: "tracer" });
      expect((await failure(client.query(sql, values))).code).toBe("57P01");
      expect(await eventually(() => h.proxy.connections() === 0, 3000)).toBe(true);
      const trace = await h.trace();
      const killed = trace.find((e) => e.rule === "kill");
      expect(killed, JSON.stringify(trace)).toBeDefined();
      expect(killed?.result).toMatchObject({ sqlstate: "57P01" });
    },
  );

  it("writes a line naming the rule for a blackholed statement once its connection ends", async () => {
    const h = await proxyWith([
      { name: "hole", match: { sql: "'hole'" }, fault: { type: "blackhole" } },
    ]);
    const client = await connectTo(h.proxy, { application_name: "tracer", query_timeout: 200 });
    await client.query("SELECT 'before'");
    await failure(client.query("SELECT 'hole'"));
    const trace = await h.trace();
    expect(trace.map((e) => e.sql)).toContain("SELECT ?");
    const lost = trace.find((e) => e.rule === "hole");
    expect(lost, JSON.stringify(trace)).toBeDefined();
    expect(lost?.result).toEqual({ lost: true });
  });
});
