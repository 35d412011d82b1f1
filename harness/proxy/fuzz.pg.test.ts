import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScenarioDatabase } from "../postgres/index.ts";
import { type Random, seededRandom } from "../random/index.ts";
import { MAX_MESSAGE_BYTES, MAX_STARTUP_BYTES } from "./framing.ts";
import { type StartedProxy, startProxy } from "./index.ts";
import {
  bind,
  cancelRequestPacket,
  describeMessage,
  eventually,
  execute,
  fieldsOf,
  gssEncRequest,
  header,
  parse,
  query,
  RawClient,
  sslRequest,
  startTestPostgres,
  startupMessage,
  sync,
  type TestPostgres,
  terminate,
  typedMessage,
  untypedPacket,
} from "./testing/index.ts";

const SEED = 20261127;
const CASES = 360;
const CONCURRENCY = 12;
const BUDGET_MS = 20_000;

let pgTest: TestPostgres;
let db: ScenarioDatabase;
let proxy: StartedProxy;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  db = await pgTest.env.databases.create("proxy fuzz", []);
  proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
  });
});

afterAll(async () => {
  await proxy?.stop();
  await pgTest?.stop();
});

/** What the proxy must do with a case. */
type Expect =
  /** Close the connection itself, after a FATAL ErrorResponse with this SQLSTATE (any if "*"). */
  | { closes: true; error: string }
  /** Answer these DataRow values, then close when the stream's Terminate arrives. */
  | { closes: true; rows: string[] }
  /** Anything but a hang: closed on its own, or promptly once the client hangs up. */
  | { closes: false };

interface Case {
  id: number;
  kind: string;
  chunks: Buffer[];
  expect: Expect;
  /** The stream starts with an SSLRequest/GSSENCRequest, answered by one byte. */
  negotiates?: number;
}

function generator(random: Random) {
  const int = (n: number) => Math.floor(random.next() * n);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n | 0, 0);
    return b;
  };
  const startup = () =>
    startupMessage({ user: "postgres", database: db.name, application_name: "fuzz" });

  /** Cut a stream into random small writes, so messages straddle TCP reads. */
  const chop = (stream: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; ) {
      const size = pick([1, 2, 3, 5, 8, 64, 1000, stream.length]);
      out.push(stream.subarray(at, at + size));
      at += size;
    }
    return out;
  };

  const validSession = (): { stream: Buffer; rows: string[] } => {
    const rows: string[] = [];
    const parts: Buffer[] = [startup()];
    const count = 1 + int(4);
    for (let i = 0; i < count; i++) {
      const n = String(int(1_000_000));
      rows.push(n);
      if (random.next() < 0.5) parts.push(query(`SELECT ${n}`));
      else
        parts.push(
          parse("", "SELECT $1::int"),
          bind("", "", [n]),
          describeMessage("P", ""),
          execute(),
          sync(),
        );
    }
    parts.push(terminate());
    return { stream: Buffer.concat(parts), rows };
  };

  const badTypedLength = () =>
    pick([
      -1,
      0,
      1,
      2,
      3,
      -(2 ** 31),
      MAX_MESSAGE_BYTES + 1,
      2 ** 31 - 1,
      MAX_MESSAGE_BYTES + int(1000) + 1,
    ]);
  const badStartupLength = () =>
    pick([0, 1, 4, 7, -1, -8, MAX_STARTUP_BYTES + 1, 2 ** 31 - 1, 65_536]);

  const kinds: [string, () => Omit<Case, "id" | "kind">][] = [
    [
      "random garbage before startup",
      () => ({ chunks: chop(bytes(1 + int(200))), expect: { closes: false } }),
    ],
    [
      "bad startup length",
      () => ({
        chunks: chop(Buffer.concat([int32(badStartupLength()), bytes(int(40))])),
        // As Postgres: "invalid length of startup packet" goes to its log, the client hears nothing.
        expect: { closes: true, error: "none" },
      }),
    ],
    [
      "HTTP request instead of a startup packet",
      () => ({
        chunks: chop(Buffer.from(`GET /${bytes(4).toString("hex")} HTTP/1.1\r\nHost: db\r\n\r\n`)),
        expect: { closes: true, error: "none" },
      }),
    ],
    [
      "unsupported protocol version",
      () => ({
        chunks: chop(
          untypedPacket(
            int32((pick([0, 1, 2, 4, 1234]) << 16) | int(3)),
            Buffer.from("user\0postgres\0\0"),
          ),
        ),
        expect: { closes: true, error: "08P01" },
      }),
    ],
    [
      "startup with unknown role or database",
      () => ({
        chunks: chop(
          startupMessage(
            random.next() < 0.5
              ? { user: `nobody_${int(1e6)}`, database: db.name }
              : { user: "postgres", database: `nodb_${int(1e6)}` },
          ),
        ),
        expect: { closes: true, error: "*" },
      }),
    ],
    [
      "startup with garbage parameters",
      () => ({
        chunks: chop(untypedPacket(int32(196608), bytes(int(300)))),
        expect: { closes: false },
      }),
    ],
    [
      "valid startup, then a bad typed length",
      () => ({
        chunks: [
          startup(),
          ...chop(
            Buffer.concat([
              header(pick(["Q", "P", "S", "d", "z"]), badTypedLength()),
              bytes(int(20)),
            ]),
          ),
        ],
        expect: { closes: true, error: "08P01" },
      }),
    ],
    [
      "valid startup, then an unknown message type",
      () => {
        const type = pick(["z", "!", "\u0000", "~", "a", "Y"]);
        return {
          chunks: chop(Buffer.concat([startup(), typedMessage(type, bytes(int(30)))])),
          expect: { closes: true, error: "08P01" },
        };
      },
    ],
    [
      "valid startup, then random typed messages",
      () => {
        const messages = Array.from({ length: 1 + int(5) }, () =>
          typedMessage(
            pick(["Q", "P", "B", "D", "E", "C", "S", "H", "d", "c", "f", "p", "F"]),
            bytes(int(40)),
          ),
        );
        return { chunks: chop(Buffer.concat([startup(), ...messages])), expect: { closes: false } };
      },
    ],
    [
      "valid startup, then raw garbage",
      () => ({ chunks: [startup(), ...chop(bytes(1 + int(300)))], expect: { closes: false } }),
    ],
    [
      "valid startup, then a truncated message",
      () => {
        const whole = pick([
          query("SELECT 1"),
          parse("s", "SELECT $1::int"),
          bind("", "s", ["1"]),
          execute(),
        ]);
        return {
          chunks: [startup(), ...chop(whole.subarray(0, 1 + int(whole.length - 1)))],
          expect: { closes: false },
        };
      },
    ],
    [
      "valid startup, then a huge (allowed) length never sent",
      () => ({
        chunks: [
          startup(),
          header(pick(["Q", "d"]), MAX_MESSAGE_BYTES - int(1000)),
          bytes(int(100)),
        ],
        expect: { closes: false },
      }),
    ],
    [
      "truncated startup packet",
      () => {
        const whole = startup();
        return {
          chunks: chop(whole.subarray(0, 1 + int(whole.length - 1))),
          expect: { closes: false },
        };
      },
    ],
    [
      "SSLRequest, then garbage",
      () => ({
        chunks: [pick([sslRequest(), gssEncRequest()]), ...chop(bytes(1 + int(100)))],
        expect: { closes: false },
        negotiates: 1,
      }),
    ],
    [
      "CancelRequest with a random key",
      () => ({
        chunks: chop(cancelRequestPacket(int(2 ** 31), int(2 ** 31))),
        expect: { closes: true, error: "none" },
      }),
    ],
    [
      "mutated valid session",
      () => {
        const { stream } = validSession();
        const mutated = Buffer.from(stream);
        const edits = 1 + int(4);
        let out = mutated;
        for (let e = 0; e < edits; e++) {
          const at = int(out.length);
          const op = int(3);
          if (op === 0) out[at] = int(256);
          else if (op === 1)
            out = Buffer.concat([out.subarray(0, at), bytes(1 + int(8)), out.subarray(at)]);
          else out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + int(8))]);
        }
        return { chunks: chop(out), expect: { closes: false } };
      },
    ],
    [
      "valid session in random pieces",
      () => {
        const { stream, rows } = validSession();
        return { chunks: chop(stream), expect: { closes: true, rows } };
      },
    ],
  ];

  return (id: number): Case => {
    const [kind, make] = kinds[id % kinds.length] as (typeof kinds)[number];
    return { id, kind, ...make() };
  };
}

interface Outcome {
  c: Case;
  closedByProxy: boolean;
  closed: boolean;
  errors: string[];
  rows: string[];
  ms: number;
}

/** Typed backend messages in what the proxy sent (after any one-byte SSL/GSS answers). */
function backendMessages(received: Buffer, skip: number): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let at = skip;
  while (received.length - at >= 5) {
    const length = received.readInt32BE(at + 1);
    if (length < 4 || received.length - at < length + 1) break;
    out.push({
      type: String.fromCharCode(received[at] as number),
      body: received.subarray(at + 5, at + 1 + length),
    });
    at += length + 1;
  }
  return out;
}

async function runCase(c: Case): Promise<Outcome> {
  const started = Date.now();
  const raw = await RawClient.connect(proxy.port);
  for (const chunk of c.chunks) {
    raw.write(chunk);
    await new Promise((r) => setImmediate(r));
  }
  const closedByProxy = await raw.closedWithin(c.expect.closes ? 3000 : 200);
  if (!closedByProxy) raw.socket.end();
  const closed = closedByProxy || (await raw.closedWithin(3000));
  if (!closed) raw.destroy();
  const messages = backendMessages(raw.bytes, c.negotiates ?? 0);
  return {
    c,
    closedByProxy,
    closed,
    errors: messages.filter((m) => m.type === "E").map((m) => fieldsOf(m.body).C ?? "?"),
    rows: messages
      .filter((m) => m.type === "D")
      .map((m) => m.body.toString("utf8", 6, 6 + m.body.readInt32BE(2))),
    ms: Date.now() - started,
  };
}

async function clientBackends(): Promise<number> {
  const r = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
  );
  return r.rows[0]?.n ?? -1;
}

describe("fuzzing the proxy with broken protocol streams", () => {
  let healthy: pg.Client;
  const healthyErrors: unknown[] = [];
  let healthyOk = 0;
  let backendsBefore = -1;
  const outcomes: Outcome[] = [];
  const describeCase = (o: Outcome) =>
    `#${o.c.id} ${o.c.kind}: closedByProxy=${o.closedByProxy} closed=${o.closed} errors=${o.errors.join(",")} rows=${o.rows.join(",")}`;

  beforeAll(async () => {
    healthy = new pg.Client({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: db.name,
      application_name: "healthy",
    });
    healthy.on("error", (e) => healthyErrors.push(e));
    await healthy.connect();
    await db.query("SELECT 1"); // the pool's connection exists before we count backends
    backendsBefore = await clientBackends();
  });

  afterAll(async () => {
    await healthy?.end().catch(() => {});
  });

  it(`runs ${CASES} seeded bad and mutated streams in bounded time, and every connection ends`, async () => {
    // The healthy client works throughout: simple, extended and a transaction, checked each time.
    let fuzzing = true;
    const healthyLoop = (async () => {
      for (let i = 0; fuzzing; i++) {
        try {
          if (i % 3 === 0) {
            const r = await healthy.query(`SELECT ${i} AS n`);
            if (r.rows[0]?.n !== i)
              throw new Error(`simple: expected ${i}, got ${JSON.stringify(r.rows)}`);
          } else if (i % 3 === 1) {
            const r = await healthy.query("SELECT $1::int AS n", [i]);
            if (r.rows[0]?.n !== i)
              throw new Error(`extended: expected ${i}, got ${JSON.stringify(r.rows)}`);
          } else {
            await healthy.query("BEGIN");
            const r = await healthy.query("SELECT $1::text AS s", [`tx ${i}`]);
            await healthy.query("COMMIT");
            if (r.rows[0]?.s !== `tx ${i}`) throw new Error(`tx: got ${JSON.stringify(r.rows)}`);
          }
          healthyOk++;
        } catch (error) {
          healthyErrors.push(error);
          return;
        }
      }
    })();

    const next = generator(seededRandom(SEED));
    const cases = Array.from({ length: CASES }, (_, i) => next(i));
    const started = Date.now();
    try {
      for (let i = 0; i < cases.length; i += CONCURRENCY) {
        outcomes.push(...(await Promise.all(cases.slice(i, i + CONCURRENCY).map(runCase))));
        if (Date.now() - started > BUDGET_MS) break;
      }
    } finally {
      fuzzing = false;
      await healthyLoop;
    }
    const elapsed = Date.now() - started;
    console.log(
      `proxy fuzz: ${outcomes.length} cases (seed ${SEED}) in ${elapsed} ms; ` +
        `${outcomes.filter((o) => o.closedByProxy).length} closed by the proxy, ` +
        `${outcomes.filter((o) => !o.closedByProxy && o.closed).length} after the client hung up; ` +
        `healthy client ran ${healthyOk} statements`,
    );
    expect(elapsed).toBeLessThan(BUDGET_MS);
    expect(outcomes).toHaveLength(CASES);
    expect(new Set(outcomes.map((o) => o.c.kind)).size).toBe(17);
    // Never a hang: every connection ended, on its own or once the client hung up.
    expect(outcomes.filter((o) => !o.closed).map(describeCase)).toEqual([]);
  });

  it("closes broken framing and refused startups itself, after a FATAL saying why", () => {
    expect(outcomes.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const o of outcomes) {
      const want = o.c.expect;
      if (!want.closes) continue;
      const ok =
        o.closedByProxy &&
        ("rows" in want
          ? o.errors.length === 0 && JSON.stringify(o.rows) === JSON.stringify(want.rows)
          : want.error === "none"
            ? o.errors.length === 0
            : want.error === "*"
              ? o.errors.length > 0
              : o.errors.includes(want.error));
      if (!ok) wrong.push(`${describeCase(o)} (expected ${JSON.stringify(want)})`);
    }
    expect(wrong).toEqual([]);
  });

  it("the healthy connection never noticed, and still works afterwards", async () => {
    expect(healthyErrors).toEqual([]);
    expect(healthyOk).toBeGreaterThan(10);
    expect((await healthy.query("SELECT $1::text AS s", ["after"])).rows).toEqual([{ s: "after" }]);
  });

  it("leaves no proxy session and no server backend behind, and serves new clients", async () => {
    expect(await eventually(() => proxy.connections() === 1, 5000)).toBe(true);
    expect(await eventually(async () => (await clientBackends()) === backendsBefore, 5000)).toBe(
      true,
    );
    const fresh = new pg.Client({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: db.name,
    });
    await fresh.connect();
    expect((await fresh.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await fresh.end();
  });
});

describe("a message with type byte 0 after startup", () => {
  // Postgres answers any unknown frontend type, 0 included, with FATAL 08P01 and a close. The
  // proxy must not mistake a typed message whose type byte is 0 for an untyped startup packet.
  async function afterStartup(
    port: number,
    body: Buffer,
    applicationName = "zero-type",
  ): Promise<{ errors: string[]; closed: boolean; raw: RawClient }> {
    const raw = await RawClient.connect(port);
    raw.write(
      startupMessage({ user: "postgres", database: db.name, application_name: applicationName }),
    );
    expect(await raw.until("Z")).toBeDefined();
    raw.write(typedMessage("\u0000", body));
    const closed = await raw.closedWithin(2000);
    const errors: string[] = [];
    for (let m = await raw.next(50); m; m = await raw.next(50))
      if (m.type === "E") errors.push(fieldsOf(m.body).C ?? "?");
    return { errors, closed, raw };
  }

  const backendsLeft = async (applicationNames: string[]) =>
    (
      await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ANY($1)",
        [applicationNames],
      )
    ).rows[0]?.n ?? -1;
  const startupBody = (applicationName = "zero-type-2") =>
    startupMessage({
      user: "postgres",
      database: "postgres",
      application_name: applicationName,
    }).subarray(4);

  it.each([
    ["a short body", () => Buffer.from("abc")],
    ["a StartupMessage body", () => startupBody()],
    ["an SSLRequest body", () => sslRequest().subarray(4)],
  ])("with %s is refused with FATAL 08P01, as Postgres refuses it", async (_name, body) => {
    const direct = await afterStartup(pgTest.env.server.port, body());
    expect(direct).toMatchObject({ errors: ["08P01"], closed: true });
    const proxied = await afterStartup(proxy.port, body());
    proxied.raw.destroy();
    expect({ errors: proxied.errors, closed: proxied.closed }).toEqual({
      errors: ["08P01"],
      closed: true,
    });
  });

  it("with a StartupMessage body opens no second server connection that outlives the client", async () => {
    const names = ["leak-check-first", "leak-check-second"];
    const proxied = await afterStartup(proxy.port, startupBody(names[1]), names[0]);
    proxied.raw.destroy();
    expect(await eventually(() => proxy.connections() <= 1, 3000), "proxy sessions").toBe(true);
    const gone = await eventually(async () => (await backendsLeft(names)) === 0, 3000);
    const left = await db.query(
      "SELECT application_name, datname, state FROM pg_stat_activity WHERE application_name = ANY($1)",
      [names],
    );
    expect(gone, `server backends left: ${JSON.stringify(left.rows)}`).toBe(true);
  });
});
