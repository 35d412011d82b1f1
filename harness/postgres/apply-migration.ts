import { spawn } from "node:child_process";
import path from "node:path";
import type pg from "pg";
import { PostgresFailedError } from "../errors.ts";
import { killQuietly } from "../lifecycle/index.ts";
import type { Migration } from "./migrations.ts";

/** 1-based line and column of a character index in a text. */
function lineColumn(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split("\n").length;
  return { line, column: index - before.lastIndexOf("\n") };
}

/** Postgres counts error positions in characters (code points), 1-based; JS strings in UTF-16 units. */
function codePointIndex(text: string, position: number): number {
  let index = 0;
  for (let seen = 1; seen < position && index < text.length; seen++) {
    index += (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
  }
  return index;
}

/** The text whole when short, else about `width` characters around `index`, widened to whole lines. */
export function excerpt(text: string, index: number, width = 200): string {
  if (text.trim().length <= width) return text.trim();
  let start = Math.max(0, index - width / 2);
  let end = Math.min(text.length, start + width);
  start = Math.max(0, end - width);
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  if (start - lineStart < 40) start = lineStart;
  const lineEnd = text.indexOf("\n", end);
  if (lineEnd === -1 ? text.length - end < 40 : lineEnd - end < 40)
    end = lineEnd === -1 ? text.length : lineEnd;
  const before = text.slice(0, start).trim() !== "";
  const after = text.slice(end).trim() !== "";
  return `${before ? "…" : ""}${text.slice(start, end).trim()}${after ? "…" : ""}`;
}

/** Where a migration failed, in the file's own terms. */
export function describeMigrationFailure(
  migration: Migration,
  section: number,
  error: pg.DatabaseError | Error,
): string {
  const text = migration.sections[section] ?? "";
  const offset = migration.offsets[section] ?? 0;
  const db = error as Partial<pg.DatabaseError>;
  const position = db.position ? Number(db.position) : undefined;
  const at = position ? codePointIndex(text, position) : text.search(/\S/);
  const { line, column } = lineColumn(migration.sql, offset + Math.max(0, at));
  const where = position ? `${migration.file}:${line}:${column}` : `${migration.file}:${line}`;
  const lines = [
    `migration ${migration.name} failed: ${error.message}${db.code ? ` (SQLSTATE ${db.code})` : ""}`,
    `  at ${where}${migration.sections.length > 1 ? ` (section ${section + 1} of ${migration.sections.length})` : ""}`,
  ];
  const shown = excerpt(text, Math.max(0, at))
    .split("\n")
    .map((l, i) => (i === 0 ? `  statement: ${l}` : `             ${l}`));
  lines.push(...shown);
  if (db.detail) lines.push(`  detail: ${db.detail}`);
  if (db.hint) lines.push(`  hint: ${db.hint}`);
  if (db.where) lines.push(`  where: ${db.where}`);
  return lines.join("\n");
}

/** Send each section of a migration whole, as one simple-protocol query (never split on `;`). */
export async function applyMigration(client: pg.Client, migration: Migration): Promise<void> {
  for (const [index, section] of migration.sections.entries()) {
    try {
      await client.query(section);
    } catch (error) {
      throw new PostgresFailedError(describeMigrationFailure(migration, index, error as Error), {
        cause: error,
      });
    }
  }
}

/** Where a migrate command should connect. */
interface CommandTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

/**
 * Run a project's own migrate command (Alembic, Rails, Knex, prisma migrate deploy…) once
 * against the template database. It gets the usual variables: DATABASE_URL and libpq's PG*.
 * Returns the last lines it printed.
 */
export async function runMigrateCommand(
  command: string,
  cwd: string,
  target: CommandTarget,
  signal?: AbortSignal,
): Promise<string[]> {
  // postgresql:// rather than postgres://: SQLAlchemy 1.4+ refuses the short scheme.
  const url = `postgresql://${encodeURIComponent(target.user)}@${target.host}:${target.port}/${encodeURIComponent(target.database)}`;
  const child = spawn("sh", ["-c", command], {
    cwd,
    env: {
      ...process.env,
      DATABASE_URL: url,
      PGHOST: target.host,
      PGPORT: String(target.port),
      PGUSER: target.user,
      PGDATABASE: target.database,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const output: string[] = [];
  const push = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) output.push(line);
    if (output.length > 60) output.splice(0, output.length - 60);
  };
  child.stdout.on("data", push);
  child.stderr.on("data", push);
  const abort = () => killQuietly(child.pid, "SIGTERM", true);
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (exit, killedBy) => resolve(exit ?? killedBy ?? "unknown"));
    }).catch((error: unknown) => {
      throw new PostgresFailedError(
        `migrate command could not start: ${command} (in ${cwd}): ${(error as Error).message}`,
        { cause: error },
      );
    });
    if (code !== 0) {
      const tail = output.length
        ? `\n--- last ${output.length} lines of its output ---\n${output.join("\n")}`
        : "\n(it printed nothing)";
      throw new PostgresFailedError(
        `migrate command failed (exit ${code}): ${command}\n  in ${path.resolve(cwd)} with DATABASE_URL=${url}${tail}`,
      );
    }
    return output;
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}
