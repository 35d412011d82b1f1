import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { PostgresFailedError } from "../errors.ts";
import type { Migration } from "./migrations.ts";
import { prepareDump } from "./pg-dump.ts";
import { FOLDER_LAYOUTS, type FolderListing } from "./schema-layouts.ts";

/** Where a run's schema comes from, however the team keeps it. */
export type SchemaSource =
  /** An absolute folder of migrations in any known layout. */
  | { migrations: string }
  /** A shell command that migrates DATABASE_URL (Alembic, Rails, Knex, prisma migrate deploy…). */
  | { migrate: string; cwd: string }
  /** The absolute path of a `pg_dump --schema-only` file. */
  | { schema: string };

/** A schema source read and ordered, ready to build the template from. */
export interface LoadedSchema {
  layout:
    | "plain"
    | "drizzle-kit"
    | "prisma"
    | "flyway"
    | "golang-migrate"
    | "dbmate"
    | "migrate-command"
    | "pg_dump";
  /** One line for the console, e.g. `drizzle-kit migrations: 3 files in ./app/lib/db/migrations`. */
  description: string;
  /** In the tool's order; empty for a migrate command. */
  migrations: Migration[];
  /** sha256 over the layout and every file's relative name and bytes (or the command line). */
  hash: string;
  /** Where the source lives (folder, file, or command in its folder): one template-cache slot each. */
  origin: string;
  /** For a migrate command: the command and the folder it runs in. */
  command?: { line: string; cwd: string };
  /** Roles a pg_dump names (owners, grantees) that must exist before it is applied. */
  roles?: string[];
}

function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  if (relative === "") return ".";
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : `./${relative}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

async function listFolder(dir: string): Promise<FolderListing> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
    throw new PostgresFailedError(
      `cannot read migrations folder ${dir}: ${(error as Error).message}`,
      { cause: error },
    );
  });
  const files: string[] = [];
  const dirs: string[] = [];
  for (const entry of entries) {
    if (entry.isFile()) files.push(entry.name);
    else if (entry.isDirectory()) dirs.push(entry.name);
  }
  files.sort();
  dirs.sort();
  return { dir, files, dirs };
}

async function loadFolder(dir: string): Promise<LoadedSchema> {
  const info = await stat(dir).catch(() => undefined);
  if (info?.isFile()) {
    throw new PostgresFailedError(
      `${dir} is a file, not a migrations folder${dir.endsWith(".sql") ? " (for a pg_dump --schema-only file, use schema instead of migrations)" : ""}`,
    );
  }
  const folder = await listFolder(dir);
  for (const layout of FOLDER_LAYOUTS) {
    if (!(await layout.detect(folder))) continue;
    const { migrations: files, extra } = await layout.load(folder);
    if (files.length === 0) {
      throw new PostgresFailedError(
        `${dir} looks like a ${layout.name} folder but holds no migrations to apply`,
      );
    }
    const hash = createHash("sha256").update(`${layout.name}\0`);
    for (const name of extra) {
      hash.update(`${name}\0`).update(await readFile(path.join(dir, name)));
      hash.update("\0");
    }
    const migrations: Migration[] = files.map((file, index) => {
      hash.update(`${file.relative}\0${file.sql}\0`);
      return {
        number: file.number ?? index + 1,
        name: file.name,
        version: file.version,
        file: path.join(dir, file.relative),
        sql: file.sql,
        sections: file.sections,
        offsets: file.offsets,
      };
    });
    const unit = layout.name === "prisma" ? "folder" : "file";
    return {
      layout: layout.name,
      description: `${layout.name} migrations: ${plural(migrations.length, unit)} in ${shown(dir)}`,
      migrations,
      hash: hash.digest("hex"),
      origin: `migrations:${dir}`,
    };
  }
  const contents = [...folder.files, ...folder.dirs.map((d) => `${d}/`)];
  // A project root or prisma/ folder given instead of its migrations folder: point at it.
  const nested = ["migrations", "db/migrations", "db/migration", "drizzle", "prisma/migrations"];
  for (const candidate of nested) {
    const info = await stat(path.join(dir, candidate)).catch(() => undefined);
    if (info?.isDirectory())
      throw new PostgresFailedError(
        `no migrations found in ${dir}; did you mean ${path.join(dir, candidate)}? (looked for ${FOLDER_LAYOUTS.map((l) => l.looksLike).join(", ")})`,
      );
  }
  throw new PostgresFailedError(
    `no migrations found in ${dir}: looked for ${FOLDER_LAYOUTS.map((l) => l.looksLike).join(", ")}; found ${contents.length ? contents.slice(0, 10).join(", ") + (contents.length > 10 ? ", …" : "") : "an empty folder"}`,
  );
}

async function loadDump(file: string): Promise<LoadedSchema> {
  const text = await readFile(file, "utf8").catch((error: unknown) => {
    throw new PostgresFailedError(`cannot read schema file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  });
  let prepared: ReturnType<typeof prepareDump>;
  try {
    prepared = prepareDump(text, file);
  } catch (error) {
    throw new PostgresFailedError((error as Error).message);
  }
  if (prepared.sql.trim() === "") throw new PostgresFailedError(`schema file ${file} is empty`);
  const name = path.basename(file);
  return {
    layout: "pg_dump",
    description: `pg_dump schema: ${shown(file)}${prepared.stripped.length ? ` (${plural(prepared.stripped.length, "psql meta-command")} skipped)` : ""}`,
    migrations: [
      {
        number: 1,
        name,
        version: name,
        file,
        sql: prepared.sql,
        sections: [prepared.sql],
        offsets: [0],
      },
    ],
    hash: createHash("sha256").update("pg_dump\0").update(text).digest("hex"),
    origin: `schema:${file}`,
    roles: prepared.roles,
  };
}

/**
 * Cheap to hash, and what a migrate command most likely reads: the usual migration folders of
 * Alembic, Rails, Knex, Prisma, drizzle, dbmate and Flyway under its working folder.
 */
const COMMAND_FOLDERS = [
  "alembic/versions",
  "migrations",
  "migrations/versions",
  "db/migrate",
  "db/migrations",
  "prisma/migrations",
  "drizzle",
  "src/main/resources/db/migration",
];
const COMMAND_HASH_LIMIT = 20 * 1024 * 1024;

async function hashTree(
  hash: ReturnType<typeof createHash>,
  root: string,
  relative: string,
  budget: { bytes: number },
): Promise<number> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true }).catch(() => []);
  let files = 0;
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const child = path.posix.join(relative, entry.name);
    if (entry.isDirectory() && entry.name !== "__pycache__" && entry.name !== "node_modules") {
      files += await hashTree(hash, root, child, budget);
    } else if (entry.isFile() && budget.bytes > 0) {
      const bytes = await readFile(path.join(root, child)).catch(() => undefined);
      if (!bytes) continue;
      budget.bytes -= bytes.length;
      hash.update(`${child}\0`).update(bytes).update("\0");
      files++;
    }
  }
  return files;
}

async function loadCommand(command: string, cwd: string): Promise<LoadedSchema> {
  if (command.trim() === "")
    throw new PostgresFailedError("migrate: expected a command, got an empty string");
  const info = await stat(cwd).catch(() => undefined);
  if (!info?.isDirectory())
    throw new PostgresFailedError(`migrate: the command's folder ${cwd} does not exist`);
  const hash = createHash("sha256").update(`migrate-command\0${command}\0${cwd}\0`);
  const budget = { bytes: COMMAND_HASH_LIMIT };
  const seen: string[] = [];
  for (const folder of COMMAND_FOLDERS) {
    const files = await hashTree(hash, cwd, folder, budget);
    if (files > 0) seen.push(`${folder}/ (${plural(files, "file")})`);
  }
  return {
    layout: "migrate-command",
    description: `migrate command: ${command} (in ${shown(cwd)}; template cache keyed on the command${seen.length ? ` and ${seen.join(", ")}` : " only"})`,
    migrations: [],
    hash: hash.digest("hex"),
    origin: `migrate:${cwd}\0${command}`,
    command: { line: command, cwd },
  };
}

/** Read a schema source: detect the folder's layout, order its migrations, hash it all. */
export async function loadSchema(source: SchemaSource): Promise<LoadedSchema> {
  if ("migrations" in source) return loadFolder(path.resolve(source.migrations));
  if ("schema" in source) return loadDump(path.resolve(source.schema));
  if ("migrate" in source) return loadCommand(source.migrate, path.resolve(source.cwd));
  throw new PostgresFailedError(
    "schema source: expected one of { migrations }, { migrate, cwd } or { schema }",
  );
}
