import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { generateLoad } from "./generator.ts";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A real HTTP endpoint that answers after `delayMs`, counting what it got. */
async function endpoint(delayMs: number, status = 200) {
  const seen = { requests: 0, bodies: new Set<string>() };
  const listening = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.requests++;
      seen.bodies.add(body);
      setTimeout(() => res.writeHead(status).end("ok"), delayMs);
    });
  });
  server = listening;
  await new Promise<void>((r) => listening.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`, seen };
}

const build = (index: number) => ({ path: "/hook", headers: {}, body: `request ${index}` });

describe("generateLoad", () => {
  it("sends on schedule whether or not earlier requests returned (open model)", async () => {
    // Every response takes 300 ms; a closed-loop client with few connections would fall behind.
    const { url, seen } = await endpoint(300);
    const result = await generateLoad({
      baseUrl: url,
      profile: { rate: 100, durationMs: 1000, rampMs: 0 },
      build,
    });
    expect(result.sent).toBe(100);
    expect(result.acked).toBe(100);
    expect(seen.bodies.size).toBe(100);
    expect(result.late / result.sent).toBeLessThan(0.05);
    expect(result.latency.p50).toBeGreaterThanOrEqual(299);
    expect(result.latency.max).toBeLessThan(1000);
  });

  it("measures latency from the intended send time, so a generator stall shows as latency", async () => {
    const { url } = await endpoint(0);
    const stallUntil = performance.now() + 400;
    const result = await generateLoad({
      baseUrl: url,
      profile: { rate: 50, durationMs: 1000, rampMs: 0 },
      // The first request blocks the event loop for 400 ms: the ones due meanwhile go out late.
      build: (index) => {
        if (index === 0) while (performance.now() < stallUntil);
        return build(index);
      },
    });
    expect(result.sent).toBe(50);
    expect(result.late).toBeGreaterThanOrEqual(15);
    expect(result.latency.max).toBeGreaterThanOrEqual(350);
  });

  it("counts statuses and stops sending when aborted", async () => {
    const { url, seen } = await endpoint(0, 503);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = performance.now();
    const result = await generateLoad({
      baseUrl: url,
      profile: { rate: 100, durationMs: 5000, rampMs: 0 },
      build,
      signal: controller.signal,
    });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(result.stoppedEarly).toBe(true);
    expect(result.sent).toBeLessThan(60);
    expect(result.dropped).toBe(result.scheduled - result.sent);
    expect(result.byStatus).toEqual({ "503": result.sent });
    expect(seen.requests).toBe(result.sent);
  });

  it("builds each request ahead of its due time, in index order, at most lookaheadMs early", async () => {
    const { url, seen } = await endpoint(0);
    const builtAt: number[] = [];
    const order: number[] = [];
    let started = 0;
    const result = await generateLoad({
      baseUrl: url,
      profile: { rate: 100, durationMs: 500, rampMs: 0 },
      lookaheadMs: 30,
      build: (index) => {
        if (index === 0) started = performance.now();
        builtAt[index] = performance.now() - started;
        order.push(index);
        return build(index);
      },
    });
    expect(result.sent).toBe(50);
    expect(seen.requests).toBe(50);
    expect(order).toEqual([...Array(50).keys()]);
    // Request k is due at 10·k ms: built before that (mostly), never more than 30 ms (+ a timer's slack) early.
    const early = builtAt.map((at, k) => 10 * k - at);
    expect(Math.max(...early)).toBeLessThanOrEqual(33);
    expect(early.filter((e) => e > 0).length).toBeGreaterThan(25);
  });

  it("records a request whose build failed as an error without sending it, and keeps going", async () => {
    const { url, seen } = await endpoint(0);
    const outcomes: { index: number; status: number; error?: string }[] = [];
    const result = await generateLoad({
      baseUrl: url,
      profile: { rate: 100, durationMs: 200, rampMs: 0 },
      build: async (index) => {
        if (index === 3) throw new Error("template exploded");
        return build(index);
      },
      onOutcome: (o) => outcomes.push(o),
    });
    expect(result.sent).toBe(20);
    expect(seen.requests).toBe(19);
    expect(result.byStatus).toEqual({ "200": 19, "no response": 1 });
    expect(outcomes.find((o) => o.index === 3)?.error).toBe("Error: template exploded");
  });

  it("sends a path that names another origin there, on its own connections", async () => {
    const first = await endpoint(0);
    const firstServer = server;
    const second = await endpoint(0);
    try {
      const result = await generateLoad({
        baseUrl: first.url,
        profile: { rate: 100, durationMs: 200, rampMs: 0 },
        build: (index) => ({ ...build(index), path: index % 2 ? `${second.url}/other` : "/hook" }),
      });
      expect(result.acked).toBe(20);
      expect(first.seen.requests).toBe(10);
      expect(second.seen.requests).toBe(10);
    } finally {
      firstServer?.closeAllConnections();
      firstServer?.close();
    }
  });
});
