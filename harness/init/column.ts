import { dirOf, type Evidence, evidenceAt, type Guess, normalise, type Repo } from "./repo.ts";

/** A column of the schema as the migrations create it. */
interface SchemaColumn {
  table: string;
  column: string;
  at: Evidence;
}

// Columns a payment webhook typically writes: what the incident's handler read and lost.
const PAYMENT_LIKE = /credit|balance|subscription|stripe|plan|paid|payment|amount|status/i;
const BOOKKEEPING = /^(?:id|created_at|updated_at|createdat|updatedat|deleted_at)$/i;

/** Tables and their columns from CREATE TABLE and ALTER TABLE … ADD COLUMN in SQL files. */
export function schemaColumns(repo: Repo, sqlFiles: string[]): SchemaColumn[] {
  const columns: SchemaColumn[] = [];
  for (const file of sqlFiles) {
    const text = repo.read(file);
    if (text === undefined) continue;
    for (const m of text.matchAll(
      /CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(?:"?(\w+)"?\.)?"?(\w+)"?\s*\(([\s\S]*?)\n\s*\)\s*;/gi,
    )) {
      const table = qualify(m[1], m[2] ?? "");
      const bodyStart = m.index + m[0].indexOf("(") + 1;
      let offset = 0;
      for (const line of (m[3] ?? "").split("\n")) {
        const col = /^\s*"?(\w+)"?\s+\w/.exec(line);
        if (col && !/^(?:CONSTRAINT|PRIMARY|FOREIGN|UNIQUE|CHECK|EXCLUDE)$/i.test(col[1] ?? ""))
          columns.push({
            table,
            column: col[1] ?? "",
            at: evidenceAt(file, text, bodyStart + offset + 1),
          });
        offset += line.length + 1;
      }
    }
    for (const m of text.matchAll(
      /ALTER TABLE\s+(?:ONLY\s+)?(?:"?(\w+)"?\.)?"?(\w+)"?\s+ADD(?: COLUMN)?\s+(?:IF NOT EXISTS\s+)?"?(\w+)"?/gi,
    )) {
      columns.push({
        table: qualify(m[1], m[2] ?? ""),
        column: m[3] ?? "",
        at: evidenceAt(file, text, m.index),
      });
    }
  }
  return columns;
}

/** `schema.table` as drift names it; `public` is the schema users leave out. */
function qualify(schema: string | undefined, table: string): string {
  return schema && schema.toLowerCase() !== "public" ? `${schema}.${table}` : table;
}

const bare = (table: string) => table.slice(table.lastIndexOf(".") + 1).toLowerCase();

const RESOLVE_EXTENSIONS = ["", ".ts", ".tsx", ".js", ".mjs", ".jsx", "/index.ts", "/index.js"];

/** The repository files one source file imports (relative, `@/…`, `~/…`, Python modules). */
function imports(repo: Repo, file: string): string[] {
  const text = repo.read(file) ?? "";
  const found: string[] = [];
  const tryPath = (base: string, exts: string[]) => {
    for (const ext of exts) {
      const candidate = normalise(`${base}${ext}`);
      if (repo.has(candidate)) {
        found.push(candidate);
        return;
      }
    }
  };
  if (file.endsWith(".py")) {
    for (const m of text.matchAll(/^\s*from\s+(\.*)([\w.]*)\s+import\b/gm)) {
      const dots = m[1]?.length ?? 0;
      const mod = (m[2] ?? "").replaceAll(".", "/");
      let base = dots === 0 ? mod : dirOf(file);
      for (let i = 1; i < dots; i++) base = dirOf(base);
      if (dots > 0 && mod) base = `${base}/${mod}`;
      tryPath(base, [".py", "/__init__.py"]);
    }
    return found;
  }
  for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)["'`]([^"'`]+)["'`]/g)) {
    const spec = m[1] ?? "";
    if (spec.startsWith(".")) tryPath(`${dirOf(file)}/${spec}`, RESOLVE_EXTENSIONS);
    else if (/^[@~]\//.test(spec)) {
      tryPath(spec.slice(2), RESOLVE_EXTENSIONS);
      tryPath(`src/${spec.slice(2)}`, RESOLVE_EXTENSIONS);
    }
  }
  return found;
}

/** The handler file and what it imports, two levels deep: the code a webhook runs. */
function webhookPath(repo: Repo, handler: string): string[] {
  const seen = [handler];
  let frontier = [handler];
  for (let depth = 0; depth < 2; depth++) {
    const next: string[] = [];
    for (const file of frontier)
      for (const dep of imports(repo, file))
        if (!seen.includes(dep)) {
          seen.push(dep);
          next.push(dep);
        }
    frontier = next;
  }
  return seen;
}

/** Drizzle: `export const teams = pgTable("teams", { planName: varchar("plan_name") … })`. */
function drizzleTables(repo: Repo): Map<string, { table: string; keys: Map<string, string> }> {
  const tables = new Map<string, { table: string; keys: Map<string, string> }>();
  for (const file of repo.files) {
    if (!/\.[cm]?[jt]s$/.test(file)) continue;
    const text = repo.read(file);
    if (!text?.includes("pgTable")) continue;
    for (const m of text.matchAll(
      /(\w+)\s*=\s*pgTable\(\s*["'`](\w+)["'`]\s*,\s*\{([\s\S]*?)\n\s*\}/g,
    )) {
      const keys = new Map<string, string>();
      for (const k of (m[3] ?? "").matchAll(/(\w+)\s*:\s*\w+\(\s*["'`](\w+)["'`]/g))
        keys.set(k[1] ?? "", k[2] ?? "");
      tables.set(m[1] ?? "", { table: m[2] ?? "", keys });
    }
  }
  return tables;
}

interface Written {
  table: string;
  columns: string[];
  at: Evidence;
}

/** What the webhook path writes, table and (when visible) columns, from SQL text and ORMs. */
function writes(repo: Repo, files: string[], only?: { file: string; text: string }): Written[] {
  const found: Written[] = [];
  let drizzle: ReturnType<typeof drizzleTables> | undefined;
  for (const file of only ? [only.file] : files) {
    const text = only ? only.text : repo.read(file);
    if (text === undefined) continue;
    for (const m of text.matchAll(/UPDATE\s+(?:"?(\w+)"?\.)?"?(\w+)"?\s+SET\s+"?(\w+)"?/gi))
      found.push({
        table: qualify(m[1], m[2] ?? ""),
        columns: [m[3] ?? ""],
        at: evidenceAt(file, text, m.index),
      });
    // INSERT INTO t (a, b, …) — an upsert writes every column it lists.
    for (const m of text.matchAll(/INSERT\s+INTO\s+(?:"?(\w+)"?\.)?"?(\w+)"?\s*\(([^)]*)\)/gi))
      found.push({
        table: qualify(m[1], m[2] ?? ""),
        columns: (m[3] ?? "")
          .split(",")
          .map((c) => c.trim().replace(/"/g, ""))
          .filter((c) => /^\w+$/.test(c)),
        at: evidenceAt(file, text, m.index),
      });
    for (const m of text.matchAll(/\.update\(\s*(\w+)\s*\)\s*\.set\(\s*\{([^}]*)\}/g)) {
      drizzle ??= drizzleTables(repo);
      const table = drizzle.get(m[1] ?? "");
      if (!table) continue;
      const columns = [...(m[2] ?? "").matchAll(/(?:^|[,{\s])(\w+)\s*:/g)]
        .map((k) => table.keys.get(k[1] ?? ""))
        .filter((c): c is string => c !== undefined);
      found.push({ table: table.table, columns, at: evidenceAt(file, text, m.index) });
    }
    for (const m of text.matchAll(
      /\b(?:prisma|db|client|tx)\.(\w+)\.(?:update|updateMany|upsert)\(\s*\{[\s\S]{0,400}?\b(?:data|update)\s*:\s*\{\s*(\w+)/g,
    ))
      found.push({
        table: m[1] ?? "",
        columns: [m[2] ?? ""],
        at: evidenceAt(file, text, m.index),
      });
  }
  return found;
}

/**
 * The `case "<event>":` branch where the event was found (to the next `case` or `default`):
 * its file with everything else blanked, for {@link writes}: what that event's path writes.
 */
function eventBranch(repo: Repo, event: Guess<string>): { file: string; text: string } | undefined {
  const at = event.evidence[0];
  if (!at) return undefined;
  const text = repo.read(at.file);
  if (text === undefined) return undefined;
  const lines = text.split("\n");
  const start = lines.slice(0, at.line - 1).join("\n").length;
  const rest = text.slice(start);
  const label = rest.indexOf(event.value);
  if (label === -1) return undefined;
  const after = rest.slice(label + event.value.length);
  // Further labels of the same branch (`case "a": case "b":`) belong to it; the next one ends it.
  const labels = /^["'`]?\s*:?\s*(?:case\s+["'`][^"'`]+["'`]\s*:\s*)*/.exec(after)?.[0].length ?? 0;
  const end = after
    .slice(labels)
    .search(/\n\s*(?:case\s+["'`]|default\s*:|\}\s*else\b|elif\b|when\s)/);
  const bodyEnd = start + label + event.value.length + (end === -1 ? after.length : labels + end);
  // Everything outside the branch blanked, lines kept: evidence keeps the file's line numbers.
  const masked =
    text.slice(0, start + label).replace(/[^\n]/g, " ") + text.slice(start + label, bodyEnd);
  return { file: at.file, text: masked };
}

/** The schema's spelling of a table or column the code names (Prisma models are "User"). */
function inSchema(
  schema: SchemaColumn[],
  table: string,
  column?: string,
): SchemaColumn | undefined {
  // Code may name `customers` where the schema has `stripe.customers`, or the reverse.
  const same = (a: string, b: string) =>
    a.toLowerCase() === b.toLowerCase() ||
    ((!a.includes(".") || !b.includes(".")) && bare(a) === bare(b));
  return schema.find(
    (c) =>
      same(c.table, table) &&
      (column === undefined || c.column.toLowerCase() === column.toLowerCase()),
  );
}

/**
 * A column to drop for the incident pattern: one the webhook path writes (SQL UPDATE, Drizzle
 * `.update(t).set({…})`, Prisma `.update({ data })`), else a payment-like column of a table it
 * writes, else a payment-like column anywhere in the migrations. `value` is "table.column".
 */
export function guessColumn(
  repo: Repo,
  handler: string | undefined,
  sqlFiles: string[],
  event?: Guess<string>,
): Guess<string> | undefined {
  const schema = schemaColumns(repo, sqlFiles);
  // What the chosen event's branch writes comes first: a column another event writes would be
  // a drift the scenario's webhooks never touch.
  const branch = event ? eventBranch(repo, event) : undefined;
  const written = [
    ...(branch ? writes(repo, [], branch).map((w) => ({ ...w, branch: true })) : []),
    ...(handler ? writes(repo, webhookPath(repo, handler)) : []),
  ];
  const score = (w: Written & { branch?: boolean }) =>
    (w.branch ? 2 : 0) + Number(w.columns.some((c) => PAYMENT_LIKE.test(c)));
  const ranked = [...written].sort((a, b) => score(b) - score(a));
  for (const w of ranked) {
    const column =
      w.columns.find((c) => PAYMENT_LIKE.test(c)) ?? w.columns.find((c) => !BOOKKEEPING.test(c));
    if (!column) continue;
    const known = inSchema(schema, w.table, column);
    if (schema.length && !known) continue;
    return {
      value: `${known?.table ?? w.table}.${known?.column ?? column}`,
      evidence: known ? [w.at, known.at] : [w.at],
    };
  }
  for (const w of written) {
    const col = schema.find(
      (c) =>
        c.table.toLowerCase() === w.table.toLowerCase() &&
        PAYMENT_LIKE.test(c.column) &&
        !BOOKKEEPING.test(c.column),
    );
    if (col) return { value: `${col.table}.${col.column}`, evidence: [w.at, col.at] };
  }
  const anywhere = schema.find((c) => PAYMENT_LIKE.test(c.column) && !BOOKKEEPING.test(c.column));
  return anywhere
    ? { value: `${anywhere.table}.${anywhere.column}`, evidence: [anywhere.at] }
    : undefined;
}
