/** What the proxy knows about one statement when rules are matched against it. */

/** Statement kinds rules can match on. */
export type StatementKind =
  | "SELECT"
  | "INSERT"
  | "UPDATE"
  | "DELETE"
  | "BEGIN"
  | "COMMIT"
  | "ROLLBACK"
  | "other";

export const STATEMENT_KINDS: readonly StatementKind[] = [
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "BEGIN",
  "COMMIT",
  "ROLLBACK",
  "other",
];

// Leading comments and whitespace are skipped before the first keyword.
const LEADING = /^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/;

/** The kind of a statement from its first keyword (START/END/ABORT as their synonyms). */
export function statementKind(sql: string): StatementKind {
  const rest = sql.replace(LEADING, "");
  const word = /^[A-Za-z]+/.exec(rest)?.[0]?.toUpperCase() ?? "";
  switch (word) {
    case "SELECT":
    case "INSERT":
    case "UPDATE":
    case "DELETE":
    case "BEGIN":
    case "COMMIT":
    case "ROLLBACK":
      return word;
    case "START":
      return "BEGIN";
    case "END":
      return "COMMIT";
    case "ABORT":
      return "ROLLBACK";
    case "VALUES":
    case "TABLE":
      return "SELECT";
    default:
      return "other";
  }
}

/** Distinct SQL texts whose kind is remembered (ad-hoc SQL with inlined literals). */
const KIND_CACHE_LIMIT = 4096;
const kinds = new Map<string, StatementKind>();

/**
 * `statementKind`, remembered per SQL text: the proxy asks for every statement when rules or
 * the trace are on, and a load test repeats a handful of statements.
 */
export function cachedStatementKind(sql: string): StatementKind {
  let kind = kinds.get(sql);
  if (kind === undefined) {
    kind = statementKind(sql);
    if (kinds.size >= KIND_CACHE_LIMIT) kinds.clear();
    kinds.set(sql, kind);
  }
  return kind;
}

/** Whitespace collapsed and literals replaced by `?`, so traces never hold customer data. */
export function normaliseSql(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$/g, "?")
    .replace(/(?<![$\w])\d+(?:\.\d+)?\b/g, "?")
    .replace(/\s+/g, " ")
    .trim();
}

/** The statement a rule is matched against. */
export interface StatementInfo {
  sql: string;
  kind: StatementKind;
  /** Whether the connection was inside a transaction block (status T or E) when it was sent. */
  inTransaction: boolean;
  applicationName: string;
  database: string;
  /** Milliseconds since the proxy started. */
  atMs: number;
}
