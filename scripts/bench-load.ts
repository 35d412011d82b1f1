#!/usr/bin/env -S npx tsx
/**
 * The load generator's own ceiling, against a trivial node:http endpoint in its own process:
 *   1. a requested 2,000 req/s for a few seconds, each request a freshly templated Stripe
 *      checkout.session.completed signed as Stripe signs: the achieved rate and the share of
 *      requests sent more than 10 ms late (issue 9's bar: < 1%);
 *   2. the generator's ceiling: the highest requested rate (stepping up from 4,000/s) it
 *      sustains, i.e. ≤ 1% sent > 10 ms late, nothing dropped, every request answered and
 *      p99 < 100 ms (past its ceiling requests queue and latency grows without bound); and
 *      autocannon's rate (closed model, 100 connections, the same body unsigned) in the same
 *      run, and their ratio (issue 9's bar: ≥ 1).
 * The generator's CPU per request (this process, all threads) is printed beside each step.
 * Figures are printed, not asserted. Usage: npx tsx scripts/bench-load.ts [seconds]  (default 4)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateLoad } from "../harness/load/index.ts";
import { seededRandom } from "../harness/random/index.ts";
import { loadFixture, renderFixture, stripeProvider } from "../harness/webhooks/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const seconds = Number(process.argv[2] ?? 4);

const ENDPOINT = `
const http = require("node:http");
const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"received":true}'));
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function startEndpoint(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ["-e", ENDPOINT], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<string>((resolve) =>
    child.stdout?.once("data", (c: Buffer) => resolve(c.toString().trim())),
  );
  return { url: `http://127.0.0.1:${port}`, child };
}

async function generator(url: string, rate: number) {
  const cpu = process.cpuUsage();
  const result = await generatorRun(url, rate);
  const used = process.cpuUsage(cpu);
  return { ...result, cpuUsPerRequest: (used.user + used.system) / Math.max(result.sent, 1) };
}

async function generatorRun(url: string, rate: number) {
  const template = await loadFixture("stripe", "checkout.session.completed");
  const random = seededRandom(9);
  const nowSeconds = Math.floor(Date.now() / 1000);
  const secret = stripeProvider.newSecret(random);
  return generateLoad({
    baseUrl: url,
    profile: { rate, durationMs: seconds * 1000, rampMs: 0 },
    graceMs: 5000,
    connections: Number(process.env.CONNECTIONS ?? 64),
    build: async () => {
      const rendered = renderFixture(template, {
        provider: stripeProvider,
        fixture: "checkout.session.completed",
        random,
        nowSeconds,
        where: "stripe/checkout.session.completed",
      });
      const headers = await stripeProvider.sign(
        rendered.payload,
        secret,
        Math.floor(Date.now() / 1000),
      );
      return {
        path: "/webhooks/stripe",
        headers: { "content-type": "application/json", ...headers },
        body: rendered.payload,
      };
    },
  });
}

async function autocannon(url: string): Promise<{ rate: number; non2xx: number; errors: number }> {
  const template = await loadFixture("stripe", "checkout.session.completed");
  const body = renderFixture(template, {
    provider: stripeProvider,
    fixture: "checkout.session.completed",
    random: seededRandom(9),
    nowSeconds: Math.floor(Date.now() / 1000),
    where: "stripe/checkout.session.completed",
  }).payload;
  const bin = path.join(root, "node_modules", ".bin", "autocannon");
  const args = [
    "-c",
    "100",
    "-d",
    String(seconds),
    "-m",
    "POST",
    "-H",
    "content-type=application/json",
    "-b",
    body,
    "--json",
    `${url}/webhooks/stripe`,
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "ignore"] });
    let text = "";
    child.stdout?.on("data", (c: Buffer) => {
      text += c.toString();
    });
    child.on("error", reject);
    child.on("close", () => resolve(text));
  });
  const result = JSON.parse(out) as {
    requests: { total: number };
    duration: number;
    non2xx: number;
    errors: number;
  };
  return {
    rate: result.requests.total / result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

/** The share of time runnable tasks waited for a CPU (Linux PSI), as a noise gauge for a shared machine. */
function cpuPressure(): string {
  try {
    return readFileSync("/proc/pressure/cpu", "utf8").split(" ")[1] ?? "n/a";
  } catch {
    return "n/a";
  }
}

console.log(
  `CPU pressure before: ${cpuPressure()} (% of the last 10 s some task waited for a CPU)`,
);
const { url, child } = await startEndpoint();
try {
  const held = await generator(url, 2000);
  const heldLate = (held.late / Math.max(held.sent, 1)) * 100;
  console.log(
    `generator at 2000/s requested, signed: sent ${held.sendRate.toFixed(0)}/s, achieved ${held.achievedRate.toFixed(0)}/s, ${held.late}/${held.sent} sent >10 ms late (${heldLate.toFixed(2)}%), ${held.dropped} dropped, p99 ${held.latency.p99} ms, ${held.cpuUsPerRequest.toFixed(0)} µs CPU/request`,
  );
  // The open model has no "as fast as it can": its ceiling is the highest requested rate it
  // still sends on time and completes without a growing queue.
  let best =
    heldLate <= 1 && held.dropped === 0 && held.acked === held.sent && held.latency.p99 < 100
      ? 2000
      : 0;
  for (const rate of [4000, 6000, 8000, 10000, 12000, 16000, 20000, 24000, 32000, 48000]) {
    const r = await generator(url, rate);
    const late = (r.late / Math.max(r.sent, 1)) * 100;
    const sustained = late <= 1 && r.dropped === 0 && r.acked === r.sent && r.latency.p99 < 100;
    console.log(
      `generator at ${rate}/s requested, signed: achieved ${r.achievedRate.toFixed(0)}/s, ${late.toFixed(2)}% sent >10 ms late, ${r.sent - r.acked} unanswered, p99 ${r.latency.p99} ms, ${r.cpuUsPerRequest.toFixed(0)} µs CPU/request: ${sustained ? "sustained" : "not sustained"}`,
    );
    if (!sustained) break;
    best = rate;
  }
  const cannon = await autocannon(url);
  console.log(
    `autocannon -c 100, unsigned, same endpoint: ${cannon.rate.toFixed(0)}/s (${cannon.non2xx} non-2xx, ${cannon.errors} errors)`,
  );
  console.log(`generator ceiling (signed, sustained): ${best}/s`);
  console.log(`ratio generator ceiling / autocannon: ${(best / cannon.rate).toFixed(2)}×`);
  console.log(`CPU pressure after: ${cpuPressure()}`);
} finally {
  child.kill();
}
