import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeSharedData, sharedData } from "../../test/shared-data.ts";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";
import { describeMigrationFailure, excerpt } from "./apply-migration.ts";
import { DEFAULT_MIGRATIONS_DIR } from "./environment.ts";
import { dropUnknownSettings, namedRoles, prepareDump } from "./pg-dump.ts";
import { loadMigrations, loadSchema } from "./schema-source.ts";

const SAAS_STARTER = "drizzle-kit-saas-starter";

const SCHEMAS = path.join(PACKAGE_ROOT, "fixtures", "schemas");
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "faultline-schema-unit-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

describe("layout detection and order", () => {
  it("reads the bundled payments schema as plain NNN files", async () => {
    const schema = await loadSchema({ migrations: DEFAULT_MIGRATIONS_DIR });
    expect(schema.layout).toBe("plain");
    expect(schema.migrations.map((m) => [m.number, m.name])).toEqual([
      [1, "001_create_tables.sql"],
      [2, "002_users_credits_balance.sql"],
    ]);
    expect(schema.description).toMatch(/^plain migrations: 2 files in /);
    expect((await loadMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.version)).toEqual([
      "001",
      "002",
    ]);
  });

  it("follows drizzle-kit's journal and sends each breakpoint section whole", async () => {
    const schema = await loadSchema({ migrations: path.join(SCHEMAS, "drizzle-kit") });
    expect(schema.layout).toBe("drizzle-kit");
    expect(schema.description).toMatch(/^drizzle-kit migrations: 2 files in /);
    const [first, second] = schema.migrations;
    expect(first?.name).toBe("0000_teams_and_members.sql");
    expect(second?.name).toBe("0001_team_credits.sql");
    const file = await readFile(first?.file as string, "utf8");
    expect(first?.sections).toHaveLength(file.split("--> statement-breakpoint").length);
    // A DO $$ … $$ body holds `;` and must reach the server in one piece.
    const doBlock = first?.sections.find((s) => s.includes("DO $$"));
    expect(doBlock?.trim()).toMatch(/^DO \$\$ BEGIN[\s\S]*;\nEXCEPTION[\s\S]*END \$\$;$/);
    // Newer drizzle-kit puts the marker right after the statement's `;`.
    expect(second?.sections[0]?.trim()).toBe(
      'ALTER TABLE "teams" ADD COLUMN "credits_balance" integer DEFAULT 0 NOT NULL;',
    );
    for (const m of schema.migrations)
      for (const [i, section] of m.sections.entries())
        expect(m.sql.slice(m.offsets[i], (m.offsets[i] ?? 0) + section.length)).toBe(section);
  });

  it("orders Prisma's migration folders by name and skips migration_lock.toml", async () => {
    const schema = await loadSchema({ migrations: path.join(SCHEMAS, "prisma", "migrations") });
    expect(schema.layout).toBe("prisma");
    expect(schema.migrations.map((m) => m.name)).toEqual([
      "20240101120000_init",
      "20240215093000_add_credits",
      "20240301080000_webhook_events",
    ]);
    expect(schema.migrations[0]?.file).toMatch(/20240101120000_init\/migration\.sql$/);
    expect(schema.description).toMatch(/^prisma migrations: 3 folders in /);
  });

  it("orders Flyway versions numerically per part, repeatables last, undo files never", async () => {
    const schema = await loadSchema({ migrations: path.join(SCHEMAS, "flyway") });
    expect(schema.layout).toBe("flyway");
    expect(schema.migrations.map((m) => m.name)).toEqual([
      "V1__init.sql",
      "V1.1__users_stripe_customer.sql",
      "V1.2__teams.sql",
      "V1.10__teams_owner.sql",
      "V2_1__credits.sql",
      "R__balances_view.sql",
    ]);
    expect(schema.migrations.map((m) => m.number)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("starts Flyway from the newest baseline and rejects two files of one version", async () => {
    const dir = await folder("flyway-baseline", {
      "V1__a.sql": "SELECT 1;",
      "V2__b.sql": "SELECT 2;",
      "B2__base.sql": "SELECT 'base';",
      "V3__c.sql": "SELECT 3;",
    });
    const schema = await loadSchema({ migrations: dir });
    expect(schema.migrations.map((m) => m.name)).toEqual(["B2__base.sql", "V3__c.sql"]);
    const dup = await folder("flyway-dup", {
      "V1.0__a.sql": "SELECT 1;",
      "V1__b.sql": "SELECT 1;",
    });
    await expect(loadSchema({ migrations: dup })).rejects.toThrow(
      /two migrations with version V1 in .*flyway-dup: V1.0__a.sql and V1__b.sql/,
    );
  });

  it("applies golang-migrate's up files in numeric order, never the down files", async () => {
    const schema = await loadSchema({ migrations: path.join(SCHEMAS, "golang-migrate") });
    expect(schema.layout).toBe("golang-migrate");
    expect(schema.migrations.map((m) => m.name)).toEqual([
      "000001_create_users.up.sql",
      "000002_webhook_events.up.sql",
      "000010_users_credits_balance.up.sql",
    ]);
    const unpadded = await folder("golang-unpadded", {
      "10_c.up.sql": "SELECT 10;",
      "2_b.up.sql": "SELECT 2;",
      "2_b.down.sql": "SELECT -2;",
      "1_a.up.sql": "SELECT 1;",
    });
    expect((await loadSchema({ migrations: unpadded })).migrations.map((m) => m.version)).toEqual([
      "1",
      "2",
      "10",
    ]);
  });

  it("sends only dbmate's up block", async () => {
    const schema = await loadSchema({
      migrations: path.join(SCHEMAS, "dbmate", "db", "migrations"),
    });
    expect(schema.layout).toBe("dbmate");
    expect(schema.migrations).toHaveLength(3);
    for (const m of schema.migrations) {
      expect(m.sections).toHaveLength(1);
      expect(m.sections[0]).not.toMatch(/migrate:|DROP TABLE/);
    }
    expect(schema.migrations[0]?.sections[0]).toContain("NEW.email := lower(NEW.email);");
    const noUp = await folder("dbmate-no-up", {
      "20240101_a.sql": "-- migrate:up\nSELECT 1;\n",
      "20240102_b.sql": "SELECT 2;\n-- migrate:down\n",
    });
    await expect(loadSchema({ migrations: noUp })).rejects.toThrow(
      /20240102_b\.sql: expected a "-- migrate:up" line/,
    );
  });

  it("skips what is not a migration", async () => {
    const dir = await folder("plain-with-extras", {
      "README.md": "# migrations",
      "001_a.sql": "CREATE TABLE a (id int);",
      "notes.json": "{}",
      "config.toml": "",
      "002_b.sql": "CREATE TABLE b (id int);",
    });
    const schema = await loadSchema({ migrations: dir });
    expect(schema.migrations.map((m) => m.name)).toEqual(["001_a.sql", "002_b.sql"]);
  });

  it("says which folder held nothing and which layouts it looked for", async () => {
    const empty = await folder("empty", {});
    await expect(loadSchema({ migrations: empty })).rejects.toThrow(
      /no migrations found in .*empty: looked for drizzle-kit .*Prisma .*Flyway .*golang-migrate .*dbmate .*plain \(001_name\.sql\); found an empty folder/,
    );
    const other = await folder("unknown", { "README.md": "", "schema.prisma": "" });
    await expect(loadSchema({ migrations: other })).rejects.toThrow(
      /found README\.md, schema\.prisma/,
    );
    await expect(loadSchema({ migrations: path.join(SCHEMAS, "prisma") })).rejects.toThrow(
      `no migrations found in ${path.join(SCHEMAS, "prisma")}; did you mean ${path.join(SCHEMAS, "prisma", "migrations")}?`,
    );
    await expect(loadSchema({ migrations: path.join(scratch, "missing") })).rejects.toThrow(
      /cannot read migrations folder .*missing/,
    );
    await expect(
      loadSchema({ migrations: path.join(SCHEMAS, "pg_dump", "schema.sql") }),
    ).rejects.toThrow(
      /is a file, not a migrations folder \(for a pg_dump --schema-only file, use schema/,
    );
  });
});

describe("pg_dump files", () => {
  it("blanks psql meta-commands and keeps the line numbers of a real pg_dump file", async () => {
    const file = path.join(SCHEMAS, "pg_dump", "schema.sql");
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^\\restrict \S+$/m);
    const schema = await loadSchema({ schema: file });
    expect(schema.layout).toBe("pg_dump");
    expect(schema.description).toMatch(
      /^pg_dump schema: .*schema\.sql \(2 psql meta-commands skipped\)$/,
    );
    const sql = schema.migrations[0]?.sql as string;
    expect(sql).not.toMatch(/^\s*\\/m);
    expect(sql.split("\n")).toHaveLength(text.split("\n").length);
    expect(sql).toContain("SELECT pg_catalog.set_config('search_path', '', false);");
    expect(schema.roles).toEqual(expect.arrayContaining(["app_owner", "app_readonly", "postgres"]));
  });

  it("handles what pg_dump 17.6 writes: \\restrict, \\connect, transaction_timeout", async () => {
    const schema = await loadSchema({ schema: path.join(SCHEMAS, "pg_dump", "restrict-17.sql") });
    const sql = schema.migrations[0]?.sql as string;
    expect(sql).not.toMatch(/\\(restrict|unrestrict|connect)/);
    expect(schema.roles).toEqual(["app", "read-only"]);
    // A server without the setting gets no SET for it; one with it keeps the line.
    expect(dropUnknownSettings(sql, new Set(["lock_timeout"]))).not.toContain(
      "transaction_timeout",
    );
    expect(dropUnknownSettings(sql, new Set(["transaction_timeout"]))).toContain(
      "SET transaction_timeout = 0;",
    );
  });

  it("refuses a dump with data in it", () => {
    expect(() =>
      prepareDump("SET x = 1;\nCOPY public.users (id) FROM stdin;\n1\n\\.\n", "/d/dump.sql"),
    ).toThrow("/d/dump.sql:2: a data section (COPY … FROM stdin) needs psql");
  });

  it("finds owners, grantees, memberships and policy roles", () => {
    expect(
      namedRoles(
        [
          "ALTER TABLE public.t OWNER TO app_owner;",
          'CREATE SCHEMA s AUTHORIZATION "Admin";',
          "GRANT SELECT ON TABLE public.t TO anon, authenticated;",
          "GRANT authenticator TO supabase_admin;",
          "GRANT ALL ON SCHEMA public TO PUBLIC;",
          "REVOKE ALL ON TABLE public.t FROM service_role;",
          "CREATE POLICY p ON public.t FOR SELECT TO authenticated USING (true);",
        ].join("\n"),
      ).sort(),
    ).toEqual(
      [
        "app_owner",
        "Admin",
        "anon",
        "authenticated",
        "authenticator",
        "supabase_admin",
        "service_role",
      ].sort(),
    );
  });
});

describe("hash", () => {
  it("changes with a migration's bytes, not with files the tool never reads", async () => {
    const dir = path.join(scratch, "hash-drizzle");
    await cp(path.join(SCHEMAS, "drizzle-kit"), dir, { recursive: true });
    const before = await loadSchema({ migrations: dir });
    expect(before.hash).toMatch(/^[0-9a-f]{64}$/);
    await writeFile(path.join(dir, "README.md"), "notes");
    await writeFile(path.join(dir, "meta", "0000_snapshot.json"), "{}");
    expect((await loadSchema({ migrations: dir })).hash).toBe(before.hash);
    await writeFile(path.join(dir, "0001_team_credits.sql"), "SELECT 1;");
    expect((await loadSchema({ migrations: dir })).hash).not.toBe(before.hash);
  });

  it("keys a migrate command on its command line and its whole folder, installs and builds aside", async () => {
    const cwd = await folder("alembic-project", {
      "alembic/versions/0001_init.py": "def upgrade(): pass",
      "alembic.ini": "",
      "node_modules/x/index.js": "",
    });
    const a = await loadSchema({ migrate: "alembic upgrade head", cwd });
    expect(a.layout).toBe("migrate-command");
    expect(a.migrations).toEqual([]);
    expect(a.description).toBe(
      `migrate command: alembic upgrade head (in ${cwd}; template cache keyed on the command and ${cwd} (2 files))`,
    );
    expect((await loadSchema({ migrate: "alembic upgrade heads", cwd })).hash).not.toBe(a.hash);
    await writeFile(path.join(cwd, "alembic/versions/0002_more.py"), "def upgrade(): pass");
    const b = await loadSchema({ migrate: "alembic upgrade head", cwd });
    expect(b.hash).not.toBe(a.hash);
    // A migrator in code reads its SQL from anywhere in the folder: that counts too…
    await writeFile(path.join(cwd, "migrate.py"), "run()");
    const c = await loadSchema({ migrate: "alembic upgrade head", cwd });
    expect(c.hash).not.toBe(b.hash);
    // …but an install or a build does not.
    await mkdir(path.join(cwd, "dist"), { recursive: true });
    await writeFile(path.join(cwd, "dist/out.js"), "built");
    await writeFile(path.join(cwd, "node_modules/x/index.js"), "changed");
    expect((await loadSchema({ migrate: "alembic upgrade head", cwd })).hash).toBe(c.hash);
    await expect(loadSchema({ migrate: "x", cwd: path.join(cwd, "nope") })).rejects.toThrow(
      /the command's folder .*nope does not exist/,
    );
  });

  it("keys on database.watch alone when the config names what the migrations are made of", async () => {
    const cwd = await folder("watched", {
      "src/server.ts": "listen()",
      "db/sql/0001.sql": "CREATE TABLE a (id int);",
    });
    const source = { migrate: "node migrate.js", cwd, watch: ["db/**/*.sql"] };
    const a = await loadSchema(source);
    expect(a.description).toContain(
      "template cache keyed on the command and database.watch (1 file)",
    );
    await writeFile(path.join(cwd, "src/server.ts"), "listen(1)");
    expect((await loadSchema(source)).hash).toBe(a.hash);
    await writeFile(path.join(cwd, "db/sql/0002.sql"), "CREATE TABLE b (id int);");
    expect((await loadSchema(source)).hash).not.toBe(a.hash);
  });

  it("covers the workspace packages a service depends on (pnpm workspace:)", async () => {
    const root = await folder("pnpm-repo", {
      "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n  - \"apps/*\"\n",
      "package.json": JSON.stringify({ name: "root", private: true }),
      "apps/server/package.json": JSON.stringify({
        name: "server",
        dependencies: { "@acme/sync-engine": "workspace:*", fastify: "^5" },
      }),
      "apps/server/src/index.ts": "start()",
      "packages/sync-engine/package.json": JSON.stringify({ name: "@acme/sync-engine" }),
      "packages/sync-engine/migrations/0001.sql": "CREATE SCHEMA stripe;",
      "packages/unrelated/package.json": JSON.stringify({ name: "unrelated" }),
    });
    const cwd = path.join(root, "apps/server");
    const a = await loadSchema({ migrate: "service", cwd });
    expect(a.layout).toBe("service-migrates");
    expect(a.description).toContain("and 1 workspace package it depends on");
    await writeFile(path.join(root, "packages/sync-engine/migrations/0002.sql"), "SELECT 1;");
    const b = await loadSchema({ migrate: "service", cwd });
    expect(b.hash).not.toBe(a.hash);
    await writeFile(path.join(root, "packages/unrelated/x.sql"), "SELECT 1;");
    expect((await loadSchema({ migrate: "service", cwd })).hash).toBe(b.hash);
  });
});

describe("migration errors", () => {
  it("names the file, line:column, section and statement around the position", async () => {
    const schema = await loadSchema({ migrations: path.join(SCHEMAS, "drizzle-kit") });
    const migration = schema.migrations[1];
    if (!migration) throw new Error("fixture changed");
    const section = migration.sections[1] as string;
    // What Postgres would report for a typo in the second section: position is 1-based.
    const position = section.indexOf('"stripe_event_id" text') + 1;
    const message = describeMigrationFailure(
      migration,
      1,
      Object.assign(new Error('type "texte" does not exist'), {
        code: "42704",
        position: String(position),
      }),
    );
    expect(message).toContain(
      'migration 0001_team_credits.sql failed: type "texte" does not exist (SQLSTATE 42704)',
    );
    expect(message).toContain(`at ${migration.file}:5:2 (section 2 of 3)`);
    expect(message).toContain('  statement: CREATE TABLE IF NOT EXISTS "credit_grants" (\n');
    expect(message).toContain('\n             \t"stripe_event_id" text NOT NULL,\n');
  });

  it("trims a long statement to about 200 characters around the position", () => {
    const text = `${"a".repeat(500)}\nSELECT broken;\n${"b".repeat(500)}`;
    const shown = excerpt(text, text.indexOf("broken"));
    expect(shown).toContain("SELECT broken;");
    expect(shown.length).toBeLessThan(220);
  });
});

describeSharedData(
  "drizzle-kit's own output (nextjs/saas-starter's first migration)",
  [SAAS_STARTER],
  () => {
    it("follows its journal and keeps every DO $$ … $$ block in one section", async () => {
      const dir = sharedData(SAAS_STARTER);
      const schema = await loadSchema({ migrations: dir });
      expect(schema.layout).toBe("drizzle-kit");
      expect(schema.description).toMatch(/^drizzle-kit migrations: 1 file in /);
      expect(schema.migrations.map((m) => [m.number, m.name, m.version])).toEqual([
        [1, "0000_soft_the_anarchist.sql", "0000"],
      ]);
      const [only] = schema.migrations;
      const file = await readFile(path.join(dir, "0000_soft_the_anarchist.sql"), "utf8");
      expect(only?.sections).toHaveLength(file.split("--> statement-breakpoint").length);
      const blocks = only?.sections.filter((s) => s.includes("DO $$")) ?? [];
      // Its six foreign keys, each added in a block that tolerates an existing constraint.
      expect(blocks).toHaveLength(6);
      for (const block of blocks)
        expect(block.trim()).toMatch(
          /^DO \$\$ BEGIN\n[^\n]*;\nEXCEPTION\n WHEN duplicate_object THEN null;\nEND \$\$;$/,
        );
      for (const [i, section] of (only?.sections ?? []).entries())
        expect(only?.sql.slice(only.offsets[i], (only.offsets[i] ?? 0) + section.length)).toBe(
          section,
        );
    });
  },
);
