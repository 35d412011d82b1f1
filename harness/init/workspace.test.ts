import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { guessColumn } from "./column.ts";
import { sampleVariables } from "./env.ts";
import { detectSelfMigration, schemasNotCreated } from "./migrations.ts";
import { Repo } from "./repo.ts";
import { detectService } from "./service.ts";
import { detectEventType, detectWebhook } from "./webhook.ts";
import { execLine } from "./workspace.ts";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function repo(files: Record<string, string>): Repo {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-init-ws-"));
  made.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return new Repo(dir);
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

describe("start scripts", () => {
  it("runs a VAR=value prefix through env, as sh cannot exec it", () => {
    expect(execLine("NODE_ENV=production node dist/src/server.js")).toBe(
      "exec env NODE_ENV=production node dist/src/server.js",
    );
    expect(execLine("A=1 B=2 node x.js")).toBe("exec env A=1 B=2 node x.js");
    expect(execLine("node server.js")).toBe("exec node server.js");
    expect(execLine("exec node server.js")).toBe("exec node server.js");
  });
});

describe("workspaces", () => {
  const files = {
    "package.json": json({ name: "root", private: true, packageManager: "pnpm@9.15.0+sha512.abc" }),
    "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
    "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    "apps/api/package.json": json({
      name: "@acme/api",
      scripts: { build: "tsc", start: "NODE_ENV=production node dist/server.js" },
      dependencies: { "@acme/engine": "workspace:*", fastify: "^5" },
    }),
    "apps/api/src/server.ts": 'app.post("/webhooks", (req) => req.headers["stripe-signature"]);',
    "packages/engine/package.json": json({ name: "@acme/engine", scripts: { build: "tsc" } }),
  };

  it("builds from the root with the pinned package manager, the workspace packages first", () => {
    const r = repo(files);
    const service = detectService(r, detectWebhook(r)?.value.file);
    expect(service?.value.cwd).toBe("apps/api");
    expect(service?.value.command).toBe("exec env NODE_ENV=production node dist/server.js");
    expect(service?.value.build).toBe(
      'cd ../.. && npx --yes pnpm@9.15.0 install --frozen-lockfile && npx --yes pnpm@9.15.0 --filter "@acme/api..." run build',
    );
    expect(service?.evidence.map((e) => e.file)).toContain("package.json");
  });

  it("uses npm workspaces' own order, and yarn's manager when the lock file says yarn", () => {
    const npm = repo({
      "package.json": json({ name: "root", workspaces: ["apps/*", "packages/*"] }),
      "package-lock.json": "{}",
      "apps/api/package.json": json({
        name: "api",
        scripts: { build: "tsc", start: "node dist/server.js" },
        dependencies: { engine: "*" },
      }),
      "packages/engine/package.json": json({ name: "engine" }),
    });
    expect(detectService(npm, "apps/api/server.ts")?.value.build).toBe(
      "cd ../.. && npm ci && npm run build --if-present -w engine -w api",
    );
    const yarn = repo({
      "package.json": json({ name: "solo", scripts: { build: "tsc", start: "yarn node x.js" } }),
      "yarn.lock": "",
    });
    const guess = detectService(yarn, undefined);
    expect(guess?.value.build).toBe("npx --yes yarn@latest run build");
    expect(guess?.value.command).toBe("exec npx --yes yarn@latest start");
  });
});

describe("sample env files", () => {
  it("sets every variable the sample lists, the sample's value or a dummy, never faultline's own", () => {
    const r = repo({
      "apps/api/.env.sample":
        "# comment\nDATABASE_URL=postgres://x\nSTRIPE_WEBHOOK_SECRET=whsec_x\nSTRIPE_SECRET_KEY=\nexport SCHEMA='stripe'\nAPI_KEY=<your key>\nPORT=8080\n",
    });
    const vars = sampleVariables(r, "apps/api", ["DATABASE_URL"]);
    expect(vars.map((v) => [v.name, v.value, v.dummy])).toEqual([
      ["STRIPE_SECRET_KEY", "sk_test_faultline_dummy", true],
      ["SCHEMA", "stripe", false],
      ["API_KEY", "faultline-dummy", true],
    ]);
    expect(vars[0]?.at).toEqual({ file: "apps/api/.env.sample", line: 4 });
    expect(sampleVariables(repo({ "x.js": "" }), ".", [])).toEqual([]);
  });
});

describe("a dispatcher's switch", () => {
  const files = {
    "server.js":
      'import { handle } from "./engine.js";\napp.post("/webhooks", (req) => handle(req.headers["stripe-signature"]));\n',
    "engine.js": `export async function handle(event) {
  switch (event.type) {
    case "customer.created":
    case "customer.updated":
      await db.query("INSERT INTO stripe.customers (id, email, balance) VALUES ($1, $2, $3)");
      return;
    case "invoice.paid":
      await db.query("INSERT INTO stripe.invoices (id, amount_paid, status) VALUES ($1, $2, 'paid')");
      return;
    default:
      return;
  }
}
`,
    "migrations/0001.sql":
      "CREATE TABLE stripe.customers (\n  id text PRIMARY KEY,\n  email text,\n  balance bigint\n);\nCREATE TABLE stripe.invoices (\n  id text PRIMARY KEY,\n  amount_paid bigint,\n  status text\n);\n",
  };
  const fixtures = ["checkout.session.completed", "customer.created", "invoice.paid"];

  it("finds the events a handler hands on, in the file with the most event tests", () => {
    const r = repo(files);
    const event = detectEventType(r, "server.js", fixtures);
    expect(event.value).toBe("customer.created");
    expect(event.evidence[0]).toMatchObject({ file: "engine.js", line: 3 });
  });

  it("drops a schema-qualified column that the chosen event's branch writes", () => {
    const r = repo(files);
    const event = detectEventType(r, "server.js", fixtures);
    expect(guessColumn(r, "server.js", ["migrations/0001.sql"], event)?.value).toBe(
      "stripe.customers.balance",
    );
    const invoice = { value: "invoice.paid", evidence: [{ file: "engine.js", line: 7, text: "" }] };
    expect(guessColumn(r, "server.js", ["migrations/0001.sql"], invoice)?.value).toBe(
      "stripe.invoices.amount_paid",
    );
  });
});

describe("a service that migrates itself", () => {
  it("is found where the server starts and calls its migrator, not in a one-off script", () => {
    const r = repo({
      "src/server.js": "await runMigrations(pool);\nserver.listen(port);\n",
      "scripts/migrate.js": "await runMigrations(pool);\n",
    });
    expect(detectSelfMigration(r)).toMatchObject({ file: "src/server.js", line: 1 });
    expect(detectSelfMigration(repo({ "scripts/migrate.js": "await runMigrations(pool);" }))).toBe(
      undefined,
    );
  });

  it("names the schemas SQL files use but never create", () => {
    const r = repo({
      "m/0001.sql": "CREATE TABLE stripe.products (id text);\nCREATE TABLE public.x (id int);",
      "m/0002.sql":
        "CREATE SCHEMA billing; CREATE TABLE billing.y (id int REFERENCES stripe.products);",
    });
    expect(schemasNotCreated(r, ["m/0001.sql", "m/0002.sql"])).toEqual(["stripe"]);
  });
});
