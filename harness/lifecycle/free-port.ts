import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A port handed to a process we start (Postgres, the service) is free when we look and bound
 * by that process only later, after it has started up. The kernel hands out ports from its
 * ephemeral range to every `listen(0)` (our proxies, a parallel job's own probe) and every
 * outgoing connection in that gap, so a port taken from that range can be given away twice.
 * Ports are therefore picked at random below the ephemeral range, where the kernel never
 * assigns one by itself, and never twice by one process; `listen(0)` is the fallback when the
 * range leaves no room below it.
 */
const handedOut = new Set<number>();
const LOWEST = 10_000;
const ATTEMPTS = 64;

/**
 * A TCP port that was free a moment ago on 127.0.0.1, and that no other caller in this process
 * got, from `window` (default: beside the ephemeral range) while it has one left.
 */
export async function freePort(window: [number, number] = defaultWindow()): Promise<number> {
  const [low, high] = window;
  if (high >= low) {
    // From a random place, the next ports in turn: a small window is searched whole.
    const size = high - low + 1;
    const first = Math.floor(Math.random() * size);
    for (let i = 0; i < Math.min(size, ATTEMPTS); i++) {
      const port = low + ((first + i) % size);
      if (handedOut.has(port)) continue;
      if (await canListen(port)) {
        handedOut.add(port);
        return port;
      }
    }
  }
  for (;;) {
    const port = await listenOnce(0);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

let cachedWindow: [number, number] | undefined;
function defaultWindow(): [number, number] {
  if (!cachedWindow) {
    const window = pickWindow(ephemeralRange());
    // Too narrow a gap would be used up by one busy run: leave it to the kernel then.
    cachedWindow = window[1] - window[0] >= 1000 ? window : [1, 0];
  }
  return cachedWindow;
}

/** The kernel's ephemeral range: Linux says; elsewhere the IANA range that macOS and Windows use. */
export function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low && high && low <= high) return [low, high];
  } catch {
    // Not Linux.
  }
  return [49_152, 65_535];
}

/** The ports to choose from: the wider of the gaps below and above the ephemeral range. */
export function pickWindow([low, high]: [number, number]): [number, number] {
  const below: [number, number] = [LOWEST, Math.min(low - 1, 65_535)];
  const above: [number, number] = [Math.max(high + 1, LOWEST), 65_535];
  return below[1] - below[0] >= above[1] - above[0] ? below : above;
}

async function canListen(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}
