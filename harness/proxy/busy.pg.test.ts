/** `busyMs()`: the time the proxy spends in its own handlers, for the load command's CPU share. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startProxy } from "./index.ts";
import { startTestPostgres, type TestPostgres } from "./testing/index.ts";

let pgTest: TestPostgres;
let workDir: string;

beforeAll(async () => {
  pgTest = await startTestPostgres();
  workDir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-busy-"));
});

afterAll(async () => {
  await pgTest?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it("grows under traffic, stays put when idle, and never exceeds the wall time", async () => {
  const startedAt = performance.now();
  await using proxy = await startProxy({
    upstream: { host: pgTest.env.server.host, port: pgTest.env.server.port },
    rules: [
      {
        name: "never",
        match: { sql: "faultline_never" },
        fault: { type: "sqlError", sqlstate: "57014", message: "x" },
      },
    ],
    tracePath: path.join(workDir, "trace.ndjson"),
  });
  expect(proxy.busyMs()).toBe(0);
  const client = new pg.Client({
    host: proxy.host,
    port: proxy.port,
    user: "postgres",
    database: "postgres",
  });
  await client.connect();
  try {
    const before = proxy.busyMs();
    for (let i = 0; i < 500; i++) await client.query("SELECT $1::int AS n", [i]);
    for (let i = 0; i < 500; i++) await client.query(`SELECT ${i}`);
    await proxy.flushTrace();
    const after = proxy.busyMs();
    // 1000 statements through framing, rules and the trace cost something, well under the run.
    expect(after - before).toBeGreaterThan(0.5);
    expect(after).toBeLessThan(performance.now() - startedAt);
    // Idle (past the trace's flush timer): nothing more is counted.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const idle0 = proxy.busyMs();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(proxy.busyMs() - idle0).toBeLessThan(0.5);
  } finally {
    await client.end();
  }
  // Still readable (and no smaller) after stop: the trace writers' share is kept.
  const beforeStop = proxy.busyMs();
  await proxy.stop();
  expect(proxy.busyMs()).toBeGreaterThanOrEqual(beforeStop);
});
