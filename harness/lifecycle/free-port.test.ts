import { createServer, type Server } from "node:net";
import { describe, expect, it } from "vitest";
import { ephemeralRange, freePort, pickWindow } from "./free-port.ts";

describe("freePort", () => {
  it("hands out distinct ports outside the kernel's ephemeral range that can be listened on", async () => {
    const [low, high] = ephemeralRange();
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect(port < low || port > high).toBe(true);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ports[0], "127.0.0.1", resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });

  it("never hands out a port something listens on, nor one it gave before", async () => {
    // A window of 40 ports of which everything but 5 is taken: those 5 come out, in some
    // order, and then, with the window used up, ports the kernel picks.
    // Away from the default window, whose ports the test above has been handed already.
    const [, ephemeralHigh] = ephemeralRange();
    const start = ephemeralHigh + 1 + Math.floor(Math.random() * (65_535 - ephemeralHigh - 40));
    const window: [number, number] = [start, start + 39];
    const held: Server[] = [];
    const free: number[] = [];
    for (let port = start; port <= start + 39; port++) {
      const server = createServer();
      const listening = await new Promise<boolean>((resolve) => {
        server.once("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => resolve(true));
      });
      if (listening && free.length < 5 && port % 7 === 0) {
        await new Promise((r) => server.close(r));
        free.push(port);
      } else if (listening) held.push(server);
    }
    try {
      const got: number[] = [];
      for (let i = 0; i < free.length; i++) got.push(await freePort(window));
      expect(got.sort()).toEqual(free.sort());
      const after = await freePort(window);
      expect(after < start || after > start + 39).toBe(true);
    } finally {
      await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it("picks the wider gap beside the ephemeral range, and none when there is none", () => {
    expect(pickWindow([32768, 60999])).toEqual([10000, 32767]);
    expect(pickWindow([49152, 65535])).toEqual([10000, 49151]);
    expect(pickWindow([1024, 20000])).toEqual([20001, 65535]);
    const [low, high] = pickWindow([1024, 65535]);
    expect(high - low).toBeLessThan(1000);
  });
});
