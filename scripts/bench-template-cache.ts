#!/usr/bin/env -S npx tsx
/**
 * Cold time to the first scenario database: from startEnvironment() (a new Postgres server) to
 * the first clone created, for three set-ups:
 *  - no cache:        initdb, then every migration (FAULTLINE_CLUSTER_CACHE=off)
 *  - initdb cache:    copy a pristine cluster, then every migration (templateCache: false)
 *  - template cache:  copy the cluster with the migrated template in it; no migration runs
 * for the bundled payments schema, the drizzle-kit fixture, the pg_dump fixture, a generated
 * schema of 80 migrations (a mature app's history), and those 80 applied by a migrate command
 * (a Node script with pg, as Knex would: the command's own start-up is part of what it costs).
 * Usage: npx tsx scripts/bench-template-cache.ts [runs]   (default 5)
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type SchemaSource, startEnvironment } from "../harness/postgres/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = Number(process.argv[2] ?? 5);
const scratch = await mkdtemp(path.join(tmpdir(), "faultline-bench-template-"));
await chmod(scratch, 0o755);
process.env.FAULTLINE_TMPDIR = scratch;
const cacheDir = path.join(scratch, "cache");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** 80 plain migrations: tables with foreign keys, indexes, a trigger function, later alters. */
async function generatedSchema(): Promise<string> {
  const dir = path.join(scratch, "generated");
  await mkdir(dir, { recursive: true });
  for (let i = 1; i <= 80; i++) {
    const n = String(i).padStart(3, "0");
    const sql =
      i <= 50
        ? `CREATE TABLE t${i} (
  id bigserial PRIMARY KEY,
  ${i > 1 ? `parent_id bigint REFERENCES t${i - 1} (id),` : ""}
  name text NOT NULL,
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done')),
  payload jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t${i}_name_idx ON t${i} (name);
CREATE INDEX t${i}_created_idx ON t${i} (created_at);
CREATE FUNCTION t${i}_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
CREATE TRIGGER t${i}_touch BEFORE UPDATE ON t${i} FOR EACH ROW EXECUTE FUNCTION t${i}_touch();
`
        : `ALTER TABLE t${i - 50} ADD COLUMN extra_${i} integer NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX t${i - 50}_extra_${i}_idx ON t${i - 50} (id, extra_${i});
`;
    await writeFile(path.join(dir, `${n}_step.sql`), sql);
  }
  return dir;
}

async function timeToFirstClone(
  schema: SchemaSource,
  options: { cache: "off" | "initdb" | "template" },
): Promise<{ ms: number; templateCache: string }> {
  process.env.FAULTLINE_CLUSTER_CACHE = options.cache === "off" ? "off" : cacheDir;
  const started = performance.now();
  const env = await startEnvironment({ schema, templateCache: options.cache === "template" });
  await env.databases.create("bench", []);
  const ms = performance.now() - started;
  const templateCache = env.templateCache;
  await env.stop();
  return { ms, templateCache };
}

/** A project whose migrate command is a Node script applying the generated files in order. */
async function commandProject(migrations: string): Promise<SchemaSource> {
  const cwd = path.join(scratch, "command-project");
  await mkdir(cwd, { recursive: true });
  const pg = JSON.stringify(path.join(root, "node_modules", "pg", "lib", "index.js"));
  await writeFile(
    path.join(cwd, "migrate.mjs"),
    `import { readdirSync, readFileSync } from "node:fs";
import pg from ${pg};
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
for (const file of readdirSync(${JSON.stringify(migrations)}).sort())
  await client.query(readFileSync(${JSON.stringify(migrations)} + "/" + file, "utf8"));
await client.end();
`,
  );
  return { migrate: "node migrate.mjs", cwd };
}

const generated = await generatedSchema();
const schemas: [string, SchemaSource][] = [
  ["payments (plain, 2 files)", { migrations: path.join(root, "fixtures", "schema") }],
  [
    "teams (drizzle-kit, 2 files)",
    { migrations: path.join(root, "fixtures", "schemas", "drizzle-kit") },
  ],
  [
    "pg_dump (412 lines)",
    { schema: path.join(root, "fixtures", "schemas", "pg_dump", "schema.sql") },
  ],
  ["generated (plain, 80 files)", { migrations: generated }],
  ["generated via migrate command (node)", await commandProject(generated)],
];

console.log(
  `cold time to first clone, median (min) of ${runs} runs each, a new Postgres server per run; the three set-ups interleaved so load hits them alike`,
);
console.log(
  "schema".padEnd(38),
  "no cache".padStart(16),
  "initdb cache".padStart(16),
  "template cache".padStart(16),
);
try {
  for (const [label, schema] of schemas) {
    const off: number[] = [];
    const initdb: number[] = [];
    const template: number[] = [];
    await timeToFirstClone(schema, { cache: "initdb" }); // fill the initdb cache
    const first = await timeToFirstClone(schema, { cache: "template" }); // a miss: builds and saves
    if (first.templateCache !== "miss")
      throw new Error(`expected a miss, got ${first.templateCache}`);
    for (let i = 0; i < runs; i++) {
      off.push((await timeToFirstClone(schema, { cache: "off" })).ms);
      initdb.push((await timeToFirstClone(schema, { cache: "initdb" })).ms);
      const run = await timeToFirstClone(schema, { cache: "template" });
      if (run.templateCache !== "hit") throw new Error(`expected a hit, got ${run.templateCache}`);
      template.push(run.ms);
    }
    const fmt = (xs: number[]) => `${Math.round(median(xs))} (${Math.round(Math.min(...xs))}) ms`;
    console.log(
      label.padEnd(38),
      fmt(off).padStart(16),
      fmt(initdb).padStart(16),
      fmt(template).padStart(16),
      `  (the miss that saved it: ${Math.round(first.ms)} ms)`,
    );
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
