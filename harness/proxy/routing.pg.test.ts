/**
 * One proxy for a whole run: each scenario's connections are routed to its own database, and
 * `beginScenario` ends the previous scenario's connections so that long-lived pools reconnect
 * to the next one. The pool tests below are the evidence for the pool table in docs/configuration.md.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FaultEvent,
  readTrace,
  type StartedProxy,
  startProxy,
  type TraceEntry,
} from "./index.ts";
import {
  cancelRequestPacket,
  eventually,
  fieldsOf,
  gssEncRequest,
  LineChild,
  query,
  RawClient,
  sslRequest,
  startTestPostgres,
  startupMessage,
  type TestPostgres,
} from "./testing/index.ts";

const PYTHON = "/usr/bin/python3";
const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), "testdata");
/** The fixed name a once-per-run service asks for; the proxy sends it elsewhere. */
const ASKED = "app";

let pgTest: TestPostgres;
let admin: pg.Client;
let proxy: StartedProxy;
let workDir: string;
let databases = 0;
let proxyStartedAt = 0;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  admin = new pg.Client({ connectionString: pgTest.env.server.urlFor("postgres") });
  admin.on("error", () => {});
  await admin.connect();
  workDir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-routing-"));
  proxyStartedAt = Date.now();
  proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
    database: await markedDatabase("first"),
  });
});

afterAll(async () => {
  await proxy?.stop();
  await admin?.end().catch(() => {});
  await pgTest?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A new database holding `marker(name)` with one row: its own name. */
async function markedDatabase(label: string): Promise<string> {
  const name = `route_${++databases}_${label}`;
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const client = new pg.Client({ connectionString: pgTest.env.server.urlFor(name) });
  await client.connect();
  await client.query("CREATE TABLE marker (name text NOT NULL)");
  await client.query("INSERT INTO marker VALUES ($1)", [name]);
  await client.end();
  return name;
}

/** Sessions connected to `database` now, as the server counts them. */
async function sessionsOn(database: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
    [database],
  );
  return rows[0]?.n ?? -1;
}

/** What the lead does after a switch: drop the old clone. Resolves with how long it took. */
async function dropForce(database: string): Promise<number> {
  const started = performance.now();
  await admin.query(`DROP DATABASE ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  return performance.now() - started;
}

async function connectThroughProxy(config: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port: proxy.port,
    user: "postgres",
    database: ASKED,
    ...config,
  });
  await client.connect();
  return client;
}

async function markerOf(client: pg.Client): Promise<string> {
  return (await client.query<{ name: string }>("SELECT name FROM marker")).rows[0]?.name ?? "";
}

/** Resolve with what `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

describe("routing every connection to the current scenario's database", () => {
  it("routes from the start with ProxyOptions.database", async () => {
    expect(proxy.database).toMatch(/_first$/);
    const client = await connectThroughProxy();
    expect(await markerOf(client)).toBe(proxy.database);
    await client.end();
  });

  it("sends a client asking for `app` to A, then after beginScenario to B, with A left empty and droppable", async () => {
    const a = await markedDatabase("a");
    const b = await markedDatabase("b");
    expect(await proxy.beginScenario({ database: a })).toEqual({ closed: 0 });
    expect(proxy.database).toBe(a);

    const idle = await connectThroughProxy();
    const idleErrors: (Error & { code?: string })[] = [];
    idle.on("error", (error) => idleErrors.push(error));
    expect(await markerOf(idle)).toBe(a);
    // A session idle inside a transaction with an uncommitted write: ending it must roll back.
    const inTransaction = await connectThroughProxy();
    inTransaction.on("error", () => {});
    await inTransaction.query("BEGIN");
    await inTransaction.query("INSERT INTO marker VALUES ('uncommitted')");
    expect(await sessionsOn(a)).toBe(2);
    expect(proxy.connections()).toBe(2);

    const started = performance.now();
    expect(await proxy.beginScenario({ database: b })).toEqual({ closed: 2 });
    const switchMs = performance.now() - started;
    expect(await sessionsOn(a)).toBe(0);
    expect(proxy.connections()).toBe(0);
    expect(switchMs).toBeLessThan(1000);
    // An idle node-postgres client sees exactly what it sees when Postgres itself runs
    // pg_terminate_backend on its backend, so pools treat it as they treat that.
    const direct = new pg.Client({
      connectionString: pgTest.env.server.urlFor(b),
      application_name: "terminated-directly",
    });
    const directErrors: (Error & { code?: string })[] = [];
    direct.on("error", (error) => directErrors.push(error));
    const directEnded = new Promise((resolve) => direct.once("end", resolve));
    await direct.connect();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'terminated-directly'",
    );
    await directEnded;
    expect(directErrors.map((e) => [e.code, e.message])).toEqual([
      ["57P01", "terminating connection due to administrator command"],
      [undefined, "Connection terminated unexpectedly"],
    ]);
    expect(idleErrors.map((e) => [e.code, e.message])).toEqual(
      directErrors.map((e) => [e.code, e.message]),
    );
    const afterEnd = await rejection(inTransaction.query("COMMIT"));
    expect(afterEnd.message).toMatch(/terminated|not queryable/i);

    const next = await connectThroughProxy();
    expect(await markerOf(next)).toBe(b);
    expect((await next.query("SELECT current_database() AS d")).rows[0].d).toBe(b);
    await next.end();

    const rolledBack = new pg.Client({ connectionString: pgTest.env.server.urlFor(a) });
    await rolledBack.connect();
    expect((await rolledBack.query("SELECT name FROM marker")).rows).toEqual([{ name: a }]);
    await rolledBack.end();
    await dropForce(a);
  });

  it("ends a connection in the middle of a query: the query gets 57P01 and its backend is cancelled", async () => {
    const a = await markedDatabase("a");
    const b = await markedDatabase("b");
    await proxy.beginScenario({ database: a });
    const client = await connectThroughProxy({ application_name: "sleeper" });
    client.on("error", () => {});
    const sleeping = rejection(client.query("SELECT pg_sleep(30)"));
    expect(
      await eventually(async () => {
        const { rows } = await admin.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'sleeper' AND state = 'active'",
        );
        return rows.length === 1;
      }),
    ).toBe(true);

    const started = performance.now();
    expect(await proxy.beginScenario({ database: b })).toEqual({ closed: 1 });
    const switchMs = performance.now() - started;
    // Without the cancel the backend would sleep on for 30 s, holding A.
    expect(switchMs).toBeLessThan(3000);
    expect(await sessionsOn(a)).toBe(0);
    const error = await sleeping;
    expect([error.code, error.message]).toEqual([
      "57P01",
      "terminating connection due to administrator command",
    ]);
    // Not even FORCE is needed: a plain DROP fails while any session is connected.
    await admin.query(`DROP DATABASE ${pg.escapeIdentifier(a)}`);
  });

  it("ends a blackholed connection and one whose replies a latency fault holds back", async () => {
    const a = await markedDatabase("a");
    const b = await markedDatabase("b");
    await proxy.beginScenario({
      database: a,
      rules: [
        {
          name: "swallow",
          match: { sqlRegex: "blackhole_me" },
          fault: { type: "blackhole" },
        },
        {
          name: "slow",
          match: { sqlRegex: "slow_me" },
          fault: { type: "latency", ms: 20_000, when: "after" },
        },
      ],
    });
    const swallowed = await connectThroughProxy();
    swallowed.on("error", () => {});
    const lost = rejection(swallowed.query("SELECT 'blackhole_me', pg_sleep(30)"));
    const slow = await connectThroughProxy();
    slow.on("error", () => {});
    const held = rejection(slow.query("SELECT 'slow_me'"));
    await new Promise((r) => setTimeout(r, 100));
    expect(await sessionsOn(a)).toBe(2);

    expect(await proxy.beginScenario({ database: b })).toEqual({ closed: 2 });
    expect(await sessionsOn(a)).toBe(0);
    expect((await lost).code).toBe("57P01");
    expect((await held).code).toBe("57P01");
    // The new scenario named no rules: none are in force.
    expect(proxy.rules.size).toBe(0);
    await dropForce(a);
  });

  it("leaves a connection that has not sent its startup yet alone, and routes it to the new database", async () => {
    const a = await markedDatabase("a");
    const b = await markedDatabase("b");
    await proxy.beginScenario({ database: a });
    const raw = await RawClient.connect(proxy.port);
    await eventually(() => proxy.connections() === 1);
    expect(await proxy.beginScenario({ database: b })).toEqual({ closed: 0 });
    raw.write(startupMessage({ user: "postgres", database: ASKED }));
    expect((await raw.until("Z"))?.at(-1)?.type).toBe("Z");
    raw.write(query("SELECT current_database()"));
    const rows = (await raw.until("Z"))?.filter((m) => m.type === "D") ?? [];
    expect(rows.map((m) => m.body.subarray(6).toString())).toEqual([b]);
    raw.destroy();
    await dropForce(a);
  });

  it("keeps the SSLRequest and GSSENCRequest 'N' path and CancelRequest working on routed connections", async () => {
    const a = await markedDatabase("a");
    await proxy.beginScenario({ database: a });
    for (const request of [sslRequest(), gssEncRequest()]) {
      const raw = await RawClient.connect(proxy.port);
      raw.write(request);
      expect(await raw.readByte()).toBe("N".charCodeAt(0));
      raw.write(startupMessage({ user: "postgres", database: ASKED, application_name: "raw" }));
      const startup = await raw.until("Z");
      const key = startup?.find((m) => m.type === "K");
      expect(key).toBeDefined();
      raw.write(query("SELECT name FROM marker"));
      const rows = (await raw.until("Z"))?.filter((m) => m.type === "D") ?? [];
      expect(rows.map((m) => m.body.subarray(6).toString())).toEqual([a]);

      // A cancel with the key the client saw reaches the routed backend.
      raw.write(query("SELECT pg_sleep(30)"));
      await new Promise((r) => setTimeout(r, 100));
      const cancel = await RawClient.connect(proxy.port);
      const body = key?.body ?? Buffer.alloc(8);
      cancel.write(cancelRequestPacket(body.readInt32BE(0), body.readInt32BE(4)));
      const reply = await raw.until("Z", 5000);
      const error = reply?.find((m) => m.type === "E");
      expect(error && fieldsOf(error.body).C).toBe("57014");
      expect(await cancel.closedWithin(2000)).toBe(true);
      raw.destroy();
    }
    await proxy.beginScenario({});
    await dropForce(a);
  });

  it("switches trace files (each entry naming its routed database), rules, seed and fault listener", async () => {
    const a = await markedDatabase("a");
    const b = await markedDatabase("b");
    const traceA = path.join(workDir, "a.ndjson");
    const traceB = path.join(workDir, "b.ndjson");
    const eventsA: FaultEvent[] = [];
    const eventsB: FaultEvent[] = [];
    await proxy.beginScenario({
      database: a,
      tracePath: traceA,
      onFault: (e) => eventsA.push(e),
      rules: [
        {
          name: "fail-marker",
          match: { sqlRegex: "FROM marker WHERE" },
          fault: { type: "sqlError", sqlstate: "42703", message: "scenario A's fault" },
        },
      ],
    });
    expect(proxy.tracePath).toBe(traceA);
    const client = await connectThroughProxy();
    client.on("error", () => {});
    expect(await markerOf(client)).toBe(a);
    expect((await rejection(client.query("SELECT 1 FROM marker WHERE true"))).code).toBe("42703");

    // A bad rule rejects and changes nothing: A's rules, trace and connection stay.
    await expect(
      proxy.beginScenario({
        database: b,
        rules: [{ name: "bad", match: {}, fault: { type: "nope" } } as never],
      }),
    ).rejects.toThrow(/nope|type/);
    expect(proxy.database).toBe(a);
    expect(proxy.rules.names()).toEqual(["fail-marker"]);
    expect(await markerOf(client)).toBe(a);

    // A window of the scenario's first second holds only if the clock starts again with the
    // scenario: make sure the proxy itself has been up for longer.
    await new Promise((r) => setTimeout(r, Math.max(0, 1200 - (Date.now() - proxyStartedAt))));
    await proxy.beginScenario({
      database: b,
      tracePath: traceB,
      onFault: (e) => eventsB.push(e),
      rules: [
        {
          name: "early",
          match: { sqlRegex: "window_me", untilMs: 1000 },
          fault: { type: "sqlError", sqlstate: "57014", message: "in the window" },
        },
      ],
    });
    expect(proxy.tracePath).toBe(traceB);
    const next = await connectThroughProxy();
    expect(await markerOf(next)).toBe(b);
    expect((await next.query("SELECT 1 AS one FROM marker WHERE true")).rows).toEqual([{ one: 1 }]);
    expect((await rejection(next.query("SELECT 'window_me'"))).code).toBe("57014");
    await next.end();

    // The old file was flushed and closed by the switch, without a flushTrace.
    const read = async (file: string) => {
      const out: TraceEntry[] = [];
      for await (const entry of readTrace(file)) out.push(entry);
      return out;
    };
    const inA = await read(traceA);
    expect(inA.map((e) => [e.database, e.sql, e.rule ?? null])).toEqual([
      [a, "SELECT name FROM marker", null],
      [a, "SELECT ? FROM marker WHERE true", "fail-marker"],
      [a, "SELECT name FROM marker", null],
    ]);
    await proxy.flushTrace();
    const inB = await read(traceB);
    expect(inB.map((e) => [e.database, e.sql])).toEqual([
      [b, "SELECT name FROM marker"],
      [b, "SELECT ? AS one FROM marker WHERE true"],
      [b, "SELECT ?"],
    ]);
    expect(eventsA.map((e) => e.rule)).toEqual(["fail-marker"]);
    expect(eventsB.map((e) => e.rule)).toEqual(["early"]);
    await proxy.beginScenario({});
    expect(proxy.tracePath).toBeUndefined();
    await dropForce(a);
    await dropForce(b);
  });
});

describe("each scenario's seed", () => {
  it("replays the same probabilistic faults for the same seed, and others for another", async () => {
    const a = await markedDatabase("a");
    const fired = async (seed: number): Promise<number[]> => {
      const events: FaultEvent[] = [];
      await proxy.beginScenario({
        database: a,
        seed,
        onFault: (e) => events.push(e),
        rules: [
          {
            name: "coin",
            match: { sqlRegex: "coin", probability: 0.5 },
            fault: { type: "sqlError", sqlstate: "40001", message: "heads" },
          },
        ],
      });
      const client = await connectThroughProxy();
      for (let i = 0; i < 24; i++) await client.query(`SELECT 'coin', ${i}`).catch(() => {});
      await client.end();
      return events.map((e) => Number(/(\d+)$/.exec(e.sql ?? "")?.[1]));
    };
    const first = await fired(7);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(24);
    expect(await fired(7)).toEqual(first);
    expect(await fired(8)).not.toEqual(first);
    await proxy.beginScenario({});
    await dropForce(a);
  });
});

// ---------------------------------------------------------------------------------------------
// Which pools cope: each long-lived pool queries before and after a switch, and the same pool
// connected straight to Postgres goes through a real pg_terminate_backend, for comparison.

/** One attempt at `SELECT name FROM marker` through a pool. */
type Outcome = { marker: string } | { error: string; message: string; code?: string };

/** A long-lived pool. */
interface PoolUnderTest {
  /** Use two connections at once, so the pool holds two idle ones afterwards. */
  warm(): Promise<string[]>;
  query(): Promise<Outcome>;
  end(): Promise<void>;
}

/** Where a pool connects: through the proxy asking for `app`, or straight to a database. */
type MakePool = (port: number, database: string) => Promise<PoolUnderTest>;

/** What a pool saw after its connections were ended under it. */
interface Ended {
  /** Connections the switch ended (the proxy only). */
  closed: number;
  /** Attempts until the marker showed: one if the first worked, two if it needed a retry. */
  after: Outcome[];
}

/** Query until a marker shows, at most one retry; markers are named by `label`. */
async function attempts(pool: PoolUnderTest, label: Record<string, string>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < 2; i++) {
    const outcome = await pool.query();
    if ("marker" in outcome) {
      out.push({ marker: label[outcome.marker] ?? outcome.marker });
      break;
    }
    out.push(outcome);
  }
  return out;
}

/**
 * Warm a pool on A through the proxy, switch to B and query until B's marker shows (at most
 * one retry); check A has no session left and drop it, as the runner will.
 */
async function acrossSwitch(make: MakePool): Promise<Ended> {
  const a = await markedDatabase("a");
  const b = await markedDatabase("b");
  await proxy.beginScenario({ database: a });
  const pool = await make(proxy.port, ASKED);
  try {
    expect(await pool.warm()).toEqual([a, a]);
    expect(await pool.query()).toEqual({ marker: a });
    expect(await sessionsOn(a)).toBe(2);
    const { closed } = await proxy.beginScenario({ database: b });
    expect(await sessionsOn(a)).toBe(0);
    const after = await attempts(pool, { [a]: "A", [b]: "B" });
    await dropForce(a);
    return { closed, after };
  } finally {
    await pool.end();
  }
}

/** The same pool straight to a database whose backends Postgres terminates. */
async function acrossRealTerminate(make: MakePool): Promise<Ended> {
  const b = await markedDatabase("b");
  const pool = await make(pgTest.env.server.port, b);
  try {
    expect(await pool.warm()).toEqual([b, b]);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
      b,
    ]);
    expect(await eventually(async () => (await sessionsOn(b)) === 0)).toBe(true);
    // The server forgets a backend just before its socket closes: give the client the moment
    // it needs to see the close (beginScenario itself waits for the client's side to close).
    // Without it postgres-js may write on the dead socket (CONNECTION_CLOSED) once per connection.
    await new Promise((r) => setTimeout(r, 200));
    return { closed: 0, after: await attempts(pool, { [b]: "B" }) };
  } finally {
    await pool.end();
    await dropForce(b);
  }
}

/** The switch, and a real pg_terminate_backend: the pool must see the same in both. */
async function compare(make: MakePool): Promise<Ended> {
  const switched = await acrossSwitch(make);
  const terminated = await acrossRealTerminate(make);
  expect(switched.closed).toBe(2);
  expect(switched.after).toEqual(terminated.after);
  expect(switched.after.at(-1)).toEqual({ marker: "B" });
  return switched;
}

function outcomeOf(error: unknown): Outcome {
  const e = error as Error & { code?: string };
  return { error: e.constructor.name, message: e.message, ...(e.code ? { code: e.code } : {}) };
}

function pythonPool(
  script: string,
  url: (port: number, database: string) => string,
  ...args: string[]
): MakePool {
  return async (port, database) => {
    const child = new LineChild(PYTHON, [
      path.join(TESTDATA, script),
      url(port, database),
      ...args,
    ]);
    await child.read();
    return {
      warm: async () => {
        const answer = await child.ask<{ markers?: string[] } & Outcome>("warm");
        if (!answer.markers) throw new Error(`warm failed: ${JSON.stringify(answer)}`);
        return answer.markers;
      },
      query: () => child.ask<Outcome>("query"),
      end: () => child.stop(),
    };
  };
}

const sqlalchemyUrl = (port: number, database: string) =>
  `postgresql+psycopg2://postgres@127.0.0.1:${port}/${database}`;
const asyncpgDsn = (port: number, database: string) =>
  `postgresql://postgres@127.0.0.1:${port}/${database}`;

describe("long-lived pools across beginScenario", () => {
  it("node-postgres pg.Pool: idle clients get 'error' (57P01) and are evicted; the next query sees B", async () => {
    const idleErrors: string[] = [];
    const result = await compare(async (port, database) => {
      const pool = new pg.Pool({ host: "127.0.0.1", port, user: "postgres", database, max: 2 });
      // Required of every pg.Pool user: without it an idle client's error crashes the process.
      pool.on("error", (error) => idleErrors.push((error as Error & { code: string }).code));
      return {
        warm: async () => {
          const two = await Promise.all(
            [1, 2].map(() => pool.query("SELECT name, pg_sleep(0.05) FROM marker")),
          );
          return two.map((r) => r.rows[0].name as string);
        },
        query: () =>
          pool
            .query("SELECT name FROM marker")
            .then((r) => ({ marker: r.rows[0].name as string }), outcomeOf),
        end: () => pool.end(),
      };
    });
    expect(result.after).toEqual([{ marker: "B" }]);
    // Two idle clients through the proxy, two straight to Postgres; under load a client that
    // was being released as the terminate landed reports it too, so at least four, all 57P01.
    expect(idleErrors.length).toBeGreaterThanOrEqual(4);
    expect([...new Set(idleErrors)]).toEqual(["57P01"]);
  });

  it("postgres-js: closed connections reconnect on the next query, which sees B", async () => {
    const result = await compare(async (port, database) => {
      const sql = postgres({
        host: "127.0.0.1",
        port,
        user: "postgres",
        database,
        max: 2,
        onnotice: () => {},
      });
      return {
        warm: async () => {
          const two = await Promise.all(
            [1, 2].map(() => sql`SELECT name, pg_sleep(0.05) FROM marker`),
          );
          return two.map((rows) => rows[0]?.name as string);
        },
        query: () =>
          sql`SELECT name FROM marker`.then(
            (rows) => ({ marker: rows[0]?.name as string }),
            outcomeOf,
          ),
        end: () => sql.end({ timeout: 1 }),
      };
    });
    expect(result.after).toEqual([{ marker: "B" }]);
  });

  it("SQLAlchemy + psycopg2 without pool_pre_ping: the first query after the switch fails, the retry sees B", async () => {
    const result = await compare(pythonPool("pool_sqlalchemy.py", sqlalchemyUrl));
    // The failure invalidates the whole pool (SQLAlchemy's disconnect handling), so one retry
    // suffices however many idle connections it held.
    expect(result.after).toEqual([
      expect.objectContaining({
        error: "OperationalError",
        message: expect.stringContaining("server closed the connection unexpectedly"),
      }),
      { marker: "B" },
    ]);
  });

  it("SQLAlchemy + psycopg2 with pool_pre_ping=True: the first query after the switch sees B", async () => {
    const result = await compare(pythonPool("pool_sqlalchemy.py", sqlalchemyUrl, "pre_ping"));
    expect(result.after).toEqual([{ marker: "B" }]);
  });

  it("asyncpg create_pool: closed connections are replaced on acquire; the first query sees B", async () => {
    const result = await compare(pythonPool("pool_asyncpg.py", asyncpgDsn));
    expect(result.after).toEqual([{ marker: "B" }]);
  });
});
