import { dirOf, dotSlash, type Evidence, type Guess, normalise, type Repo } from "./repo.ts";

/** How the config's `database` block gets the schema: a folder of SQL, a command, or a dump. */
export type DatabaseSource =
  | { migrations: string; layout: MigrationLayout }
  | { migrate: string; tool: string }
  | { schema: string };

/** The migration folder layouts `faultline init` recognises. */
export type MigrationLayout =
  | "drizzle"
  | "prisma"
  | "flyway"
  | "golang-migrate"
  | "dbmate"
  | "numbered SQL";

/** Which SQL files the schema guess is made of (for finding the tables a column belongs to). */
export interface DatabaseGuess extends Guess<DatabaseSource> {
  sqlFiles: string[];
}

const sqlIn = (repo: Repo, dir: string, name: RegExp = /\.sql$/) =>
  repo.files.filter((f) => dirOf(f) === dir && name.test(f.slice(f.lastIndexOf("/") + 1)));

function drizzle(repo: Repo): DatabaseGuess | undefined {
  // drizzle.config.* names the folder (`out:`); a meta/_journal.json marks one without it.
  for (const config of repo.matching(/(^|\/)drizzle\.config\.[cm]?[jt]s$/)) {
    const out = repo.find(config, /\bout\s*:\s*["'`]([^"'`]+)["'`]/);
    if (!out) continue;
    const base = dirOf(config);
    const out1 = out.match[1] ?? ".";
    const rel = normalise(base === "." ? out1 : `${base}/${out1}`);
    return {
      value: { migrations: dotSlash(rel), layout: "drizzle" },
      evidence: [strip(out)],
      sqlFiles: sqlIn(repo, rel),
    };
  }
  const journal = repo.matching(/(^|\/)meta\/_journal\.json$/)[0];
  if (!journal) return undefined;
  const rel = dirOf(dirOf(journal));
  return {
    value: { migrations: dotSlash(rel), layout: "drizzle" },
    evidence: [{ file: journal, line: 1, text: "drizzle-kit journal" }],
    sqlFiles: sqlIn(repo, rel),
  };
}

function prisma(repo: Repo): DatabaseGuess | undefined {
  const files = repo.matching(/(^|\/)migrations\/[^/]+\/migration\.sql$/);
  const first = files[0];
  if (!first) return undefined;
  const rel = dirOf(dirOf(first));
  return {
    value: { migrations: dotSlash(rel), layout: "prisma" },
    evidence: [{ file: first, line: 1, text: "Prisma migration" }],
    sqlFiles: files.filter((f) => dirOf(dirOf(f)) === rel),
  };
}

/** A folder whose files are named like one migration tool's. */
function byFileName(
  repo: Repo,
  name: RegExp,
  layout: MigrationLayout,
  accept: (file: string) => Evidence | undefined = (file) => ({ file, line: 1, text: "" }),
): DatabaseGuess | undefined {
  for (const dir of repo.dirsWith(name)) {
    const files = sqlIn(repo, dir, name);
    const evidence = files.map(accept).find((e) => e !== undefined);
    if (!evidence) continue;
    return {
      value: { migrations: dotSlash(dir), layout },
      evidence: [{ ...evidence, text: evidence.text || `${files.length} ${layout} file(s)` }],
      sqlFiles: files,
    };
  }
  return undefined;
}

/** A migration tool whose migrations are code, found by its own files: the config runs it. */
const TOOLS: {
  tool: string;
  file: RegExp;
  command: string;
  also?: RegExp;
  /** The project folder, from the marker file's folder (bin/rails sits one level down). */
  up?: number;
}[] = [
  { tool: "Alembic", file: /(^|\/)alembic\.ini$/, command: "alembic upgrade head" },
  {
    tool: "Rails",
    file: /^bin\/rails$/,
    also: /^db\/migrate\/[^/]+\.rb$/,
    command: "bin/rails db:migrate",
    up: 1,
  },
  { tool: "Django", file: /(^|\/)manage\.py$/, command: "python manage.py migrate" },
  { tool: "Knex", file: /(^|\/)knexfile\.[cm]?[jt]s$/, command: "npx knex migrate:latest" },
];

function tool(repo: Repo): DatabaseGuess | undefined {
  for (const t of TOOLS) {
    const file = repo.matching(t.file)[0];
    if (!file || (t.also && repo.matching(t.also).length === 0)) continue;
    let base = dirOf(file);
    for (let i = 0; i < (t.up ?? 0); i++) base = dirOf(base);
    const command = base === "." ? t.command : `cd ${base} && ${t.command}`;
    return {
      value: { migrate: command, tool: t.tool },
      evidence: [{ file, line: 1, text: `${t.tool} project` }],
      sqlFiles: [],
    };
  }
  return undefined;
}

function dump(repo: Repo): DatabaseGuess | undefined {
  for (const file of repo.matching(/\.sql$/)) {
    const header = repo.find(file, /^-- PostgreSQL database dump/m);
    if (header)
      return { value: { schema: dotSlash(file) }, evidence: [strip(header)], sqlFiles: [file] };
  }
  return undefined;
}

/**
 * Where the repository's schema comes from. SQL migration folders win over tools (faultline
 * applies SQL itself, without the tool installed), and a pg_dump file is the last resort.
 */
export function detectDatabase(repo: Repo): DatabaseGuess | undefined {
  return (
    drizzle(repo) ??
    prisma(repo) ??
    byFileName(repo, /^V\d+(?:[._]\d+)*__.+\.sql$/, "flyway") ??
    byFileName(repo, /^\d+_.+\.up\.sql$/, "golang-migrate") ??
    byFileName(repo, /^\d+_.+\.sql$/, "dbmate", (file) => {
      const up = repo.find(file, /^-- migrate:up/m);
      return up ? strip(up) : undefined;
    }) ??
    byFileName(repo, /^\d+[_-].+\.sql$/, "numbered SQL") ??
    tool(repo) ??
    dump(repo)
  );
}

/** A migrator called in code: a `runMigrations()`-style call, drizzle's `migrate(db, …)`, Knex, Umzug, Alembic's API. */
const MIGRATOR_CALL =
  /\b(?:runMigrations|runMigration|applyMigrations|migrateDatabase|migrateLatest|migrateUp)\s*\(|\bmigrate\s*\(\s*\w+\s*,\s*\{[^}]*migrationsFolder|\.migrate\.latest\s*\(|\bnew\s+Umzug\b|\bmigrator\.(?:up|migrate)\s*\(|\bcommand\.upgrade\s*\(/;
/** What a file that starts a server has. */
const STARTS_SERVER =
  /\.listen\s*\(|\bcreateServer\s*\(|\bserve\s*\(|\buvicorn\.run\s*\(|\bhttp\.ListenAndServe\b|\bon_event\(\s*["']startup|\blifespan\b/;

/**
 * A service that migrates itself at start: a source file that starts the server and calls a
 * migrator. Its schema cannot be built from a folder alone (it often creates its schema in
 * code, then applies SQL files that never create it), so the template is built by starting it.
 */
export function detectSelfMigration(repo: Repo, within = "."): Evidence | undefined {
  const prefix = within === "." ? "" : `${within}/`;
  for (const file of repo.files) {
    if (!file.startsWith(prefix)) continue;
    if (!/\.(?:[cm]?[jt]s|py|rb|go)$/.test(file) || /\.(?:test|spec)\.|(^|\/)tests?\//.test(file))
      continue;
    const text = repo.read(file);
    if (text === undefined || !STARTS_SERVER.test(text)) continue;
    const call = repo.find(file, MIGRATOR_CALL);
    if (call) return strip(call);
  }
  return undefined;
}

/**
 * Schemas the SQL files use (`stripe.products`) but never create: made in code, so the folder
 * alone fails with 3F000 "schema … does not exist".
 */
export function schemasNotCreated(repo: Repo, sqlFiles: string[]): string[] {
  const used = new Set<string>();
  const created = new Set<string>(["public", "pg_catalog", "information_schema"]);
  for (const file of sqlFiles) {
    const text = repo.read(file) ?? "";
    for (const m of text.matchAll(/\bcreate\s+schema\s+(?:if\s+not\s+exists\s+)?"?(\w+)"?/gi))
      created.add((m[1] as string).toLowerCase());
    for (const m of text.matchAll(
      /\b(?:table|into|update|from|join|references|on)\s+(?:if\s+(?:not\s+)?exists\s+)?"?([a-z_]\w*)"?\s*\.\s*"?[a-z_]\w*/gi,
    ))
      used.add((m[1] as string).toLowerCase());
  }
  return [...used].filter((schema) => !created.has(schema)).sort();
}

function strip(e: Evidence & { match?: unknown }): Evidence {
  return { file: e.file, line: e.line, text: e.text };
}
