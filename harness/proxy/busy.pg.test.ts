/**
 * The proxy's own time (`busyMs`), which `faultline load` turns into the proxy's share of a
 * CPU core: it must grow with traffic, stay put while nothing flows, and never exceed the time
 * that passed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedProxy, startProxy } from "./index.ts";
import { startTestPostgres, type TestPostgres } from "./testing.ts";

let pgTest: TestPostgres;
let proxy: StartedProxy;
let dir: string;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  dir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-busy-"));
  proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
    tracePath: path.join(dir, "trace.ndjson"),
    rules: [
      {
        name: "never",
        match: { sql: "faultline_never_matches" },
        fault: { type: "sqlError", sqlstate: "57014", message: "never" },
      },
    ],
  });
});

afterAll(async () => {
  await proxy?.stop();
  await pgTest?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("busyMs", () => {
  it("grows with statements, not with idle time, and stays below the wall time", async () => {
    const client = new pg.Client({
      host: proxy.host,
      port: proxy.port,
      user: "postgres",
      database: "postgres",
    });
    await client.connect();
    try {
      const before = proxy.busyMs();
      await new Promise((r) => setTimeout(r, 300));
      // Nothing flowed: nothing counted (the trace's timer may format a line or two).
      expect(proxy.busyMs() - before).toBeLessThan(5);

      const started = performance.now();
      const busyAtStart = proxy.busyMs();
      for (let i = 0; i < 500; i++) await client.query("SELECT $1::int AS n", [i]);
      await proxy.flushTrace();
      const wall = performance.now() - started;
      const busy = proxy.busyMs() - busyAtStart;
      expect(busy).toBeGreaterThan(0);
      expect(busy).toBeLessThan(wall);
    } finally {
      await client.end();
    }
  });
});
