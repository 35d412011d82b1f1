import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import { PostgresFailedError } from "../errors.ts";
import type { Migration } from "./migrations.ts";
import { prepareDump } from "./pg-dump.ts";
import { FOLDER_LAYOUTS, type FolderListing } from "./schema-layouts.ts";

/** Where a run's schema comes from, however the team keeps it. */
export type SchemaSource =
  /** An absolute folder of migrations in any known layout. */
  | { migrations: string }
  /**
   * A shell command that migrates DATABASE_URL (Alembic, Rails, Knex, prisma migrate deploy…),
   * or `"service"`: the service migrates itself at start. `watch`: globs (relative to
   * `watchBase`, else `cwd`) of what the migrations are made of, for the template cache key.
   */
  | { migrate: string; cwd: string; watch?: string[]; watchBase?: string }
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
    | "service-migrates"
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

const COMMAND_HASH_LIMIT = 20 * 1024 * 1024;
/** Folders that are installs, builds or caches, never what a migration is written in. */
const NOT_SOURCE = new Set([
  "node_modules",
  "__pycache__",
  ".git",
  ".venv",
  "venv",
  "dist",
  "build",
  ".next",
  "coverage",
  "target",
  ".turbo",
  ".cache",
]);

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
    if (entry.isDirectory() && !NOT_SOURCE.has(entry.name)) {
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

async function loadCommand(
  command: string,
  cwd: string,
  watch?: { patterns: string[]; base: string },
): Promise<LoadedSchema> {
  if (command.trim() === "")
    throw new PostgresFailedError("migrate: expected a command, got an empty string");
  const info = await stat(cwd).catch(() => undefined);
  if (!info?.isDirectory())
    throw new PostgresFailedError(`migrate: the command's folder ${cwd} does not exist`);
  const byService = command.trim() === "service";
  const hash = createHash("sha256").update(`migrate-command\0${command}\0${cwd}\0`);
  const budget = { bytes: COMMAND_HASH_LIMIT };
  let covered: string;
  if (watch) {
    // What the config names, and only that: the user knows where the migrations live.
    const files = await glob(watch.patterns, {
      cwd: watch.base,
      onlyFiles: true,
      ignore: ["**/node_modules/**", "**/.git/**"],
    });
    for (const file of files.sort()) {
      const bytes = await readFile(path.join(watch.base, file)).catch(() => undefined);
      if (!bytes || budget.bytes <= 0) continue;
      budget.bytes -= bytes.length;
      hash.update(`${file}\0`).update(bytes).update("\0");
    }
    covered = `database.watch (${plural(files.length, "file")})`;
  } else {
    // The service's whole folder (sources, not installs or builds) and the workspace packages
    // it depends on: a migrator in code may read its SQL from any of them.
    const folders = [cwd, ...(await workspaceDependencies(cwd))];
    let files = 0;
    for (const folder of folders) {
      hash.update(`folder\0${folder}\0`);
      files += await hashTree(hash, folder, "", budget);
    }
    covered = `${shown(cwd)}${folders.length > 1 ? ` and ${plural(folders.length - 1, "workspace package")} it depends on` : ""} (${plural(files, "file")}${budget.bytes <= 0 ? `, the first ${COMMAND_HASH_LIMIT / 1024 / 1024} MB` : ""})`;
  }
  return {
    layout: byService ? "service-migrates" : "migrate-command",
    description: byService
      ? `the service migrates itself: the template is built by starting it once (in ${shown(cwd)}; template cache keyed on ${covered})`
      : `migrate command: ${command} (in ${shown(cwd)}; template cache keyed on the command and ${covered})`,
    migrations: [],
    hash: hash.digest("hex"),
    origin: `migrate:${cwd}\0${command}`,
    command: { line: command, cwd },
  };
}

/**
 * Folders of the workspace packages `dir`'s package.json depends on with `workspace:` (pnpm,
 * yarn) or that an npm/yarn workspace of the same root provides by name.
 */
export async function workspaceDependencies(dir: string): Promise<string[]> {
  const manifest = await readJson(path.join(dir, "package.json"));
  if (!manifest) return [];
  const wanted = new Set(
    ["dependencies", "devDependencies", "optionalDependencies"].flatMap((field) =>
      Object.keys((manifest[field] as Record<string, string> | undefined) ?? {}),
    ),
  );
  if (wanted.size === 0) return [];
  // The workspace root: the nearest parent with pnpm-workspace.yaml or package.json workspaces.
  let root = path.dirname(dir);
  let patterns: string[] | undefined;
  for (;;) {
    patterns = await workspacePatterns(root);
    if (patterns) break;
    const up = path.dirname(root);
    if (up === root) return [];
    root = up;
  }
  const dirs = await glob(
    patterns.map((p) => `${p.replace(/\/+$/, "")}/package.json`),
    { cwd: root, ignore: ["**/node_modules/**"] },
  );
  const found: string[] = [];
  for (const rel of dirs.sort()) {
    const pkgDir = path.join(root, path.dirname(rel));
    if (pkgDir === dir) continue;
    const name = (await readJson(path.join(pkgDir, "package.json")))?.name;
    if (typeof name === "string" && wanted.has(name)) found.push(pkgDir);
  }
  return found;
}

async function workspacePatterns(root: string): Promise<string[] | undefined> {
  const pnpm = await readFile(path.join(root, "pnpm-workspace.yaml"), "utf8").catch(
    () => undefined,
  );
  if (pnpm !== undefined) {
    // `packages:` then `- "glob"` lines: all the YAML pnpm's file needs for this.
    const list: string[] = [];
    let inPackages = false;
    for (const line of pnpm.split("\n")) {
      if (/^packages\s*:/.test(line)) inPackages = true;
      else if (/^\S/.test(line)) inPackages = false;
      else if (inPackages) {
        const item = /^\s*-\s*["']?([^"'#]+?)["']?\s*(#.*)?$/.exec(line);
        if (item?.[1] && !item[1].startsWith("!")) list.push(item[1]);
      }
    }
    return list;
  }
  const workspaces = (await readJson(path.join(root, "package.json")))?.workspaces;
  if (Array.isArray(workspaces))
    return workspaces.filter((w): w is string => typeof w === "string");
  const nested = (workspaces as { packages?: unknown } | undefined)?.packages;
  if (Array.isArray(nested)) return nested.filter((w): w is string => typeof w === "string");
  return undefined;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Read a schema source: detect the folder's layout, order its migrations, hash it all. */
export async function loadSchema(source: SchemaSource): Promise<LoadedSchema> {
  if ("migrations" in source) return loadFolder(path.resolve(source.migrations));
  if ("schema" in source) return loadDump(path.resolve(source.schema));
  if ("migrate" in source)
    return loadCommand(
      source.migrate,
      path.resolve(source.cwd),
      source.watch?.length
        ? { patterns: source.watch, base: path.resolve(source.watchBase ?? source.cwd) }
        : undefined,
    );
  throw new PostgresFailedError(
    "schema source: expected one of { migrations }, { migrate, cwd } or { schema }",
  );
}

/** Read the migrations of a folder in any known layout (plain `NNN_name.sql` included), in order. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  return (await loadSchema({ migrations: dir })).migrations;
}
