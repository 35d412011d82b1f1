/**
 * A `pg_dump --schema-only` file is a psql script, not plain SQL: it can hold psql
 * meta-commands (`\connect`, and since pg_dump 17.6 / 16.10 / 15.14 `\restrict <key>` and
 * `\unrestrict <key>` around the whole script). The server must never see those. We blank such
 * lines instead of deleting them so a server error's position still maps to the file's own
 * line numbers.
 */

// A meta-command line: backslash, a command word, optional arguments. `\.` ends COPY data.
const META_COMMAND = /^[ \t]*\\([A-Za-z]+|\.)([ \t].*)?$/gm;
const COPY_FROM_STDIN = /^COPY\s+\S+.*\bFROM\s+stdin;/im;
const SET_LINE = /^SET\s+([A-Za-z_][A-Za-z0-9_.]*)\s*(=|TO)\s.*;[ \t]*$/gim;

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const IDENT_LIST = String.raw`${IDENT}(?:\s*,\s*${IDENT})*`;
const ROLE_PATTERNS = [
  new RegExp(String.raw`\bOWNER\s+TO\s+(${IDENT})`, "gi"),
  new RegExp(String.raw`\bAUTHORIZATION\s+(${IDENT})`, "gi"),
  new RegExp(String.raw`\bFOR\s+ROLE\s+(${IDENT_LIST})`, "gi"),
  new RegExp(String.raw`^\s*GRANT\s.*?\sTO\s+(${IDENT_LIST})`, "gim"),
  // `GRANT role TO other` (membership): the granted names are roles too.
  new RegExp(String.raw`^\s*GRANT\s+(${IDENT_LIST})\s+TO\s`, "gim"),
  new RegExp(String.raw`^\s*REVOKE\s.*?\sFROM\s+(${IDENT_LIST})`, "gim"),
  new RegExp(String.raw`^\s*CREATE\s+POLICY\s.*?\sTO\s+(${IDENT_LIST})`, "gim"),
];
const NOT_ROLES = new Set(["public", "current_user", "session_user", "current_role"]);

/** A dump ready to send: meta-command lines blanked, and the roles it names. */
interface PreparedDump {
  sql: string;
  /** Owners and grantees the dump names; they must exist before it is applied. */
  roles: string[];
  /** The meta-command lines that were blanked, for the console. */
  stripped: string[];
}

/** Blank psql meta-commands; refuse a dump with data (COPY … FROM stdin needs psql). */
export function prepareDump(text: string, file: string): PreparedDump {
  const copy = COPY_FROM_STDIN.exec(text);
  if (copy) {
    const line = text.slice(0, copy.index).split("\n").length;
    throw new Error(
      `${file}:${line}: a data section (COPY … FROM stdin) needs psql; give a dump made with pg_dump --schema-only`,
    );
  }
  const stripped: string[] = [];
  const sql = text.replace(META_COMMAND, (line) => {
    stripped.push(line.trim());
    return "";
  });
  return { sql, roles: namedRoles(sql), stripped };
}

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident.toLowerCase();
}

/** The roles a dump names as owners, grantees or policy targets, each once. */
export function namedRoles(sql: string): string[] {
  const roles = new Set<string>();
  for (const pattern of ROLE_PATTERNS) {
    for (const match of sql.matchAll(pattern)) {
      for (const ident of (match[1] as string).match(new RegExp(IDENT, "g")) ?? []) {
        const role = unquote(ident);
        if (!NOT_ROLES.has(role.toLowerCase())) roles.add(role);
      }
    }
  }
  return [...roles];
}

/**
 * Blank `SET name = …;` lines for settings this server does not have: a dump from a newer
 * pg_dump writes `SET transaction_timeout = 0;`, which an older server rejects, while psql
 * would only print the error and go on.
 */
export function dropUnknownSettings(sql: string, known: ReadonlySet<string>): string {
  return sql.replace(SET_LINE, (line, name: string) =>
    known.has(name.toLowerCase()) || name.includes(".") ? line : "",
  );
}
