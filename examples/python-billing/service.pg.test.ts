import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { killQuietly, sleep } from "../../harness/lifecycle/index.ts";
import { embeddedPostgres, freePort, type StartedPostgres } from "../../harness/postgres/index.ts";
import { seededRandom } from "../../harness/random/index.ts";
import {
  fillTemplate,
  loadFixture,
  stripeProvider,
  type TemplateValue,
} from "../../harness/webhooks/index.ts";
import { findPython } from "./python.ts";

// The example service on its own, against a real Postgres migrated with its dbmate files: the
// contract its faultline scenarios rely on, and the cascade its broken variant reproduces.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MIGRATIONS = path.join(HERE, "db", "migrations");
const TEMPLATE = "billing_migrated";
const SECRET = "whsec_python_billing_test";

let root: string;
let server: StartedPostgres;
let admin: pg.Client;
const services: BillingService[] = [];
const clients: pg.Client[] = [];
let databases = 0;

/** The `-- migrate:up` section of a dbmate migration: what `dbmate up` runs. */
function upSection(sql: string, file: string): string {
  const up = sql.indexOf("-- migrate:up");
  if (up === -1) throw new Error(`${file}: no "-- migrate:up" line`);
  const down = sql.indexOf("-- migrate:down", up);
  return sql.slice(up + "-- migrate:up".length, down === -1 ? undefined : down);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-billing-test-"));
  // Postgres may run as another OS user (when we are root): it must reach the folder.
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  server = await embeddedPostgres.start();
  admin = new pg.Client({ connectionString: server.urlFor("postgres") });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  const template = new pg.Client({ connectionString: server.urlFor(TEMPLATE) });
  await template.connect();
  try {
    // Each up section as one simple-protocol query, as dbmate sends it: the DO block's inner
    // `;` stay inside their statement.
    for (const file of (await readdir(MIGRATIONS)).filter((f) => f.endsWith(".sql")).sort()) {
      await template.query(upSection(await readFile(path.join(MIGRATIONS, file), "utf8"), file));
    }
  } finally {
    await template.end();
  }
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(clients.splice(0).map((c) => c.end()));
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(root, { recursive: true, force: true });
});

/** A fresh clone of the migrated schema, optionally drifted, and a client on it. */
async function database(drift?: string): Promise<{ name: string; url: string; db: pg.Client }> {
  const name = `billing_${++databases}`;
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  const db = new pg.Client({ connectionString: server.urlFor(name) });
  await db.connect();
  clients.push(db);
  if (drift) await db.query(drift);
  return { name, url: server.urlFor(name), db };
}

interface BillingService {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Start app.py as faultline's config does: `sh -c`, in the example's folder, its own env. */
async function startBilling(databaseUrl: string, variant: "fixed" | "broken") {
  const port = await freePort();
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, as in the config
  const child = spawn("sh", ["-c", 'exec "${PYTHON:-python3}" app.py'], {
    cwd: HERE,
    env: {
      ...process.env,
      PYTHON: findPython(),
      BILLING_DB_URL: databaseUrl,
      HTTP_PORT: String(port),
      STRIPE_SIGNING_SECRET: SECRET,
      BILLING_VARIANT: variant,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const service: BillingService = {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        killQuietly(child.pid, "SIGTERM", true);
        await Promise.race([exited, sleep(3000)]);
        killQuietly(child.pid, "SIGKILL", true);
        await exited;
      }
    },
  };
  services.push(service);
  // Ready when GET / answers below 500, as the config's `ready` says.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`app.py exited early:\n${output}`);
    try {
      const response = await request(`${service.url}/`);
      await response.body.dump();
      if (response.statusCode < 500) return service;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`app.py never became ready:\n${output}`);
    await sleep(25);
  }
}

const random = seededRandom(20240101);

/** A Stripe event rendered from faultline's recorded fixture, pretty-printed as Stripe sends it. */
async function event(fixture: string, values: Record<string, TemplateValue> = {}) {
  const now = Math.floor(Date.now() / 1000);
  const filled = fillTemplate(
    await loadFixture("stripe", fixture),
    { ...stripeProvider.defaults(fixture, random, now), ...values },
    `stripe/${fixture}`,
  ) as { id: string; data: { object: { id: string } } };
  return {
    id: filled.id,
    objectId: filled.data.object.id,
    payload: JSON.stringify(filled, null, 2),
  };
}

/** POST a payload to /hooks/stripe, signed with faultline's Stripe provider (the stripe library). */
async function send(
  service: BillingService,
  payload: string,
  options: { secret?: string; signedAt?: number; body?: string } = {},
) {
  const signedAt = options.signedAt ?? Math.floor(Date.now() / 1000);
  const headers = await stripeProvider.sign(payload, options.secret ?? SECRET, signedAt);
  const response = await request(`${service.url}/hooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: options.body ?? payload,
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: JSON.parse(text) as Record<string, unknown> };
}

async function rows(db: pg.Client, sql: string) {
  return (await db.query(sql)).rows;
}

/** Every row of the billing tables, to prove a request changed nothing. */
async function everything(db: pg.Client) {
  return {
    accounts: await rows(db, "SELECT * FROM billing.accounts ORDER BY id"),
    invoices: await rows(db, "SELECT * FROM billing.invoices ORDER BY id"),
    events: await rows(db, "SELECT * FROM billing.processed_events ORDER BY event_id"),
  };
}

/** Errors Postgres itself logged in one database, in order. */
async function serverErrors(db: pg.Client, name: string) {
  const log = server.serverLog;
  if (!log) throw new Error("the embedded server always has a log");
  await log.sync(async (marker) => {
    await db.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
  });
  return log.errors({ database: name });
}

const DROP_TAX = "ALTER TABLE billing.invoices DROP COLUMN tax_cents CASCADE";

describe("the dbmate migrations", () => {
  it("create the billing schema; the DO block of the second one runs whole", async () => {
    const { db } = await database();
    const columns = await rows(
      db,
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'billing' AND table_name = 'invoices' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual([
      "id",
      "account_id",
      "stripe_invoice_id",
      "amount_cents",
      "status",
      "paid_at",
      "tax_cents",
    ]);
    // The constraint is added inside the DO block.
    const constraint = await rows(
      db,
      "SELECT conname FROM pg_constraint WHERE conrelid = 'billing.invoices'::regclass AND contype = 'c'",
    );
    expect(constraint).toEqual([{ conname: "invoices_tax_not_negative" }]);
    expect(await rows(db, "SELECT billing.normalise_email('  A@Example.COM ') AS e")).toEqual([
      { e: "a@example.com" },
    ]);
  });
});

describe("python-billing, fixed, full schema", () => {
  it("records an invoice.paid once: event, invoice with its tax, account paid", async () => {
    const { url, db } = await database();
    const service = await startBilling(url, "fixed");
    const paid = await event("invoice.paid", {
      customer: "cus_NewPayer00001",
      email: "new@example.com",
      amount: 4900,
    });
    expect(await send(service, paid.payload)).toEqual({ status: 200, body: { received: true } });
    expect(await rows(db, "SELECT event_id, type FROM billing.processed_events")).toEqual([
      { event_id: paid.id, type: "invoice.paid" },
    ]);
    expect(
      await rows(
        db,
        "SELECT stripe_invoice_id, amount_cents, status, tax_cents, paid_at IS NOT NULL AS paid FROM billing.invoices",
      ),
    ).toEqual([
      {
        stripe_invoice_id: paid.objectId,
        amount_cents: 4900,
        status: "paid",
        tax_cents: 0,
        paid: true,
      },
    ]);
    expect(
      await rows(
        db,
        "SELECT external_customer_id, email, created_via, billing_status, paid_through > now() AS ahead FROM billing.accounts",
      ),
    ).toEqual([
      {
        external_customer_id: "cus_NewPayer00001",
        email: "new@example.com",
        created_via: "webhook",
        billing_status: "paid",
        ahead: true,
      },
    ]);

    // A redelivery (same bytes, signed afresh) is acknowledged and changes nothing.
    const before = await everything(db);
    expect(await send(service, paid.payload)).toEqual({ status: 200, body: { duplicate: true } });
    expect(await everything(db)).toEqual(before);
  });

  it("links a signup account by email, and a failed payment marks it past due until paid", async () => {
    const { url, db } = await database();
    await db.query(
      "INSERT INTO billing.accounts (email, created_via) VALUES ('Signup@Example.com', 'signup')",
    );
    const service = await startBilling(url, "fixed");
    const customer = { customer: "cus_SignedUp00001", email: "signup@example.com" };
    const failed = await event("invoice.payment_failed", {
      ...customer,
      object_id: "in_Renewal0001",
    });
    expect((await send(service, failed.payload)).status).toBe(200);
    expect(await rows(db, "SELECT billing_status, created_via FROM billing.accounts")).toEqual([
      { billing_status: "past_due", created_via: "signup" },
    ]);
    const paid = await event("invoice.paid", { ...customer, object_id: "in_Renewal0001" });
    expect((await send(service, paid.payload)).status).toBe(200);
    // A late copy of the failure (a new event id) must not reopen the paid invoice.
    const late = await event("invoice.payment_failed", {
      ...customer,
      object_id: "in_Renewal0001",
    });
    expect((await send(service, late.payload)).status).toBe(200);
    expect(
      await rows(db, "SELECT stripe_invoice_id, status, tax_cents FROM billing.invoices"),
    ).toEqual([{ stripe_invoice_id: "in_Renewal0001", status: "paid", tax_cents: 0 }]);
    expect(
      await rows(db, "SELECT external_customer_id, billing_status FROM billing.accounts"),
    ).toEqual([{ external_customer_id: "cus_SignedUp00001", billing_status: "paid" }]);

    const subscription = await event("customer.subscription.updated", {
      customer: "cus_SignedUp00001",
      price: "price_Team0000001",
    });
    expect((await send(service, subscription.payload)).status).toBe(200);
    expect(await rows(db, "SELECT plan, seats FROM billing.accounts")).toEqual([
      { plan: "price_Team0000001", seats: 1 },
    ]);
    expect(await rows(db, "SELECT count(*)::int AS n FROM billing.processed_events")).toEqual([
      { n: 4 },
    ]);
  });

  it("checks the Stripe-Signature header as Stripe does: 400 and nothing written", async () => {
    const { url, db } = await database();
    const service = await startBilling(url, "fixed");
    const paid = await event("invoice.paid");
    const now = Math.floor(Date.now() / 1000);
    const tampered = paid.payload.replace('"amount_paid": 1000', '"amount_paid": 1001');
    expect(tampered).not.toBe(paid.payload);
    for (const attempt of [
      send(service, paid.payload, { secret: "whsec_someone_else" }),
      send(service, paid.payload, { signedAt: now - 301 }),
      send(service, paid.payload, { body: tampered }),
    ]) {
      const { status, body } = await attempt;
      expect(status).toBe(400);
      expect(String(body.error)).toMatch(/^bad signature: /);
    }
    const unsigned = await request(`${service.url}/hooks/stripe`, {
      method: "POST",
      body: paid.payload,
    });
    expect(unsigned.statusCode).toBe(400);
    await unsigned.body.dump();
    expect(await everything(db)).toEqual({ accounts: [], invoices: [], events: [] });
    // Within the tolerance is fine.
    expect((await send(service, paid.payload, { signedAt: now - 290 })).status).toBe(200);

    const elsewhere = await request(`${service.url}/webhooks/stripe`, {
      method: "POST",
      body: "{}",
    });
    expect(elsewhere.statusCode).toBe(404);
    await elsewhere.body.dump();
  });

  it("replaces a pooled connection the server ended, and the webhook still lands", async () => {
    const { url, db } = await database();
    const service = await startBilling(url, "fixed");
    const ended = await rows(
      db,
      "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE application_name = 'python-billing:fixed'",
    );
    expect(ended).toEqual([{ ended: true }]);
    const paid = await event("invoice.paid");
    expect(await send(service, paid.payload)).toEqual({ status: 200, body: { received: true } });
    expect(service.output()).toContain("the pooled connection was closed");
    expect(await rows(db, "SELECT count(*)::int AS n FROM billing.processed_events")).toEqual([
      { n: 1 },
    ]);
  });
});

describe("with billing.invoices.tax_cents dropped", () => {
  it("broken: the swallowed 42703 becomes a 25P02 cascade that poisons every later webhook", async () => {
    const { name, url, db } = await database(DROP_TAX);
    const service = await startBilling(url, "broken");
    const answers = [];
    for (const customer of ["cus_Cascade000001", "cus_Cascade000002", "cus_Cascade000003"])
      answers.push(await send(service, (await event("invoice.paid", { customer })).payload));
    expect(answers.map((a) => a.status)).toEqual([500, 500, 500]);
    expect(answers.map((a) => a.body.sqlstate)).toEqual(["25P02", "25P02", "25P02"]);
    // Nothing was committed, and the worker's connection sits in its aborted transaction.
    expect(await everything(db)).toEqual({ accounts: [], invoices: [], events: [] });
    expect(
      await rows(
        db,
        "SELECT application_name, state FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
      ),
    ).toEqual([
      { application_name: "python-billing:broken", state: "idle in transaction (aborted)" },
    ]);
    // Postgres's own log: the 42703 the service swallowed, then 25P02 for all that followed.
    const errors = (await serverErrors(db, name)).filter(
      (e) => e.applicationName === "python-billing:broken",
    );
    expect(errors.map((e) => e.sqlstate)).toEqual(["42703", "25P02", "25P02", "25P02"]);
    expect(errors[0]?.message).toContain(
      'column "tax_cents" of relation "invoices" does not exist',
    );
    expect(service.output()).toMatch(/could not record tax for invoice \d+ \(42703\)/);
  });

  it("fixed: rolls back, redoes the event without the tax, and every webhook lands", async () => {
    const { name, url, db } = await database(DROP_TAX);
    const service = await startBilling(url, "fixed");
    const sent = [];
    for (const customer of ["cus_Hotfix0000001", "cus_Hotfix0000002", "cus_Hotfix0000001"]) {
      const paid = await event("invoice.paid", { customer });
      sent.push(paid.id);
      expect(await send(service, paid.payload)).toEqual({ status: 200, body: { received: true } });
    }
    expect(
      (await rows(db, "SELECT event_id FROM billing.processed_events ORDER BY event_id")).map(
        (r) => r.event_id,
      ),
    ).toEqual([...sent].sort());
    expect(
      await rows(db, "SELECT count(*)::int AS n, min(status) AS s FROM billing.invoices"),
    ).toEqual([{ n: 3, s: "paid" }]);
    expect(
      await rows(
        db,
        "SELECT external_customer_id, billing_status FROM billing.accounts ORDER BY 1",
      ),
    ).toEqual([
      { external_customer_id: "cus_Hotfix0000001", billing_status: "paid" },
      { external_customer_id: "cus_Hotfix0000002", billing_status: "paid" },
    ]);
    expect(
      await rows(
        db,
        "SELECT state FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'python-billing:fixed'",
      ),
    ).toEqual([{ state: "idle" }]);
    // One 42703 (the first tax write on the pooled connection), rolled back; never a 25P02.
    const errors = (await serverErrors(db, name)).filter(
      (e) => e.applicationName === "python-billing:fixed",
    );
    expect(errors.map((e) => e.sqlstate)).toEqual(["42703"]);
  });

  it("broken, but with the column present: nothing to show", async () => {
    const { url, db } = await database();
    const service = await startBilling(url, "broken");
    for (const customer of ["cus_Present000001", "cus_Present000002"]) {
      const paid = await event("invoice.paid", { customer });
      expect((await send(service, paid.payload)).status).toBe(200);
    }
    expect(
      await rows(db, "SELECT count(*)::int AS n FROM billing.invoices WHERE tax_cents = 0"),
    ).toEqual([{ n: 2 }]);
  });
});
