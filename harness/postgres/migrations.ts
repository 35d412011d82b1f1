import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PostgresFailedError } from "../errors.ts";

/** One numbered schema migration file. */
export interface Migration {
  number: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d+)[_-].*\.sql$/;

/** Read `NNN_name.sql` files from a folder, in number order. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = await readdir(dir).catch((error: unknown) => {
    throw new PostgresFailedError(`cannot read migrations folder ${dir}`, { cause: error });
  });
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) continue;
    migrations.push({
      number: Number(match[1]),
      name: file,
      sql: await readFile(path.join(dir, file), "utf8"),
    });
  }
  migrations.sort((a, b) => a.number - b.number);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.number === migrations[i - 1]?.number) {
      throw new PostgresFailedError(`two migrations numbered ${migrations[i]?.number} in ${dir}`);
    }
  }
  if (migrations.length === 0)
    throw new PostgresFailedError(`no NNN_name.sql migrations in ${dir}`);
  return migrations;
}
