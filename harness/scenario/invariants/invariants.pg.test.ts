import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunEnvironment,
  type ScenarioDatabase,
  startEnvironment,
} from "../../postgres/index.ts";
import { type Delivery, type PreparedWebhook, stripeProvider } from "../../webhooks/index.ts";
import { effectOnce } from "./effect-once.ts";
import { exactlyOnceEffect } from "./exactly-once-effect.ts";
import { idempotent } from "./idempotent.ts";
import type { InvariantContext } from "./invariant.ts";
import { noLostEvents } from "./no-lost-events.ts";
import { signaturesRejected } from "./signatures-rejected.ts";
import { snapshotTables } from "./snapshot.ts";
import { sql } from "./sql.ts";

// The delivery invariants judged against real rows: each must fail on the state it exists to catch.
let root: string;
let env: RunEnvironment;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-invariants-"));
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  env = await startEnvironment();
});
afterAll(async () => {
  await env?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(root, { recursive: true, force: true });
});

function payment(eventId: string, credits: number): PreparedWebhook {
  const payload = JSON.stringify({
    id: eventId,
    type: "checkout.session.completed",
    data: {
      object: {
        customer: "cus_1",
        customer_details: { email: "a@example.com" },
        amount_total: credits * 10,
        metadata: { credits: String(credits) },
      },
    },
  });
  return {
    label: eventId,
    provider: stripeProvider,
    eventId,
    type: "checkout.session.completed",
    payload,
  };
}

function delivery(eventId: string, status: number, extra: Partial<Delivery> = {}): Delivery {
  const at = new Date();
  return {
    index: 0,
    label: eventId,
    eventId,
    type: "checkout.session.completed",
    attempt: 1,
    status,
    responseBody: "",
    startedAt: at,
    finishedAt: at,
    ...extra,
  };
}

async function context(
  db: ScenarioDatabase,
  webhooks: PreparedWebhook[],
  deliveries: Delivery[],
): Promise<InvariantContext> {
  return {
    db,
    webhooks,
    deliveries,
    serverErrors: [],
    trace: [],
    deliverySnapshots: new Map(),
  };
}

async function userWithGrants(db: ScenarioDatabase, grants: [string, number][]): Promise<void> {
  await db.query(
    "INSERT INTO users (id, email, stripe_customer_id, credits_balance) VALUES (1, 'a@example.com', 'cus_1', 0)",
  );
  for (const [eventId, credits] of grants) {
    await db.query(
      "INSERT INTO webhook_events (event_id, type) VALUES ($1, 'checkout.session.completed') ON CONFLICT DO NOTHING",
      [eventId],
    );
    await db.query(
      "INSERT INTO credit_grants (event_id, user_id, credits, amount_cents, applied) VALUES ($1, 1, $2, $3, true)",
      [eventId, credits, credits * 10],
    );
    await db.query("UPDATE users SET credits_balance = credits_balance + $1 WHERE id = 1", [
      credits,
    ]);
  }
}

describe("delivery invariants on real rows", () => {
  it("exactlyOnceEffect fails when a balance was credited twice for one event", async () => {
    const db = await env.databases.create("twice", []);
    const start = await exactlyOnceEffect.prepare?.({ invariant: "exactlyOnceEffect" }, db);
    await userWithGrants(db, [["evt_1", 100]]);
    const ctx = await context(
      db,
      [payment("evt_1", 100)],
      [delivery("evt_1", 200), delivery("evt_1", 200)],
    );
    expect(
      (await exactlyOnceEffect.evaluate({ invariant: "exactlyOnceEffect" }, ctx, start)).passed,
    ).toBe(true);
    await db.query("UPDATE users SET credits_balance = credits_balance + 100");
    const twice = await exactlyOnceEffect.evaluate({ invariant: "exactlyOnceEffect" }, ctx, start);
    expect(twice.passed).toBe(false);
    expect(twice.evidence.join("\n")).toContain(
      "credits_balance 200, expected 0 + 100 granted = 100",
    );
    await env.databases.drop(db.name);
  });

  it("noLostEvents fails for an acknowledged payment with no grant, and only lists unacknowledged ones", async () => {
    const db = await env.databases.create("lost", []);
    await userWithGrants(db, [["evt_kept", 50]]);
    await db.query(
      "INSERT INTO webhook_events (event_id, type) VALUES ('evt_lost', 'checkout.session.completed')",
    );
    const webhooks = [payment("evt_kept", 50), payment("evt_lost", 70), payment("evt_never", 90)];
    const ctx = await context(db, webhooks, [
      delivery("evt_kept", 200),
      delivery("evt_lost", 200),
      delivery("evt_never", 500),
    ]);
    const verdict = await noLostEvents.evaluate({ invariant: "noLostEvents" }, ctx, undefined);
    expect(verdict.passed).toBe(false);
    expect(verdict.evidence.join("\n")).toContain("lost: evt_lost");
    expect(verdict.evidence.join("\n")).toContain("undelivered (never acknowledged)");
    expect(verdict.evidence.join("\n")).not.toContain("lost: evt_never");
    await env.databases.drop(db.name);
  });

  it("signaturesRejected fails when a badly signed delivery was accepted and wrote", async () => {
    const db = await env.databases.create("signed", []);
    await db.query("CREATE SCHEMA billing");
    await db.query("CREATE TABLE billing.processed_events (event_id text PRIMARY KEY)");
    const before = await snapshotTables(db);
    // What a service that skips verification does: it records the event in its own schema.
    await db.query("INSERT INTO billing.processed_events VALUES ('evt_bad')");
    const after = await snapshotTables(db);
    const ctx = await context(
      db,
      [payment("evt_bad", 10)],
      [delivery("evt_bad", 200, { signature: "stale" })],
    );
    ctx.deliverySnapshots.set(0, { before, after });
    const verdict = await signaturesRejected.evaluate(
      { invariant: "signaturesRejected", status: 400 },
      ctx,
      undefined,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.evidence.join("\n")).toMatch(
      /answered 200[\s\S]*table billing\.processed_events changed \(0 → 1 rows\)/,
    );
    ctx.deliverySnapshots.set(0, { before: after, after });
    const rejected = await signaturesRejected.evaluate(
      { invariant: "signaturesRejected", status: 200 },
      ctx,
      undefined,
    );
    expect(rejected.passed).toBe(true);
    await env.databases.drop(db.name);
  });

  it("idempotent({ allowStamps }) lets a redelivery stamp updated_at, and still fails on any other change", async () => {
    const db = await env.databases.create("stamps", []);
    // Not UTC, set before the first pooled session opens: a timestamp without time zone holds
    // now() in the session's zone, 13 hours from UTC here.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${db.name}" SET timezone TO 'Pacific/Auckland'`);
    await admin.end();
    await db.query(
      "CREATE TABLE subscriptions (id int PRIMARY KEY, status text, paid_through timestamptz, updated_at timestamp)",
    );
    await db.query(
      "INSERT INTO subscriptions VALUES (1, 'active', '2027-01-01T00:00:00Z', '2026-01-01T00:00:00')",
    );
    const redelivery = () =>
      delivery("evt_sub", 200, { index: 1, redeliveryOf: "evt_sub", startedAt: new Date() });
    const judge = async (change: string, allowStamps: boolean) => {
      const before = await snapshotTables(db, { stamps: true });
      const d = redelivery();
      await db.query(change);
      d.finishedAt = new Date();
      const ctx = await context(db, [payment("evt_sub", 1)], [delivery("evt_sub", 200), d]);
      ctx.deliverySnapshots.set(1, { before, after: await snapshotTables(db, { stamps: true }) });
      const spec = { invariant: "idempotent" as const, ...(allowStamps ? { allowStamps } : {}) };
      return idempotent.evaluate(spec, ctx, undefined);
    };
    // The upsert every ORM writes: the same values again, and the time of this delivery.
    const touch = "UPDATE subscriptions SET status = 'active', updated_at = localtimestamp";
    expect((await judge(touch, false)).passed).toBe(false);
    const stamped = await judge(touch, true);
    expect(stamped.passed).toBe(true);
    expect(stamped.seen).toBe("1 redelivery(ies) changed nothing but 1 table stamp(s)");
    // A second month applied for one event is a double effect, though the column is a timestamp.
    const extended = await judge(
      "UPDATE subscriptions SET paid_through = paid_through + interval '1 month'",
      true,
    );
    expect(extended.passed).toBe(false);
    expect(extended.evidence.join("\n")).toMatch(
      /table subscriptions changed \(1 → 1 rows; a timestamp set to 2027-02-01T00:00:00\.000Z, not the redelivery's time\)/,
    );
    const status = await judge("UPDATE subscriptions SET status = 'canceled'", true);
    expect(status.evidence.join("\n")).toContain("more than its timestamps");
    const row = await judge("INSERT INTO subscriptions VALUES (2, 'active', now(), now())", true);
    expect(row.passed).toBe(false);
    expect(row.evidence.join("\n")).toContain("(1 → 2 rows; more than its timestamps)");
    await env.databases.drop(db.name);
  });

  it("effectOnce and noLostEvents({ query }) judge any schema, one query per acknowledged event", async () => {
    const db = await env.databases.create("generic", []);
    await db.query(
      "CREATE SCHEMA billing; CREATE TABLE billing.invoices (stripe_invoice_id text, customer text)",
    );
    // evt_1 landed twice (a duplicate effect), evt_2 once, evt_3 not at all.
    await db.query(
      "INSERT INTO billing.invoices VALUES ('in_1', 'cus_1'), ('in_1', 'cus_1'), ('in_2', 'cus_2')",
    );
    const invoice = (eventId: string, id: string, customer: string): PreparedWebhook => ({
      ...payment(eventId, 1),
      type: "invoice.paid",
      values: { event_id: eventId, object_id: id, customer },
    });
    const webhooks = [
      invoice("evt_1", "in_1", "cus_1"),
      invoice("evt_2", "in_2", "cus_2"),
      invoice("evt_3", "in_3", "cus_3"),
    ];
    const ctx = await context(db, webhooks, [
      delivery("evt_1", 200),
      delivery("evt_2", 200),
      delivery("evt_3", 200),
      delivery("evt_4", 500),
    ]);
    const query =
      "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = :object_id AND customer = :customer";
    const once = await effectOnce.evaluate({ invariant: "effectOnce", query }, ctx, undefined);
    expect(once.passed).toBe(false);
    expect(once.evidence).toEqual([
      "evt_1 (checkout.session.completed): 2 rows",
      "evt_3 (checkout.session.completed): 0 rows",
    ]);
    const lost = await noLostEvents.evaluate({ invariant: "noLostEvents", query }, ctx, undefined);
    expect(lost.passed).toBe(false);
    expect(lost.evidence.join("\n")).toContain("lost: evt_3");
    expect(lost.evidence.join("\n")).not.toContain("lost: evt_1");
    expect(lost.evidence.join("\n")).toContain("undelivered (never acknowledged): #1");
    const typo = await effectOnce.evaluate(
      {
        invariant: "effectOnce",
        query: "SELECT 1 FROM billing.invoices WHERE stripe_invoice_id = :subscription",
      },
      ctx,
      undefined,
    );
    expect(typo.evidence[0]).toContain(
      ":subscription is not a value of this event (it has: :event_id, :object_id, :customer, :event_type)",
    );
    await env.databases.drop(db.name);
  });
});

describe("sql({ rows }) on real column types", () => {
  it("compares a bigint and a numeric column by value, and still fails on a different value", async () => {
    const db = await env.databases.create("bigint", []);
    await db.query("CREATE TABLE prices (id bigint, unit_amount bigint, ratio numeric(10,2))");
    await db.query("INSERT INTO prices VALUES (9007199254740993, 4900, 1.50)");
    const ctx = await context(db, [], []);
    const query = "SELECT id, unit_amount, ratio FROM prices";
    const spec = (rows: Record<string, unknown>[]) =>
      sql.schema.parse({ invariant: "sql", name: "price", query, rows });
    // node-postgres hands int8 and numeric back as strings.
    expect((await db.query(query)).rows[0]?.unit_amount).toBe("4900");
    const same = await sql.evaluate(
      spec([{ id: "9007199254740993", unit_amount: 4900, ratio: 1.5 }]),
      ctx,
      undefined,
    );
    expect(same.passed).toBe(true);
    const off = await sql.evaluate(
      spec([{ id: "9007199254740992", unit_amount: 4900, ratio: 1.5 }]),
      ctx,
      undefined,
    );
    expect(off.passed).toBe(false);
    expect(
      (
        await sql.evaluate(
          spec([{ id: "9007199254740993", unit_amount: 4901, ratio: 1.5 }]),
          ctx,
          undefined,
        )
      ).passed,
    ).toBe(false);
    // A text column holding digits is still compared as JSON: "4900" is not 4900 there.
    await db.query("CREATE TABLE notes (body text)");
    await db.query("INSERT INTO notes VALUES ('4900')");
    const text = sql.schema.parse({
      invariant: "sql",
      name: "note",
      query: "SELECT body FROM notes",
      rows: [{ body: 4900 }],
    });
    expect((await sql.evaluate(text, ctx, undefined)).passed).toBe(false);
    await env.databases.drop(db.name);
  });
});
