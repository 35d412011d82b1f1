import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import Stripe from "stripe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type RunEnvironment,
  type ScenarioDatabase,
  startEnvironment,
} from "../harness/postgres/index.ts";
import {
  type ResolvedService,
  resolveService,
  type StartedService,
  startService,
} from "../harness/service/index.ts";
import { webhookProviders } from "../harness/webhooks/index.ts";
import { ROOT, runCli } from "./cli.ts";

// k6 is a Go binary no registry here ships: the generated script runs in Node against a
// stand-in for the k6 modules it imports (test/k6-stand-in), making real HTTP requests to the
// real reference service, which checks every signature with the Stripe library.

const STAND_IN = path.join(ROOT, "test", "k6-stand-in");
const SCENARIO = "scenarios/credits-balance-present.scenario.ts";
const SECRET = "whsec_k6_export_e2e";

interface SentRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  tags: { name?: string };
}

interface StandInResult {
  options: {
    scenarios: { webhooks: Record<string, unknown> };
    thresholds: Record<string, string[]>;
  };
  requests: SentRequest[];
  checks: { name: string; ok: boolean }[];
  summary: Record<string, string>;
  thresholdsFailed: boolean;
}

let dir: string;
let env: RunEnvironment;
let resolved: ResolvedService;
let db: ScenarioDatabase;
let service: StartedService;
let script: string;

function exec(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Run `iterations` iterations of the script with the stand-in, as one k6 VU would. */
async function runWithStandIn(
  iterations: number,
  environment: Record<string, string>,
): Promise<StandInResult> {
  const result = path.join(dir, `result-${Date.now()}.json`);
  const run = await exec(
    process.execPath,
    [
      "--import",
      path.join(STAND_IN, "register.mjs"),
      path.join(STAND_IN, "driver.mjs"),
      script,
      String(iterations),
      result,
    ],
    { cwd: dir, env: environment },
  );
  expect(run.code, run.output).toBe(0);
  return JSON.parse(await readFile(result, "utf8")) as StandInResult;
}

/** A scenario sending the other providers' webhooks, exported with `faultline k6`. */
async function exportOtherProviders(): Promise<string> {
  const scenario = path.join(dir, "other-providers.scenario.ts");
  await writeFile(
    scenario,
    `export default {
  name: "other-providers",
  randomSeed: 7,
  webhooks: [
    { provider: "standard", fixture: "invoice.paid" },
    { provider: "github", fixture: "push" },
    { provider: "lemonsqueezy", fixture: "order_created" },
  ],
  invariants: [{ invariant: "noCascade" }],
};
`,
  );
  const otherScript = path.join(dir, "other.js");
  const cli = await runCli(["k6", scenario, "--out", otherScript]);
  expect(cli.code, cli.stderr).toBe(0);
  return otherScript;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-k6-e2e-"));
  await chmod(dir, 0o755);
  // The script is plain ES module JavaScript, as k6 reads it.
  await writeFile(path.join(dir, "package.json"), '{ "type": "module" }\n');
  script = path.join(dir, "load.js");
  process.env.FAULTLINE_TMPDIR = dir;
  env = await startEnvironment();
  resolved = await resolveService("payments:fixed");
  db = await env.databases.create("k6 export", []);
  service = await startService({
    spec: resolved.spec,
    env: { DATABASE_URL: db.url, PORT: String(await freePort()), STRIPE_WEBHOOK_SECRET: SECRET },
  });
});

afterAll(async () => {
  await service?.stop();
  await resolved?.dispose();
  await env?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(dir, { recursive: true, force: true });
});

describe("faultline k6", () => {
  it("writes a script whose thresholds and arrival rate are what the flags say", async () => {
    const cli = await runCli([
      "k6",
      SCENARIO,
      "--out",
      script,
      "--rate",
      "20/s",
      "--duration",
      "10s",
      "--threshold",
      "p99<300ms",
      "--threshold",
      "errors<0.1%",
    ]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stderr).toMatch(
      /credits-balance-present \(4 webhook\(s\) in turn\) at 20\/s for 10s/,
    );
    const text = await readFile(script, "utf8");
    expect(text).toMatch(/^import crypto from "k6\/crypto";$/m);
    expect(text).toMatch(/export function handleSummary/);
  });

  it("type-checks against @types/k6", async () => {
    const tsconfig = path.join(dir, "tsconfig.json");
    await writeFile(
      tsconfig,
      JSON.stringify({
        compilerOptions: {
          allowJs: true,
          checkJs: true,
          noEmit: true,
          strict: true,
          target: "ES2020",
          lib: ["ES2020"],
          module: "ESNext",
          moduleResolution: "Bundler",
          types: ["k6"],
          typeRoots: [path.join(ROOT, "node_modules", "@types")],
        },
        files: [script, await exportOtherProviders()],
      }),
    );
    const tsc = await exec(process.execPath, [
      path.join(ROOT, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      tsconfig,
    ]);
    expect(tsc.code, tsc.output).toBe(0);
  });

  it("signs every webhook so the reference service accepts it, with fresh ids every cycle", async () => {
    const result = await runWithStandIn(12, {
      K6_TARGET: service.url,
      WEBHOOK_SECRET: SECRET,
      RUN_ID: "e2e",
      SUMMARY_JSON: "summary.json",
    });
    expect(result.options.scenarios.webhooks).toEqual({
      executor: "constant-arrival-rate",
      rate: 20,
      timeUnit: "1s",
      duration: "10s",
      preAllocatedVUs: 10,
      maxVUs: 50,
    });
    expect(result.options.thresholds).toEqual({
      http_req_duration: ["p(99)<300"],
      http_req_failed: ["rate<0.001"],
      dropped_iterations: ["count<2"],
    });
    // Every delivery accepted: the Stripe library in the service verified each signature.
    expect(result.requests.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(result.checks.every((c) => c.ok)).toBe(true);
    for (const r of result.requests) {
      expect(r.url).toBe(`${service.url}/webhooks/stripe`);
      const header = r.headers["stripe-signature"] as string;
      expect(() =>
        Stripe.webhooks.signature.verifyHeader(r.body, header, SECRET, 300),
      ).not.toThrow();
    }

    // The scenario's webhooks in turn: its values kept, ids and emails fresh per cycle.
    const events = result.requests.map(
      (r) =>
        JSON.parse(r.body) as {
          id: string;
          type: string;
          data: { object: { customer: string; customer_details: { email: string } } };
          metadata?: unknown;
        },
    );
    expect(result.requests.map((r) => r.tags.name)).toEqual(
      Array(3)
        .fill(["known-payment", "unknown-payment", "later-payment", "known-payment (again)"])
        .flat(),
    );
    for (let cycle = 0; cycle < 3; cycle++) {
      const [known, unknown, later, again] = events.slice(cycle * 4, cycle * 4 + 4) as [
        (typeof events)[0],
        (typeof events)[0],
        (typeof events)[0],
        (typeof events)[0],
      ];
      const suffix = `e2e${cycle.toString(36).padStart(7, "0")}`;
      expect(known.type).toBe("checkout.session.completed");
      expect(known.data.object.customer).toBe(`cus_KnownCustomer01_${suffix}`);
      expect(known.data.object.customer_details.email).toBe(`known+${suffix}@example.com`);
      expect(unknown.data.object.customer_details.email).toBe(`unknown+${suffix}@example.com`);
      // The same customer pays twice within a cycle, as in the scenario.
      expect(later.data.object.customer).toBe(known.data.object.customer);
      // The redelivery sends the original's bytes again.
      expect(result.requests[cycle * 4 + 3]?.body).toBe(result.requests[cycle * 4]?.body);
      expect(again.id).toBe(known.id);
    }
    const distinct = new Set(events.map((e) => e.id));
    expect(distinct.size).toBe(9);

    // The service recorded each event once and credited it once.
    const count = async (sql: string) => (await db.query(sql)).rows[0]?.n as number;
    expect(await count("SELECT count(*)::int AS n FROM webhook_events")).toBe(9);
    expect(await count("SELECT count(*)::int AS n FROM credit_grants")).toBe(9);
    expect(await count("SELECT count(*)::int AS n FROM users")).toBe(6);
    const credits = await db.query(
      "SELECT sum(g.credits)::int AS credits FROM credit_grants g JOIN users u ON u.id = g.user_id WHERE u.email LIKE 'known+%' GROUP BY u.id",
    );
    expect(credits.rows.map((r) => r.credits)).toEqual([700, 700, 700]);

    // handleSummary: a short text and k6's summary data, with the thresholds' verdicts.
    expect(result.summary.stdout).toMatch(/faultline k6: 12 webhooks/);
    expect(result.summary.stdout).toMatch(/✓ http_req_failed: rate<0\.001/);
    const summary = JSON.parse(await readFile(path.join(dir, "summary.json"), "utf8"));
    expect(summary.metrics.http_reqs.values.count).toBe(12);
  });

  it("a service with another secret rejects the script's signatures, and the errors threshold fails", async () => {
    const result = await runWithStandIn(2, {
      K6_TARGET: service.url,
      WEBHOOK_SECRET: "whsec_not_the_services",
      RUN_ID: "wrong",
    });
    expect(result.requests.map((r) => r.status)).toEqual([400, 400]);
    expect(result.thresholdsFailed).toBe(true);
    expect(result.summary.stdout).toMatch(/✗ http_req_failed: rate<0\.001/);
  });

  it("stops before sending anything when WEBHOOK_SECRET is not set", async () => {
    const run = await exec(
      process.execPath,
      [
        "--import",
        path.join(STAND_IN, "register.mjs"),
        path.join(STAND_IN, "driver.mjs"),
        script,
        "1",
        path.join(dir, "no-secret.json"),
      ],
      { cwd: dir, env: { K6_TARGET: service.url, WEBHOOK_SECRET: "" } },
    );
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/test aborted: WEBHOOK_SECRET is not set/);
  });

  it("ramps with --ramp, and rejects a rate or threshold it cannot parse with exit 2", async () => {
    const ramped = await runCli([
      "k6",
      SCENARIO,
      "--rate",
      "600/m",
      "--duration",
      "2m",
      "--ramp",
      "30s",
      "--threshold",
      "p99.9<1s",
    ]);
    expect(ramped.code, ramped.stderr).toBe(0);
    const options = /export const options = (\{[\s\S]*?\n\});/.exec(ramped.stdout)?.[1];
    expect(JSON.parse(options ?? "null")).toMatchObject({
      scenarios: {
        webhooks: {
          executor: "ramping-arrival-rate",
          startRate: 0,
          timeUnit: "1m",
          stages: [
            // As in `faultline load`, the ramp is the start of --duration, not added to it.
            { duration: "30s", target: 600 },
            { duration: "1m30s", target: 600 },
          ],
        },
      },
      thresholds: { http_req_duration: ["p(99.9)<1000"] },
    });

    const badRate = await runCli(["k6", SCENARIO, "--rate", "fast"]);
    expect(badRate.code).toBe(2);
    expect(badRate.stderr).toMatch(/--rate: expected .*200\/s.*got "fast"/);
    // The same parser as `faultline load`: a fractional rate reads, but k6 needs whole numbers.
    const fractional = await runCli(["k6", SCENARIO, "--rate", "0.5/s"]);
    expect(fractional.code).toBe(2);
    expect(fractional.stderr).toMatch(/--rate: k6 takes a whole number .* 0\.5\/s is 30\/m/);
    const badThreshold = await runCli(["k6", SCENARIO, "--threshold", "p99<300"]);
    expect(badThreshold.code).toBe(2);
    expect(badThreshold.stderr).toMatch(/--threshold: expected .*p99<300ms/);
  });

  it("signs standard, github and lemonsqueezy webhooks exactly as faultline's providers do", async () => {
    const otherScript = await exportOtherProviders();
    // Any 200 will do: the check is on the bytes and headers that were sent.
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(200).end("ok"));
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as { port: number };
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    try {
      const previous = script;
      script = otherScript;
      const result = await runWithStandIn(6, {
        K6_TARGET: `http://127.0.0.1:${port}`,
        WEBHOOK_SECRET: secret,
        RUN_ID: "other",
      }).finally(() => {
        script = previous;
      });
      expect(result.requests.map((r) => new URL(r.url).pathname)).toEqual(
        Array(2).fill(["/webhooks/standard", "/webhooks/github", "/webhooks/lemonsqueezy"]).flat(),
      );
      for (const [i, r] of result.requests.entries()) {
        const provider = webhookProviders[["standard", "github", "lemonsqueezy"][i % 3] as string];
        const timestamp = Number(r.headers["webhook-timestamp"] ?? 0);
        const fixture = ["invoice.paid", "push", "order_created"][i % 3] as string;
        const expected = await provider?.sign(r.body, secret, timestamp, {
          fixture,
          eventId: "",
          type: "",
        });
        expect(r.headers).toMatchObject(expected ?? { missing: true });
      }
      // Fresh ids in each cycle.
      const ids = result.requests
        .filter((_, i) => i % 3 === 0)
        .map((r) => (JSON.parse(r.body) as { id?: string }).id ?? r.headers["webhook-id"]);
      expect(new Set(ids).size).toBe(2);
    } finally {
      receiver.close();
    }
  });
});
