/**
 * The trace at every protocol step, against a real Postgres: errors at Parse, Bind and Describe
 * (drivers that prepare first: asyncpg, postgres-js, pgx, libpq's PQprepare), pipelined batches
 * and what the server skips in them, row-limited portals, errors outside any statement. Each
 * case also checks the trace against what the client was really sent: one traced error per
 * ErrorResponse on the wire, whatever the split of the client's bytes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScenarioDatabase } from "../postgres/index.ts";
import { readTrace, type StartedProxy, startProxy, type TraceEntry } from "./index.ts";
import {
  bind,
  describeMessage,
  eventually,
  execute,
  parse,
  query,
  RawClient,
  startTestPostgres,
  startupMessage,
  sync,
  type TestPostgres,
  typedMessage,
  type WireMessage,
} from "./testing/index.ts";

let pgTest: TestPostgres;
let db: ScenarioDatabase;
let proxy: StartedProxy;
let workDir: string;
let tracePath: string;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  db = await pgTest.env.databases.create("proxy steps", []);
  await db.query(
    "CREATE TABLE members (id int PRIMARY KEY, email text NOT NULL); INSERT INTO members SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 5) g",
  );
  workDir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-steps-"));
  tracePath = path.join(workDir, "trace.ndjson");
  proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
    tracePath,
  });
});

afterAll(async () => {
  await proxy?.stop();
  await pgTest?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const flush = () => typedMessage("H");
let connections = 0;

/** A raw session through the proxy, past its startup, under an application name of its own. */
async function session(): Promise<{ client: RawClient; app: string }> {
  const app = `steps-${++connections}`;
  const client = await RawClient.connect(proxy.port);
  client.write(startupMessage({ user: "postgres", database: db.name, application_name: app }));
  expect(await client.until("Z")).toBeDefined();
  return { client, app };
}

/** Every message until `count` ReadyForQuery have come (or a timeout). */
async function untilReady(client: RawClient, count: number): Promise<WireMessage[]> {
  const seen: WireMessage[] = [];
  for (let n = 0; n < count; n++) {
    const part = await client.until("Z", 5000);
    if (!part) throw new Error(`ReadyForQuery ${n + 1} of ${count} never came`);
    seen.push(...part);
  }
  return seen;
}

/** The trace lines of one session (by its application name). */
async function traceOf(app: string): Promise<TraceEntry[]> {
  await proxy.flushTrace();
  const lines: TraceEntry[] = [];
  for await (const entry of readTrace(tracePath))
    if (entry.applicationName === app) lines.push(entry);
  return lines;
}

/** What the trace says of each line, short: sql → result [step] (tx). */
function summary(entries: TraceEntry[]): string[] {
  return entries.map((e) => {
    const result =
      "sqlstate" in e.result
        ? e.result.sqlstate
        : "tag" in e.result
          ? `${e.result.tag}${e.result.rows === null ? "" : ` rows=${e.result.rows}`}`
          : "skipped" in e.result
            ? "skipped"
            : "lost";
    return `${e.sql} → ${result}${e.step ? ` [${e.step}]` : ""} (${e.tx})`;
  });
}

/** SQLSTATEs of the ErrorResponses the client was sent, in order. */
function wireErrors(messages: WireMessage[]): string[] {
  return messages
    .filter((m) => m.type === "E")
    .map((m) => /C([0-9A-Z]{5})\0/.exec(m.body.toString("latin1"))?.[1] ?? "?");
}

function tracedErrors(entries: TraceEntry[]): string[] {
  return entries.flatMap((e) => ("sqlstate" in e.result ? [e.result.sqlstate] : []));
}

describe("errors at the step where they happen", () => {
  it("asyncpg's path: Parse/Describe/Flush fails with 42703, then every Parse with 25P02", async () => {
    const { client, app } = await session();
    client.write(query("BEGIN"));
    const wire = await untilReady(client, 1);
    // asyncpg prepares on a Flush, then (after the error) sends a Sync of its own.
    client.write(
      Buffer.concat([
        parse("__asyncpg_stmt_1__", "SELECT id, credits_balance FROM members WHERE email = $1"),
        describeMessage("S", "__asyncpg_stmt_1__"),
        flush(),
      ]),
    );
    const parseError = await client.until("E");
    expect(parseError).toBeDefined();
    wire.push(...(parseError ?? []));
    client.write(sync());
    wire.push(...(await untilReady(client, 1)));
    client.write(
      Buffer.concat([
        parse("__asyncpg_stmt_2__", "INSERT INTO members (id, email) VALUES ($1, $2)"),
        describeMessage("S", "__asyncpg_stmt_2__"),
        flush(),
      ]),
    );
    const cascade = await client.until("E");
    wire.push(...(cascade ?? []));
    client.write(Buffer.concat([sync(), query("ROLLBACK")]));
    wire.push(...(await untilReady(client, 2)));
    client.destroy();
    const trace = await traceOf(app);
    expect(summary(trace)).toEqual([
      "BEGIN → BEGIN (T)",
      "SELECT id, credits_balance FROM members WHERE email = $1 → 42703 [parse] (E)",
      "INSERT INTO members (id, email) VALUES ($1, $2) → 25P02 [parse] (E)",
      "ROLLBACK → ROLLBACK (I)",
    ]);
    expect(tracedErrors(trace)).toEqual(wireErrors(wire));
  });

  it("a prepare that succeeds is not a statement: prepared then executed is one line", async () => {
    const { client, app } = await session();
    // pgx v4 and lib/pq: Parse/Describe/Sync, then Bind/Execute/Sync.
    client.write(
      Buffer.concat([
        parse("s1", "SELECT email FROM members WHERE id = $1"),
        describeMessage("S", "s1"),
        sync(),
      ]),
    );
    await untilReady(client, 1);
    client.write(Buffer.concat([bind("", "s1", ["2"]), execute(), sync()]));
    await untilReady(client, 1);
    client.write(Buffer.concat([bind("", "s1", ["3"]), execute(), sync()]));
    await untilReady(client, 1);
    client.destroy();
    expect(summary(await traceOf(app))).toEqual([
      "SELECT email FROM members WHERE id = $1 → SELECT 1 rows=1 (I)",
      "SELECT email FROM members WHERE id = $1 → SELECT 1 rows=1 (I)",
    ]);
  });

  it("a Bind that fails (22P02) is traced at the bind step, with the statement's SQL", async () => {
    const { client, app } = await session();
    client.write(
      Buffer.concat([
        parse("", "SELECT email FROM members WHERE id = $1", [23]),
        bind("", "", ["not a number"]),
        describeMessage("P", ""),
        execute(),
        sync(),
      ]),
    );
    const wire = await untilReady(client, 1);
    client.destroy();
    const trace = await traceOf(app);
    expect(summary(trace)).toEqual(["SELECT email FROM members WHERE id = $1 → 22P02 [bind] (I)"]);
    expect(tracedErrors(trace)).toEqual(wireErrors(wire));
  });

  it("an error on an idle session (57P01, terminated by an administrator) is traced", async () => {
    const { client, app } = await session();
    client.write(query("SELECT 1"));
    await untilReady(client, 1);
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [app],
    );
    const wire = (await client.until("E")) ?? [];
    expect(await client.closedWithin(5000)).toBe(true);
    const trace = await eventually(async () => (await traceOf(app)).length === 2).then(() =>
      traceOf(app),
    );
    expect(summary(trace)).toEqual(["SELECT ? → SELECT 1 rows=1 (I)", " → 57P01 [connection] (?)"]);
    expect(tracedErrors(trace)).toEqual(wireErrors(wire));
  });

  it("the client's BackendKeyData carries the backend's real pid", async () => {
    const client = await RawClient.connect(proxy.port);
    client.write(startupMessage({ user: "postgres", database: db.name }));
    const startup = (await client.until("Z")) ?? [];
    const key = startup.find((m) => m.type === "K");
    client.write(query("SELECT pg_backend_pid()"));
    const reply = (await client.until("Z")) ?? [];
    const row = reply.find((m) => m.type === "D");
    // DataRow: Int16 columns, Int32 length, the text.
    const pid = row ? Number(row.body.subarray(6).toString("utf8")) : undefined;
    expect(key?.body.readInt32BE(0)).toBe(pid);
    client.destroy();
  });

  it("a Terminate before the startup packet is closed silently, as Postgres does", async () => {
    const client = await RawClient.connect(proxy.port);
    client.write(typedMessage("X"));
    expect(await client.closedWithin(2000)).toBe(true);
    expect(client.bytes.length).toBe(0);
  });
});

describe("pipelined batches: several statements before one Sync", () => {
  // pgx's batch mode and node-postgres's queued queries: the second statement fails, the server
  // skips the third, and the fourth (after the Sync) runs.
  const statements = [
    Buffer.concat([parse("", "SELECT 1"), bind("", ""), describeMessage("P", ""), execute()]),
    Buffer.concat([
      parse("", "SELECT nope FROM members"),
      bind("", ""),
      describeMessage("P", ""),
      execute(),
    ]),
    Buffer.concat([parse("", "SELECT 3"), bind("", ""), describeMessage("P", ""), execute()]),
  ];
  const stream = Buffer.concat([
    ...statements,
    sync(),
    parse("", "SELECT 4"),
    bind("", ""),
    execute(),
    sync(),
  ]);
  const expected = [
    "SELECT ? → SELECT 1 rows=1 (I)",
    "SELECT nope FROM members → 42703 [parse] (I)",
    "SELECT ? → skipped (I)",
    "SELECT ? → SELECT 1 rows=1 (I)",
  ];

  it("attributes the error to its statement and counts the next one as skipped", async () => {
    const { client, app } = await session();
    client.write(stream);
    const wire = await untilReady(client, 2);
    client.destroy();
    const trace = await traceOf(app);
    expect(summary(trace)).toEqual(expected);
    expect(tracedErrors(trace)).toEqual(wireErrors(wire));
  });

  it("gives the same trace however the client's bytes are split, the error arriving first", async () => {
    // Split at every position: the first part reaches the server, its error reaches the proxy
    // (where the part holds the failing Parse) before the rest is sent.
    const wrong: string[] = [];
    for (let at = 1; at < stream.length; at++) {
      const { client, app } = await session();
      client.write(stream.subarray(0, at));
      const early: WireMessage[] = [];
      for (let m = await client.next(30); m; m = await client.next(30)) early.push(m);
      client.write(stream.subarray(at));
      const wire = [
        ...early,
        ...(await untilReady(client, 2 - early.filter((m) => m.type === "Z").length)),
      ];
      client.destroy();
      const trace = await traceOf(app);
      const got = summary(trace);
      if (JSON.stringify(got) !== JSON.stringify(expected))
        wrong.push(`split at ${at}: ${got.join(" | ")}`);
      if (JSON.stringify(tracedErrors(trace)) !== JSON.stringify(wireErrors(wire)))
        wrong.push(
          `split at ${at}: trace errors ${tracedErrors(trace)} vs wire ${wireErrors(wire)}`,
        );
    }
    expect(wrong).toEqual([]);
  }, 120_000);
});

describe("row-limited portals (PortalSuspended)", () => {
  it("a portal fetched two rows at a time is one statement with all its rows", async () => {
    const { client, app } = await session();
    client.write(
      Buffer.concat([
        query("BEGIN"),
        parse("", "SELECT id FROM members ORDER BY id"),
        bind("cur", ""),
        execute("cur", 2),
        flush(),
      ]),
    );
    await untilReady(client, 1);
    expect(await client.until("s")).toBeDefined();
    client.write(Buffer.concat([execute("cur", 2), flush()]));
    expect(await client.until("s")).toBeDefined();
    client.write(Buffer.concat([execute("cur", 2), sync(), query("COMMIT")]));
    await untilReady(client, 2);
    client.destroy();
    expect(summary(await traceOf(app))).toEqual([
      "BEGIN → BEGIN (T)",
      "SELECT id FROM members ORDER BY id → SELECT 1 rows=5 (T)",
      "COMMIT → COMMIT (I)",
    ]);
  });

  it("a portal closed before its end is traced with the rows it sent", async () => {
    const { client, app } = await session();
    client.write(
      Buffer.concat([
        query("BEGIN"),
        parse("", "SELECT id FROM members ORDER BY id"),
        bind("cur", ""),
        execute("cur", 2),
        flush(),
      ]),
    );
    await untilReady(client, 1);
    expect(await client.until("s")).toBeDefined();
    client.write(
      Buffer.concat([typedMessage("C", Buffer.from("Pcur\0")), sync(), query("COMMIT")]),
    );
    await untilReady(client, 2);
    client.destroy();
    expect(summary(await traceOf(app))).toEqual([
      "BEGIN → BEGIN (T)",
      "SELECT id FROM members ORDER BY id → SUSPENDED rows=2 (T)",
      "COMMIT → COMMIT (I)",
    ]);
  });
});

describe("COPY and injected faults", () => {
  it("an error in the middle of COPY FROM STDIN belongs to the COPY", async () => {
    const { client, app } = await session();
    client.write(query("COPY members (id, email) FROM STDIN"));
    expect(await client.until("G")).toBeDefined();
    client.write(
      Buffer.concat([
        typedMessage("d", Buffer.from("100\tok@example.com\n")),
        typedMessage("d", Buffer.from("not-a-number\tbad@example.com\n")),
        typedMessage("c"),
      ]),
    );
    const wire = await untilReady(client, 1);
    client.destroy();
    const trace = await traceOf(app);
    expect(summary(trace)).toEqual(["COPY members (id, email) FROM STDIN → 22P02 (I)"]);
    expect(tracedErrors(trace)).toEqual(wireErrors(wire));
  });

  it("an injected sqlError inside an aborted transaction fails at its Parse, traced with its rule", async () => {
    const faulty = await startProxy({
      upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
      tracePath,
      rules: [
        {
          name: "insert-40001",
          match: { kind: "INSERT" },
          fault: { type: "sqlError", sqlstate: "40001", message: "could not serialize access" },
        },
      ],
    });
    try {
      const app = `steps-${++connections}`;
      const client = await RawClient.connect(faulty.port);
      client.write(startupMessage({ user: "postgres", database: db.name, application_name: app }));
      await untilReady(client, 1);
      const wire: WireMessage[] = [];
      client.write(query("BEGIN"));
      wire.push(...(await untilReady(client, 1)));
      // node-postgres's path, one statement per Sync: the first fails (42703) and is swallowed.
      for (const sql of ["SELECT nope FROM members", "INSERT INTO members VALUES (200, 'x')"]) {
        client.write(
          Buffer.concat([
            parse("", sql),
            bind("", ""),
            describeMessage("P", ""),
            execute(),
            sync(),
          ]),
        );
        wire.push(...(await untilReady(client, 1)));
      }
      client.write(query("ROLLBACK"));
      wire.push(...(await untilReady(client, 1)));
      client.destroy();
      await faulty.flushTrace();
      const trace: TraceEntry[] = [];
      for await (const entry of readTrace(tracePath))
        if (entry.applicationName === app) trace.push(entry);
      expect(summary(trace)).toEqual([
        "BEGIN → BEGIN (T)",
        "SELECT nope FROM members → 42703 [parse] (E)",
        "INSERT INTO members VALUES (?, ?) → 25P02 [parse] (E)",
        "ROLLBACK → ROLLBACK (I)",
      ]);
      expect(trace[2]?.rule).toBe("insert-40001");
      expect(tracedErrors(trace)).toEqual(wireErrors(wire));
    } finally {
      await faulty.stop();
    }
  });
});
