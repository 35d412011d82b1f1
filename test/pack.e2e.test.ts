/**
 * faultline as a user gets it: `npm pack` → `npm install <tarball>` into a fresh project →
 * `npx faultline init` on a tiny Node service there → `npx faultline run` → the starter scenario
 * and config type-check against the shipped .d.ts files → the same scenario as the project's own
 * vitest test, through `runScenario` and the `faultline/vitest` matchers, run and type-checked.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./cli.ts";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], cwd: string, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      // npm_config_* from the vitest run (an npm script) would point npm at this repository.
      { cwd, timeout, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_/i.test(k) && k !== "INIT_CWD") env[k] = v;
  return env;
}

const show = (r: Ran) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

// A plain node:http service on pg: records each payment and adds its credits to the customer,
// in one transaction. The credit update sits behind a savepoint, so a drifted schema (the
// column gone) costs the credit, not the payment, and never poisons the pooled connection.
const SERVER = `const http = require("node:http");
const crypto = require("node:crypto");
const { Pool } = require("pg");

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const secret = process.env.STRIPE_WEBHOOK_SECRET;

function verified(body, header) {
  const fields = String(header || "").split(",").map((kv) => kv.split("="));
  const t = fields.find(([k]) => k === "t")?.[1];
  const expected = crypto.createHmac("sha256", secret).update(t + "." + body).digest("hex");
  return fields.some(([k, v]) => k === "v1" && v === expected);
}

async function credit(event) {
  const session = event.data.object;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      "INSERT INTO payments (event_id, customer, amount_total) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
      [event.id, session.customer, session.amount_total],
    );
    await client.query("SAVEPOINT credits");
    try {
      await client.query(
        "UPDATE customers SET credits_balance = credits_balance + $1 WHERE stripe_customer_id = $2",
        [Number(session.metadata?.credits ?? 0), session.customer],
      );
    } catch (error) {
      console.error("credits not applied:", error.message);
      await client.query("ROLLBACK TO SAVEPOINT credits");
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

const server = http.createServer(async (req, res) => {
  if (req.method === "POST" && req.url === "/webhooks/stripe") {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString("utf8");
    if (!verified(body, req.headers["stripe-signature"])) {
      res.writeHead(400).end("bad signature");
      return;
    }
    const event = JSON.parse(body);
    try {
      if (event.type === "checkout.session.completed") await credit(event);
      res.writeHead(200, { "content-type": "application/json" }).end('{"received":true}');
    } catch (error) {
      console.error(error);
      res.writeHead(500).end("error");
    }
    return;
  }
  res.writeHead(200).end("ok");
});
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => pool.end().then(() => process.exit(0))));
`;

const MIGRATION = `CREATE TABLE customers (
  id serial PRIMARY KEY,
  stripe_customer_id text UNIQUE,
  email text,
  credits_balance integer NOT NULL DEFAULT 0
);
CREATE TABLE payments (
  event_id text PRIMARY KEY,
  customer text,
  amount_total integer
);
`;

// The starter scenario as the project's own vitest test: the config's service passes it, and the
// same service block with the broken server as its command reproduces the cascade.
const VITEST_TEST = `import { runScenario, stopEnvironments } from "faultline";
import "faultline/vitest";
import { afterAll, expect, it } from "vitest";

afterAll(stopEnvironments);

it("the service keeps payments flowing when credits_balance is missing", async () => {
  const result = await runScenario("faultline/incident.scenario.ts");
  expect(result).toHaveNoCascade();
  expect(result).toPassInvariant("noCascade");
}, 60_000);

it("the pre-fix server cascades", async () => {
  const result = await runScenario("faultline/incident.scenario.ts", {
    service: "exec node server-broken.js",
  });
  expect(result).not.toHaveNoCascade();
  expect(result.sqlstates["25P02"]).toBeGreaterThan(0);
}, 60_000);
`;

let work: string;
let app: string;
let tarball: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "faultline-pack-"));
  app = path.join(work, "app");
  await mkdir(app);
}, 10_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed package in a fresh project", () => {
  it("npm pack builds dist/ and ships it with the fixtures, without sources or tests", async () => {
    const packed = await sh("npm", ["pack", "--json", "--pack-destination", work], ROOT, 120_000);
    expect(packed.code, show(packed)).toBe(0);
    // prepack's build prints to stdout before npm's JSON.
    const json = packed.stdout.slice(packed.stdout.indexOf("\n[") + 1);
    const [info] = JSON.parse(json) as [{ filename: string; files: { path: string }[] }];
    tarball = path.join(work, info.filename);
    const files = info.files.map((f) => f.path);
    for (const needed of [
      "bin/faultline.mjs",
      "dist/cli.js",
      "dist/index.js",
      "dist/types/index.d.ts",
      "fixtures/webhooks/stripe/checkout.session.completed.json",
      "fixtures/schema/001_create_tables.sql",
      "fixtures/services/payments/main.ts",
    ])
      expect(files).toContain(needed);
    expect(files.filter((f) => f.startsWith("harness/") || f.endsWith(".test.ts"))).toEqual([]);
  }, 120_000);

  it("installs into a fresh project; the bin runs with no TypeScript loader", async () => {
    expect(tarball).toBeDefined();
    writeFileSync(
      path.join(app, "package.json"),
      `${JSON.stringify({ name: "tiny-payments", version: "1.0.0", private: true, scripts: { start: "node server.js" } }, null, 2)}\n`,
    );
    const install = await sh(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        tarball,
        "pg",
        "typescript@~5.9.3",
        "@types/node@^20",
        "vitest@^4",
      ],
      app,
      120_000,
    );
    expect(install.code, show(install)).toBe(0);
    const installed = path.join(app, "node_modules", "faultline");
    expect(existsSync(path.join(installed, "dist", "cli.js"))).toBe(true);
    expect(existsSync(path.join(installed, "harness"))).toBe(false);
    expect(existsSync(path.join(app, "node_modules", "tsx"))).toBe(false);

    const help = await sh("npx", ["--no-install", "faultline", "--help"], app);
    expect(help.code, show(help)).toBe(0);
    expect(help.stdout).toMatch(/faultline init \[dir\]/);

    // The library entry resolves through `exports` to dist/index.js.
    const api = await sh(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const m = await import("faultline"); console.log(typeof m.defineScenario, typeof m.dropColumn);',
      ],
      app,
    );
    expect(api.code, show(api)).toBe(0);
    expect(api.stdout.trim()).toBe("function function");

    // The HTML report inlines uPlot read from node_modules and its page's script prebuilt in
    // dist/ (an installed copy has no page sources to bundle): both must be found from dist.
    const html = await sh(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const m = await import("faultline"); const page = m.toHtmlReport({ title: "t", sides: [] }); console.log(page.includes("uPlot"), page.length > 40000, page.includes("faultlineReport"));',
      ],
      app,
    );
    expect(html.code, show(html)).toBe(0);
    expect(html.stdout.trim()).toBe("true true true");

    // vitest is an optional peer: only the faultline/vitest entry imports it.
    const dist = path.join(installed, "dist");
    const importers = readdirSync(dist).filter(
      (f) =>
        f.endsWith(".js") && /from\s*["']vitest["']/.test(readFileSync(path.join(dist, f), "utf8")),
    );
    expect(importers).toEqual(["vitest.js"]);
    const manifest = JSON.parse(readFileSync(path.join(installed, "package.json"), "utf8"));
    expect(manifest.peerDependenciesMeta?.vitest?.optional).toBe(true);
  }, 120_000);

  it("npx faultline init writes a config and a scenario for a plain node:http + pg service", async () => {
    writeFileSync(path.join(app, "server.js"), SERVER);
    await mkdir(path.join(app, "migrations"));
    writeFileSync(path.join(app, "migrations", "001_init.sql"), MIGRATION);
    const init = await sh("npx", ["--no-install", "faultline", "init"], app);
    expect(init.code, show(init)).toBe(0);
    expect(init.stdout).toContain("wrote faultline.config.ts");
    expect(init.stdout).toContain("wrote faultline/incident.scenario.ts");
    expect(init.stdout).toMatch(/server\.js:\d+ +if \(req\.method === "POST" && req\.url/);

    const config = readFileSync(path.join(app, "faultline.config.ts"), "utf8");
    expect(config).toContain(`command: "exec node server.js"`);
    expect(config).toContain(`database: { migrations: "./migrations", postgres: "embedded" }`);
    expect(config).toContain(`webhooks: { stripe: { path: "/webhooks/stripe" } }`);
    expect(config).toContain("DATABASE_URL: databaseUrl,");
    const scenario = readFileSync(path.join(app, "faultline", "incident.scenario.ts"), "utf8");
    expect(scenario).toContain(`dropColumn("customers.credits_balance")`);

    const again = await sh("npx", ["--no-install", "faultline", "init"], app);
    expect(again.stdout).toContain("kept (exists, not overwritten) faultline.config.ts");

    const missing = await sh("npx", ["--no-install", "faultline", "init", "no-such-folder"], app);
    expect(missing.code, show(missing)).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the folder .*no-such-folder/);
  }, 60_000);

  it("the scenario and the config type-check against the shipped types", async () => {
    writeFileSync(
      path.join(app, "tsconfig.json"),
      `${JSON.stringify(
        {
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"],
          },
          include: ["faultline/**/*.ts", "faultline.config.ts"],
        },
        null,
        2,
      )}\n`,
    );
    const tsc = await sh(
      process.execPath,
      [path.join(app, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      app,
    );
    expect(tsc.code, show(tsc)).toBe(0);
    // And a mistake in a scenario is a type error, so the check above means something.
    writeFileSync(
      path.join(app, "faultline", "typo.scenario.ts"),
      `import { defineScenario } from "faultline";\nexport default defineScenario({ name: "x", webhooks: [], invariants: [], randomSeeed: 1 });\n`,
    );
    const typo = await sh(
      process.execPath,
      [path.join(app, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--skipLibCheck"],
      app,
    );
    rmSync(path.join(app, "faultline", "typo.scenario.ts"));
    expect(typo.code).not.toBe(0);
    expect(typo.stdout).toContain("randomSeeed");
  }, 60_000);

  it("npx faultline run passes the starter scenario", async () => {
    const run = await sh("npx", ["--no-install", "faultline", "run"], app, 80_000);
    expect(run.code, show(run)).toBe(0);
    expect(run.stdout).toMatch(/PASS\s+incident/);

    // The incident's bug: the error is swallowed and the transaction carried on (25P02).
    const broken = SERVER.replace('"ROLLBACK TO SAVEPOINT credits"', '"SELECT 1"');
    expect(broken).not.toBe(SERVER);
    writeFileSync(path.join(app, "server.js"), broken);
    const failed = await sh("npx", ["--no-install", "faultline", "run"], app, 80_000);
    writeFileSync(path.join(app, "server.js"), SERVER);
    expect(failed.code, show(failed)).toBe(1);
    expect(failed.stdout).toMatch(/FAIL\s+incident/);
    expect(failed.stdout).toMatch(/noCascade/);
  }, 90_000);
  it("the project's own vitest test runs the incident through runScenario and faultline/vitest", async () => {
    // The incident's bug as a second server: the error swallowed, the transaction carried on.
    const broken = SERVER.replace('"ROLLBACK TO SAVEPOINT credits"', '"SELECT 1"');
    writeFileSync(path.join(app, "server-broken.js"), broken);
    await mkdir(path.join(app, "test"), { recursive: true });
    writeFileSync(path.join(app, "test", "incident.test.ts"), VITEST_TEST);
    const run = await sh(
      process.execPath,
      [path.join(app, "node_modules", "vitest", "vitest.mjs"), "run"],
      app,
      90_000,
    );
    expect(run.code, show(run)).toBe(0);
    expect(run.stdout).toContain("2 passed");
  }, 120_000);

  it("the vitest test type-checks: the matchers are on vitest's Assertion, a typo is an error", async () => {
    writeFileSync(
      path.join(app, "tsconfig.vitest.json"),
      `${JSON.stringify({ extends: "./tsconfig.json", include: ["test/**/*.ts"] }, null, 2)}\n`,
    );
    const tsc = (...args: string[]) =>
      sh(
        process.execPath,
        [
          path.join(app, "node_modules", "typescript", "bin", "tsc"),
          "-p",
          "tsconfig.vitest.json",
          ...args,
        ],
        app,
      );
    const typed = await tsc();
    expect(typed.code, show(typed)).toBe(0);

    writeFileSync(
      path.join(app, "test", "typo.test.ts"),
      `import { runScenario } from "faultline";\nimport "faultline/vitest";\nimport { expect, it } from "vitest";\nit("x", async () => {\n  expect(await runScenario("faultline/incident.scenario.ts")).toHaveNoCascde();\n  expect(await runScenario("faultline/incident.scenario.ts")).toPassInvariant(7);\n});\n`,
    );
    const typo = await tsc("--skipLibCheck");
    rmSync(path.join(app, "test", "typo.test.ts"));
    expect(typo.code).not.toBe(0);
    expect(typo.stdout).toContain("toHaveNoCascde");
    expect(typo.stdout).toMatch(/typo\.test\.ts\(6,.*not assignable to parameter of type 'string'/);
  }, 60_000);
});
