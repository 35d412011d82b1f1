import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { driftSql, embeddedPostgres, type StartedPostgres } from "../postgres/index.ts";
import {
  compareCatalogs,
  driftToProduction,
  readCatalogReadOnly,
  withReadOnlyTransaction,
} from "./index.ts";

let root: string;
let server: StartedPostgres;
let admin: pg.Client;

async function database(name: string, sql: string): Promise<string> {
  await admin.query(`CREATE DATABASE ${name}`);
  const client = new pg.Client({ connectionString: server.urlFor(name) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
  return server.urlFor(name);
}

// The migrations' schema, and production's with one of every kind of difference.
const MIGRATIONS = `
  CREATE TYPE payment_status AS ENUM ('pending', 'paid', 'refunded');
  CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, plan text DEFAULT 'free',
                         seats integer NOT NULL CHECK (seats > 0), note text);
  CREATE TABLE payments (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts,
                         amount_cents integer NOT NULL CONSTRAINT amount_positive CHECK (amount_cents > 0),
                         memo text);
  CREATE INDEX payments_amount_idx ON payments (amount_cents);
  CREATE INDEX payments_account_idx ON payments (account_id);
  CREATE INDEX payments_memo_idx ON payments (memo);
  CREATE TABLE audit (id bigserial PRIMARY KEY);
  CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, total integer NOT NULL);`;
const PRODUCTION = `
  CREATE TYPE payment_status AS ENUM ('pending', 'paid', 'disputed');
  CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL, plan text DEFAULT 'trial',
                         seats bigint, note text, legacy_flag boolean NOT NULL DEFAULT false);
  CREATE TABLE payments (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts,
                         amount_cents integer NOT NULL CONSTRAINT amount_positive CHECK (amount_cents >= 0),
                         note_text text);
  CREATE INDEX payments_amount_idx ON payments (amount_cents DESC);
  CREATE INDEX payments_by_account ON payments (account_id);
  CREATE INDEX accounts_note_idx ON accounts (note);
  CREATE TABLE _prisma_migrations (id text PRIMARY KEY);
  CREATE SCHEMA billing;
  CREATE TABLE billing.invoices (id bigserial PRIMARY KEY, total integer NOT NULL);
  CREATE TABLE billing.refunds (id bigint NOT NULL, invoice_id bigint REFERENCES billing.invoices);`;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-drift-pg-"));
  await chmod(root, 0o755);
  server = await embeddedPostgres.start({ tmpRoot: root });
  admin = new pg.Client({ connectionString: server.urlFor("postgres") });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

describe("drift against production", () => {
  it("lists each kind of difference, most important first, and nothing that went with a missing column or table", async () => {
    const ours = await readCatalogReadOnly(await database("ours_a", MIGRATIONS));
    const theirs = await readCatalogReadOnly(await database("theirs_a", PRODUCTION));
    expect(compareCatalogs(ours, theirs).map((d) => d.line)).toEqual([
      "table audit: missing in production",
      "payments.memo: missing in production (production has payments.note_text of this type: renamed?)",
      "accounts.seats: type bigint in production, integer in migrations",
      "enum payment_status value 'refunded': missing in production",
      "accounts.plan: default 'trial'::text in production, 'free'::text in migrations",
      "accounts.seats: nullable in production, NOT NULL in migrations",
      "check accounts_seats_check on accounts (CHECK ((seats > 0))): missing in production",
      "unique accounts_email_key on accounts (UNIQUE (email)): missing in production",
      "check amount_positive on payments: CHECK ((amount_cents >= 0)) in production, CHECK ((amount_cents > 0)) in migrations",
      "index payments_amount_idx on payments: btree (amount_cents DESC) in production, btree (amount_cents) in migrations",
      "table billing.refunds: only in production",
      "accounts.legacy_flag: only in production",
      "payments.note_text: only in production",
      "foreign key refunds_invoice_id_fkey on billing.refunds (FOREIGN KEY (invoice_id) REFERENCES billing.invoices(id)): only in production",
      "index accounts_note_idx on accounts (btree (note)): only in production",
      "enum payment_status value 'disputed': only in production",
    ]);
  });

  it("writes drift that turns the migrations' schema into production's", async () => {
    const url = await database("ours_b", MIGRATIONS);
    const theirs = await readCatalogReadOnly(await database("theirs_b", PRODUCTION));
    const steps = driftToProduction(compareCatalogs(await readCatalogReadOnly(url), theirs));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const step of steps) await client.query(driftSql(step) as string);
    } finally {
      await client.end();
    }
    // All but what drift cannot state, and that is said in the difference itself.
    const left = compareCatalogs(await readCatalogReadOnly(url), theirs);
    expect(left.map((d) => [d.line, d.unreproduced])).toEqual([
      [
        "enum payment_status value 'refunded': missing in production",
        "Postgres cannot drop a value from an enum",
      ],
    ]);
  });

  it("reads in a transaction where a write is refused (25006)", async () => {
    const url = await database("guarded", "CREATE TABLE t (id int)");
    const seen = await withReadOnlyTransaction(url, async (query) => {
      const ro = await query("SELECT current_setting('transaction_read_only') AS ro");
      const write = await query("INSERT INTO t VALUES (1)").then(
        () => "written",
        (error: { code?: string }) => error.code,
      );
      return { ro: ro.rows[0]?.ro, write };
    });
    expect(seen).toEqual({ ro: "on", write: "25006" });
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    expect((await check.query("SELECT count(*)::int AS n FROM t")).rows).toEqual([{ n: 0 }]);
    await check.end();
  });
});
