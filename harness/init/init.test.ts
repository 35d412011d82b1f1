import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { register } from "tsx/esm/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeSharedData, sharedData } from "../../test/shared-data.ts";
import { BadUsageError } from "../errors.ts";
import { loadScenario } from "../scenario/index.ts";
import { CONFIG_FILE, formatInitReport, initProject, SCENARIO_FILE } from "./index.ts";
import { detectDatabase } from "./migrations.ts";
import { Repo } from "./repo.ts";
import { detectWebhook } from "./webhook.ts";

// loadScenario imports the compiled scenario natively, and it imports harness/index.ts: Node 20
// needs a TypeScript loader for that outside the CLI's bundle.
let unregister: (() => Promise<void>) | undefined;
beforeAll(() => {
  unregister = register();
});
afterAll(async () => {
  await unregister?.();
});

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fake repository in a temp dir: path → content. */
function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-init-"));
  made.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

// A Next.js + drizzle SaaS as faultline's tests imagine one: app router, drizzle-kit migrations
// under lib/db, postgres.js on POSTGRES_URL, and a webhook route that hands subscription events
// to lib/billing, which writes through drizzle.
const nextDrizzle = {
  "package.json": JSON.stringify(
    { scripts: { dev: "next dev", build: "next build", start: "next start" } },
    null,
    2,
  ),
  "drizzle.config.ts": `import { defineConfig } from "drizzle-kit";

export default defineConfig({
  out: "./lib/db/migrations",
  schema: "./lib/db/schema.ts",
  dialect: "postgresql",
  dbCredentials: { url: process.env.POSTGRES_URL ?? "" },
});
`,
  ".env.example":
    "POSTGRES_URL=postgres://localhost:5432/teamboard\nSTRIPE_WEBHOOK_SECRET=whsec_x\n",
  ".env": "POSTGRES_URL=postgres://app:hunter2@db.internal/app\n",
  "lib/db/migrations/0000_teams_and_billing.sql": `CREATE TABLE "teams" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"name" varchar(120) NOT NULL,
\t"stripe_customer_id" text
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"team_id" integer NOT NULL,
\t"stripe_subscription_id" text NOT NULL,
\t"status" varchar(32) NOT NULL,
\t"seats" integer DEFAULT 1 NOT NULL,
\t"updated_at" timestamp DEFAULT now() NOT NULL
);
`,
  "lib/db/migrations/meta/_journal.json": '{"version":"7","dialect":"postgresql","entries":[]}',
  "lib/db/schema.ts": `import { integer, pgTable, serial, text, timestamp, varchar } from "drizzle-orm/pg-core";
export const subscriptions = pgTable("subscriptions", {
  id: serial("id").primaryKey(),
  teamId: integer("team_id").notNull(),
  stripeSubscriptionId: text("stripe_subscription_id").notNull().unique(),
  status: varchar("status", { length: 32 }).notNull(),
  seats: integer("seats").notNull().default(1),
  updatedAt: timestamp("updated_at").notNull().defaultNow(),
});
`,
  "lib/db/index.ts": `import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
export const db = drizzle(postgres(process.env.POSTGRES_URL ?? ""));
`,
  "lib/billing/subscriptions.ts": `import { eq } from "drizzle-orm";
import { db } from "@/lib/db";
import { subscriptions } from "@/lib/db/schema";
export async function applySubscriptionChange(sub: { id: string; status: string; seats: number }) {
  await db.update(subscriptions)
    .set({ status: sub.status, seats: sub.seats, updatedAt: new Date() })
    .where(eq(subscriptions.stripeSubscriptionId, sub.id));
}
`,
  "app/api/stripe/webhook/route.ts": `import Stripe from "stripe";
import { applySubscriptionChange } from "@/lib/billing/subscriptions";
const stripe = new Stripe(process.env.STRIPE_SECRET_KEY ?? "");
export async function POST(req: Request) {
  const signed = req.headers.get("stripe-signature") ?? "";
  const event = stripe.webhooks.constructEvent(await req.text(), signed, process.env.STRIPE_WEBHOOK_SECRET ?? "");
  if (event.type === "customer.subscription.updated") {
    const sub = event.data.object;
    await applySubscriptionChange({ id: sub.id, status: sub.status, seats: sub.items.data[0]?.quantity ?? 1 });
  }
  return Response.json({ received: true });
}
`,
  "app/(dashboard)/page.tsx": "export default function Page() { return null; }\n",
  "node_modules/stripe/webhooks.js": "// constructEvent( stripe-signature: never scanned\n",
};

const flaskAlembic = {
  "requirements.txt": "flask\npsycopg2\nstripe\n",
  "alembic.ini": "[alembic]\nscript_location = alembic\n",
  "alembic/versions/001_accounts.py": "def upgrade():\n    op.create_table('accounts')\n",
  "app.py": `import os
import psycopg2
import stripe
from flask import Flask, request

app = Flask(__name__)
conn = psycopg2.connect(os.environ["DATABASE_URL"])

@app.route("/healthz")
def health():
    return "ok"

@app.route("/webhooks/stripe", methods=["POST"])
def stripe_webhook():
    event = stripe.Webhook.construct_event(
        request.data, request.headers.get("Stripe-Signature"), os.environ["STRIPE_ENDPOINT_SECRET"]
    )
    with conn.cursor() as cur:
        cur.execute("UPDATE accounts SET credits = credits + %s WHERE email = %s", (1, "x"))
    return "", 200
`,
};

const expressPrisma = {
  "package.json": JSON.stringify({ scripts: { start: "node src/server.js" } }, null, 2),
  "prisma/schema.prisma":
    'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n',
  "prisma/migrations/20240101000000_init/migration.sql": `-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "creditsBalance" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
`,
  "src/server.js": `const express = require("express");
const { handleStripe } = require("./stripe");
const app = express();
app.get("/", (req, res) => res.send("ok"));
app.post("/api/webhooks/stripe", express.raw({ type: "application/json" }), handleStripe);
app.listen(process.env.PORT);
`,
  "src/stripe.js": `const { PrismaClient } = require("@prisma/client");
const db = new PrismaClient();
exports.handleStripe = async (req, res) => {
  const event = stripe.webhooks.constructEvent(req.body, req.headers["stripe-signature"], process.env.STRIPE_WEBHOOK_SECRET);
  if (event.type === "checkout.session.completed") {
    await db.user.update({ where: { email: "x" }, data: { creditsBalance: { increment: 5 } } });
  }
  res.json({ received: true });
};
`,
};

describe("initProject", () => {
  it("reads a Next.js + drizzle app", async () => {
    const dir = repo(nextDrizzle);
    const report = await initProject(dir);
    expect(report.service?.value).toMatchObject({
      command: 'exec ./node_modules/.bin/next start -p "$PORT"',
      cwd: ".",
      build: "npm run build",
    });
    expect(report.database?.value).toEqual({
      migrations: "./lib/db/migrations",
      layout: "drizzle",
    });
    expect(report.database?.evidence[0]).toMatchObject({ file: "drizzle.config.ts", line: 4 });
    expect(report.webhook?.value).toEqual({
      path: "/api/stripe/webhook",
      file: "app/api/stripe/webhook/route.ts",
    });
    expect(report.webhook?.evidence[0]).toMatchObject({
      file: "app/api/stripe/webhook/route.ts",
      line: 5,
    });
    expect(report.databaseUrlEnv.value).toBe("POSTGRES_URL");
    expect(report.webhookSecretEnv.value).toBe("STRIPE_WEBHOOK_SECRET");
    // The handler → lib/billing: `.update(subscriptions).set({ status: … })`, the schema's column.
    expect(report.dropColumn?.value).toBe("subscriptions.status");
    expect(report.dropColumn?.evidence[0]).toMatchObject({
      file: "lib/billing/subscriptions.ts",
      line: 5,
    });
    expect(report.dropColumn?.evidence[1]).toMatchObject({
      file: "lib/db/migrations/0000_teams_and_billing.sql",
    });
    expect(report.eventType.value).toBe("customer.subscription.updated");
    expect(report.files).toEqual([
      { path: CONFIG_FILE, action: "written" },
      { path: SCENARIO_FILE, action: "written" },
    ]);

    const config = readFileSync(path.join(dir, CONFIG_FILE), "utf8");
    expect(config).toContain(`import { defineConfig } from "faultline";`);
    expect(config).toContain(`command: 'exec ./node_modules/.bin/next start -p "$PORT"'`);
    expect(config).toContain(`POSTGRES_URL: databaseUrl,`);
    expect(config).toContain(
      `database: { migrations: "./lib/db/migrations", postgres: "embedded" }`,
    );
    expect(config).toContain(`webhooks: { stripe: { path: "/api/stripe/webhook" } }`);
    expect(config).toContain(`build: "npm run build"`);

    // The starter scenario is a valid scenario, as the runner loads it.
    const { scenario } = await loadScenario(path.join(dir, SCENARIO_FILE));
    expect(scenario.drift).toEqual([{ dropColumn: "subscriptions.status" }]);
    expect(scenario.webhooks).toHaveLength(2);
    expect(scenario.invariants.map((i) => i.invariant)).toEqual([
      "processingContinues",
      "noCascade",
      "noAbortedIdleConnections",
    ]);

    const printed = formatInitReport(report);
    expect(printed).toContain("app/api/stripe/webhook/route.ts:5");
    expect(printed).toContain("drizzle.config.ts:4");
    expect(printed).toContain(`wrote ${CONFIG_FILE}`);
    // Values in .env files are secrets: the report names the variable, never its value.
    expect(printed).toContain(".env:1  POSTGRES_URL=…");
    expect(printed).not.toContain("hunter2");
  });

  it("reads a Flask + Alembic app", async () => {
    const dir = repo(flaskAlembic);
    const report = await initProject(dir);
    expect(report.database?.value).toEqual({ migrate: "alembic upgrade head", tool: "Alembic" });
    expect(report.webhook?.value).toEqual({ path: "/webhooks/stripe", file: "app.py" });
    expect(report.webhook?.evidence.map((e) => `${e.file}:${e.line}`)).toEqual([
      "app.py:15",
      "app.py:13",
    ]);
    expect(report.service?.value).toMatchObject({
      command: 'exec python3 -m flask --app app:app run --host 127.0.0.1 --port "$PORT"',
      readyPath: "/healthz",
    });
    expect(report.databaseUrlEnv.value).toBe("DATABASE_URL");
    expect(report.webhookSecretEnv.value).toBe("STRIPE_ENDPOINT_SECRET");
    expect(report.dropColumn?.value).toBe("accounts.credits");
    const config = readFileSync(path.join(dir, CONFIG_FILE), "utf8");
    expect(config).toContain(`database: { migrate: "alembic upgrade head", postgres: "embedded" }`);
    expect(config).toContain("STRIPE_ENDPOINT_SECRET: webhookSecret,");
  });

  it("reads an Express + Prisma app", async () => {
    const dir = repo(expressPrisma);
    const report = await initProject(dir);
    expect(report.database?.value).toEqual({ migrations: "./prisma/migrations", layout: "prisma" });
    // The handler checks the signature in src/stripe.js; src/server.js mounts it.
    expect(report.webhook?.value).toEqual({ path: "/api/webhooks/stripe", file: "src/stripe.js" });
    expect(report.webhook?.evidence.map((e) => `${e.file}:${e.line}`)).toEqual([
      "src/stripe.js:4",
      "src/server.js:5",
    ]);
    expect(report.service?.value.command).toBe("exec node src/server.js");
    expect(report.databaseUrlEnv.value).toBe("DATABASE_URL");
    // prisma.user.update({ data: { creditsBalance } }), spelled as the migration spells it.
    expect(report.dropColumn?.value).toBe("User.creditsBalance");
    expect(report.eventType.value).toBe("checkout.session.completed");
    const { scenario } = await loadScenario(path.join(dir, SCENARIO_FILE));
    expect(scenario.drift).toEqual([{ dropColumn: "User.creditsBalance" }]);
  });

  it("never overwrites a file, and says it kept it", async () => {
    const dir = repo({ ...expressPrisma, [CONFIG_FILE]: "// mine\n" });
    const report = await initProject(dir);
    expect(report.files).toEqual([
      { path: CONFIG_FILE, action: "kept" },
      { path: SCENARIO_FILE, action: "written" },
    ]);
    expect(readFileSync(path.join(dir, CONFIG_FILE), "utf8")).toBe("// mine\n");
    const again = await initProject(dir);
    expect(again.files.map((f) => f.action)).toEqual(["kept", "kept"]);
    expect(formatInitReport(again)).toContain(`kept (exists, not overwritten) ${SCENARIO_FILE}`);
  });

  it("writes TODOs where it found nothing", async () => {
    const dir = repo({ "README.md": "nothing here\n" });
    const report = await initProject(dir);
    expect(report.service).toBeUndefined();
    expect(report.database).toBeUndefined();
    expect(report.webhook).toBeUndefined();
    expect(report.dropColumn).toBeUndefined();
    expect(report.check.join("\n")).toMatch(/no start command found/);
    const scenario = readFileSync(path.join(dir, SCENARIO_FILE), "utf8");
    expect(scenario).toContain("TODO: drop a column");
    expect(readFileSync(path.join(dir, CONFIG_FILE), "utf8")).toContain("TODO");
  });

  it("rejects a folder it cannot read with BadUsageError (exit 2)", async () => {
    const missing = path.join(tmpdir(), "faultline-init-does-not-exist");
    await expect(initProject(missing)).rejects.toThrow(BadUsageError);
    await expect(initProject(missing)).rejects.toThrow(/cannot read the folder .*does-not-exist/);
    const file = path.join(repo({ "a.txt": "x" }), "a.txt");
    await expect(initProject(file)).rejects.toThrow(BadUsageError);
  });
});

describe("detectDatabase", () => {
  const cases: [string, Record<string, string>, unknown][] = [
    [
      "Flyway",
      { "src/main/resources/db/migration/V1__init.sql": "CREATE TABLE a (id int);" },
      { migrations: "./src/main/resources/db/migration", layout: "flyway" },
    ],
    [
      "golang-migrate",
      {
        "migrations/000001_init.up.sql": "CREATE TABLE a (id int);",
        "migrations/000001_init.down.sql": "DROP TABLE a;",
      },
      { migrations: "./migrations", layout: "golang-migrate" },
    ],
    [
      "dbmate",
      { "db/migrations/20240101_init.sql": "-- migrate:up\nCREATE TABLE a (id int);\n" },
      { migrations: "./db/migrations", layout: "dbmate" },
    ],
    [
      "numbered SQL",
      { "schema/001_create.sql": "CREATE TABLE a (id int);" },
      { migrations: "./schema", layout: "numbered SQL" },
    ],
    [
      "drizzle without a config",
      { "drizzle/0000_x.sql": "", "drizzle/meta/_journal.json": "{}" },
      { migrations: "./drizzle", layout: "drizzle" },
    ],
    [
      "Rails",
      { "bin/rails": "#!/usr/bin/env ruby\n", "db/migrate/20240101_create_users.rb": "" },
      { migrate: "bin/rails db:migrate", tool: "Rails" },
    ],
    ["Django", { "manage.py": "" }, { migrate: "python manage.py migrate", tool: "Django" }],
    ["Knex", { "knexfile.js": "" }, { migrate: "npx knex migrate:latest", tool: "Knex" }],
    [
      "a pg_dump file",
      { "db/schema.sql": "--\n-- PostgreSQL database dump\n--\nCREATE TABLE a (id int);\n" },
      { schema: "./db/schema.sql" },
    ],
  ];
  for (const [name, files, expected] of cases) {
    it(name, () => {
      expect(detectDatabase(new Repo(repo(files)))?.value).toEqual(expected);
    });
  }
});

describe("detectWebhook", () => {
  const cases: [string, Record<string, string>, string][] = [
    [
      "Next.js pages router",
      { "src/pages/api/stripe/index.ts": "const sig = req.headers['stripe-signature'];" },
      "/api/stripe",
    ],
    [
      "Next.js app router with a route group",
      { "src/app/(billing)/api/webhook/route.ts": "stripe.webhooks.constructEvent(b, s, k)" },
      "/api/webhook",
    ],
    [
      "FastAPI",
      {
        "main.py":
          '@router.post("/stripe/events")\nasync def events(request):\n    stripe.Webhook.construct_event(b, request.headers["stripe-signature"], s)\n',
      },
      "/stripe/events",
    ],
    [
      "Rails",
      {
        "app/controllers/stripe_webhooks_controller.rb":
          "sig = request.headers['Stripe-Signature']\nStripe::Webhook.construct_event(payload, sig, secret)\n",
        "config/routes.rb":
          "Rails.application.routes.draw do\n  post 'webhooks/stripe', to: 'stripe_webhooks#create'\nend\n",
      },
      "/webhooks/stripe",
    ],
    [
      "Sinatra",
      {
        "server.rb":
          "require 'sinatra'\npost '/stripe/webhook' do\n  sig = request.env['HTTP_STRIPE_SIGNATURE']\nend\n",
      },
      "/stripe/webhook",
    ],
    [
      "node:http with no framework",
      {
        "server.js":
          'http.createServer(async (req, res) => {\n  if (req.url === "/") return res.end("ok");\n  if (req.method === "POST" && req.url === "/hooks/stripe") {\n    verify(body, req.headers["stripe-signature"]);\n  }\n});\n',
      },
      "/hooks/stripe",
    ],
    [
      "Go net/http",
      {
        "main.go":
          'http.HandleFunc("/webhook", handle)\nfunc handle(w, r) { webhook.ConstructEvent(b, r.Header.Get("Stripe-Signature"), s) }\n',
      },
      "/webhook",
    ],
  ];
  for (const [name, files, expected] of cases) {
    it(name, () => {
      expect(detectWebhook(new Repo(repo(files)))?.value.path).toBe(expected);
    });
  }
});

describeSharedData(
  "init on drizzle-kit's own output (nextjs/saas-starter's first migration)",
  ["drizzle-kit-saas-starter"],
  () => {
    it("finds the folder by its journal and the column to drop in the real migration", async () => {
      const real = (file: string) =>
        readFileSync(sharedData("drizzle-kit-saas-starter", file), "utf8");
      const dir = repo({
        "lib/db/migrations/0000_soft_the_anarchist.sql": real("0000_soft_the_anarchist.sql"),
        "lib/db/migrations/meta/_journal.json": real("meta/_journal.json"),
        "lib/db/migrations/meta/0000_snapshot.json": real("meta/0000_snapshot.json"),
        // Our own handler, writing a column of their schema with plain SQL.
        "app/api/stripe/webhook/route.ts": `import postgres from "postgres";
import Stripe from "stripe";
const sql = postgres(process.env.POSTGRES_URL ?? "");
export async function POST(req: Request) {
  const event = new Stripe("").webhooks.constructEvent(await req.text(), req.headers.get("stripe-signature") ?? "", "");
  if (event.type === "customer.subscription.updated")
    await sql\`UPDATE teams SET plan_name = \${event.data.object.id} WHERE stripe_customer_id = \${event.data.object.customer}\`;
}
`,
      });
      const report = await initProject(dir);
      expect(report.database?.value).toEqual({
        migrations: "./lib/db/migrations",
        layout: "drizzle",
      });
      expect(report.database?.evidence[0]).toMatchObject({
        file: "lib/db/migrations/meta/_journal.json",
      });
      expect(report.dropColumn?.value).toBe("teams.plan_name");
      // The column's line in drizzle-kit's CREATE TABLE "teams" (…).
      expect(report.dropColumn?.evidence[1]).toMatchObject({
        file: "lib/db/migrations/0000_soft_the_anarchist.sql",
        line: 36,
      });
      expect(report.databaseUrlEnv.value).toBe("POSTGRES_URL");
      expect(report.webhook?.value.path).toBe("/api/stripe/webhook");
    });
  },
);
