import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { PostgresFailedError } from "../errors.ts";

/** What a folder holds, read once and handed to every layout's `detect`. */
export interface FolderListing {
  dir: string;
  /** Names of the regular files directly in `dir`. */
  files: string[];
  /** Names of the sub-folders of `dir`. */
  dirs: string[];
}

/** A migration file before its position in the order is known. */
interface MigrationFile {
  name: string;
  version: string;
  /** Path relative to the folder: what the cache hash names. */
  relative: string;
  /** Set for the plain layout: the `NNN` of `NNN_name.sql`. */
  number?: number;
  /** The text as faultline sends it, and where each section starts in it. */
  sql: string;
  sections: string[];
  offsets: number[];
}

/** One migration tool's folder layout: how to recognise it and how to read it in the tool's order. */
interface FolderLayout {
  readonly name: "plain" | "drizzle-kit" | "prisma" | "flyway" | "golang-migrate" | "dbmate";
  /** How a person recognises it, for the error that lists what was looked for. */
  readonly looksLike: string;
  detect(folder: FolderListing): Promise<boolean>;
  /** The migrations in the order the tool applies them; `extra` are files it read beside them. */
  load(folder: FolderListing): Promise<{ migrations: MigrationFile[]; extra: string[] }>;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function read(file: string): Promise<string> {
  return readFile(file, "utf8").catch((error: unknown) => {
    throw new PostgresFailedError(`cannot read migration ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  });
}

function whole(sql: string): Pick<MigrationFile, "sql" | "sections" | "offsets"> {
  return { sql, sections: [sql], offsets: [0] };
}

/** Numeric comparison of digit strings of any length (timestamps overflow nothing this way). */
function compareDigits(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function rejectDuplicates<T extends MigrationFile>(
  files: T[],
  dir: string,
  same: (a: T, b: T) => boolean,
): void {
  for (let i = 1; i < files.length; i++) {
    const [a, b] = [files[i - 1] as T, files[i] as T];
    if (same(a, b))
      throw new PostgresFailedError(
        `two migrations with version ${b.version} in ${dir}: ${a.name} and ${b.name}`,
      );
  }
}

const PLAIN_FILE = /^(\d+)[_-].*\.sql$/;
const GOLANG_UP = /^(\d+)_(.*)\.up\.sql$/;
const GOLANG_ANY = /^(\d+)_(.*)\.(up|down)\.sql$/;
const DBMATE_UP = /^--\s*migrate:up\b.*$/m;
const DBMATE_DOWN = /^--\s*migrate:down\b.*$/m;
const FLYWAY_VERSIONED = /^V(\d+(?:[._]\d+)*)__(.+)\.sql$/;
const FLYWAY_BASELINE = /^B(\d+(?:[._]\d+)*)__(.+)\.sql$/;
const FLYWAY_REPEATABLE = /^R__(.+)\.sql$/;
const PRISMA_FOLDER = /^(\d+)_(.+)$/;
// drizzle-orm's migrator splits on this exact marker; newer drizzle-kit writes it right after
// the statement's `;` on the same line.
const DRIZZLE_BREAKPOINT = "--> statement-breakpoint";

/** `1.1` → [1, 1]; Flyway treats `1.0` and `1` as the same version, so trailing zeros go. */
export function flywayVersion(text: string): number[] {
  const parts = text
    .replace(/^[VBU]/, "")
    .split(/[._]/)
    .map(Number);
  while (parts.length > 1 && parts.at(-1) === 0) parts.pop();
  return parts;
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const plain: FolderLayout = {
  name: "plain",
  looksLike: "plain (001_name.sql)",
  async detect(folder) {
    return folder.files.some((f) => PLAIN_FILE.test(f));
  },
  async load(folder) {
    const migrations: MigrationFile[] = [];
    for (const file of folder.files) {
      const match = PLAIN_FILE.exec(file);
      if (!match) continue;
      const sql = await read(path.join(folder.dir, file));
      migrations.push({
        name: file,
        version: match[1] as string,
        relative: file,
        number: Number(match[1]),
        ...whole(sql),
      });
    }
    migrations.sort((a, b) => (a.number ?? 0) - (b.number ?? 0));
    for (let i = 1; i < migrations.length; i++) {
      if (migrations[i]?.number === migrations[i - 1]?.number)
        throw new PostgresFailedError(
          `two migrations numbered ${migrations[i]?.number} in ${folder.dir}: ${migrations[i - 1]?.name} and ${migrations[i]?.name}`,
        );
    }
    return { migrations, extra: [] };
  },
};

interface DrizzleJournal {
  entries: { idx: number; tag: string }[];
}

const drizzleKit: FolderLayout = {
  name: "drizzle-kit",
  looksLike: "drizzle-kit (0000_name.sql + meta/_journal.json)",
  async detect(folder) {
    return folder.dirs.includes("meta") && exists(path.join(folder.dir, "meta", "_journal.json"));
  },
  async load(folder) {
    const journalFile = path.join(folder.dir, "meta", "_journal.json");
    let journal: DrizzleJournal;
    try {
      journal = JSON.parse(await read(journalFile)) as DrizzleJournal;
    } catch (error) {
      throw new PostgresFailedError(`${journalFile}: not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(journal?.entries))
      throw new PostgresFailedError(`${journalFile}: field "entries": expected an array`);
    const migrations: MigrationFile[] = [];
    // drizzle-orm applies the journal's entries in the order listed; files not listed never run.
    for (const [index, entry] of journal.entries.entries()) {
      if (typeof entry?.tag !== "string" || entry.tag === "")
        throw new PostgresFailedError(
          `${journalFile}: field "entries[${index}].tag": expected a file name`,
        );
      const name = `${entry.tag}.sql`;
      const sql = await read(path.join(folder.dir, name));
      const sections: string[] = [];
      const offsets: number[] = [];
      let start = 0;
      for (;;) {
        const end = sql.indexOf(DRIZZLE_BREAKPOINT, start);
        const section = sql.slice(start, end === -1 ? undefined : end);
        if (section.trim() !== "") {
          sections.push(section);
          offsets.push(start);
        }
        if (end === -1) break;
        start = end + DRIZZLE_BREAKPOINT.length;
      }
      migrations.push({
        name,
        version: /^(\d+)/.exec(entry.tag)?.[1] ?? entry.tag,
        relative: name,
        sql,
        sections,
        offsets,
      });
    }
    return { migrations, extra: ["meta/_journal.json"] };
  },
};

const prisma: FolderLayout = {
  name: "prisma",
  looksLike: "Prisma (20240101120000_name/migration.sql)",
  async detect(folder) {
    if (folder.files.includes("migration_lock.toml")) return true;
    for (const dir of folder.dirs)
      if (PRISMA_FOLDER.test(dir) && (await exists(path.join(folder.dir, dir, "migration.sql"))))
        return true;
    return false;
  },
  async load(folder) {
    const migrations: MigrationFile[] = [];
    // Prisma applies migration folders in the order of their names (the timestamp leads).
    for (const dir of [...folder.dirs].sort()) {
      const match = PRISMA_FOLDER.exec(dir);
      const file = path.join(folder.dir, dir, "migration.sql");
      if (!match || !(await exists(file))) continue;
      migrations.push({
        name: dir,
        version: match[1] as string,
        relative: `${dir}/migration.sql`,
        ...whole(await read(file)),
      });
    }
    return { migrations, extra: [] };
  },
};

const flyway: FolderLayout = {
  name: "flyway",
  looksLike: "Flyway (V1__name.sql, V1.1__name.sql, R__name.sql)",
  async detect(folder) {
    return folder.files.some((f) => FLYWAY_VERSIONED.test(f) || FLYWAY_REPEATABLE.test(f));
  },
  async load(folder) {
    const versioned: (MigrationFile & { parts: number[] })[] = [];
    const baselines: (MigrationFile & { parts: number[] })[] = [];
    const repeatable: MigrationFile[] = [];
    for (const file of folder.files) {
      const v = FLYWAY_VERSIONED.exec(file) ?? FLYWAY_BASELINE.exec(file);
      const r = FLYWAY_REPEATABLE.exec(file);
      if (!v && !r) continue; // U (undo) files and anything else: Flyway Teams' undo never runs on migrate
      const sql = await read(path.join(folder.dir, file));
      if (v) {
        const entry = {
          name: file,
          version: file.slice(0, file.indexOf("__")),
          relative: file,
          parts: flywayVersion(v[1] as string),
          ...whole(sql),
        };
        (file.startsWith("B") ? baselines : versioned).push(entry);
      } else {
        repeatable.push({ name: file, version: "R", relative: file, ...whole(sql) });
      }
    }
    const byVersion = (a: { parts: number[] }, b: { parts: number[] }) =>
      compareVersions(a.parts, b.parts);
    versioned.sort(byVersion);
    rejectDuplicates(versioned, folder.dir, (a, b) => byVersion(a, b) === 0);
    // On an empty database Flyway starts from the newest baseline and skips the versions it covers.
    baselines.sort(byVersion);
    const baseline = baselines.at(-1);
    const ordered: MigrationFile[] = baseline
      ? [baseline, ...versioned.filter((m) => compareVersions(m.parts, baseline.parts) > 0)]
      : versioned;
    // Repeatable migrations run after every versioned one, in the order of their descriptions.
    repeatable.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      migrations: [...ordered, ...repeatable].map(
        ({ parts: _, ...m }: MigrationFile & { parts?: number[] }) => m,
      ),
      extra: [],
    };
  },
};

const golangMigrate: FolderLayout = {
  name: "golang-migrate",
  looksLike: "golang-migrate (1_name.up.sql / 1_name.down.sql)",
  async detect(folder) {
    return folder.files.some((f) => GOLANG_ANY.test(f));
  },
  async load(folder) {
    const migrations: MigrationFile[] = [];
    for (const file of folder.files) {
      const match = GOLANG_UP.exec(file);
      if (!match) continue;
      migrations.push({
        name: file,
        version: match[1] as string,
        relative: file,
        ...whole(await read(path.join(folder.dir, file))),
      });
    }
    migrations.sort((a, b) => compareDigits(a.version, b.version));
    rejectDuplicates(migrations, folder.dir, (a, b) => compareDigits(a.version, b.version) === 0);
    return { migrations, extra: [] };
  },
};

const dbmate: FolderLayout = {
  name: "dbmate",
  looksLike: "dbmate (20240101120000_name.sql with -- migrate:up / -- migrate:down)",
  async detect(folder) {
    for (const file of folder.files)
      if (PLAIN_FILE.test(file) && DBMATE_UP.test(await read(path.join(folder.dir, file))))
        return true;
    return false;
  },
  async load(folder) {
    const migrations: MigrationFile[] = [];
    // dbmate orders migrations by file name.
    for (const file of [...folder.files].sort()) {
      const match = PLAIN_FILE.exec(file);
      if (!match) continue;
      const full = path.join(folder.dir, file);
      const sql = await read(full);
      const up = DBMATE_UP.exec(sql);
      if (!up)
        throw new PostgresFailedError(`${full}: expected a "-- migrate:up" line (dbmate layout)`);
      // The up block starts after its marker line and ends at the down marker, when one follows.
      const start = up.index + up[0].length;
      const downMatch = DBMATE_DOWN.exec(sql.slice(start));
      const end = downMatch ? start + downMatch.index : sql.length;
      migrations.push({
        name: file,
        version: match[1] as string,
        relative: file,
        sql,
        sections: [sql.slice(start, end)],
        offsets: [start],
      });
    }
    return { migrations, extra: [] };
  },
};

/** Every folder layout, in the order detection tries them: the most specific first. */
export const FOLDER_LAYOUTS: readonly FolderLayout[] = [
  drizzleKit,
  prisma,
  flyway,
  golangMigrate,
  dbmate,
  plain,
];
