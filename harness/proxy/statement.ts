import { TextMemo } from "./memo.ts";

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

/** Where the first keyword starts: past leading whitespace, `--` comments and closed block comments. */
function firstKeywordAt(sql: string): number {
  let i = 0;
  for (;;) {
    while (i < sql.length && isSpace(sql.charCodeAt(i))) i++;
    if (sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i);
      if (end === -1) return sql.length;
      i = end + 1;
    } else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      if (end === -1) return i;
      i = end + 2;
    } else return i;
  }
}

/** The kind of a statement from its first keyword (START/END/ABORT as their synonyms). */
export function statementKind(sql: string): StatementKind {
  const start = firstKeywordAt(sql);
  let end = start;
  while (end < sql.length) {
    const c = sql.charCodeAt(end) | 32;
    if (c < 97 || c > 122) break;
    end++;
  }
  const word = sql.slice(start, end).toUpperCase();
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

const kinds = new TextMemo<StatementKind>();

/**
 * `statementKind`, remembered per SQL text: the proxy asks for every statement when rules or
 * the trace are on, and a load test repeats a handful of statements.
 */
export function cachedStatementKind(sql: string): StatementKind {
  return kinds.getOr(sql, statementKind);
}

const ESCAPE = /[.*+?^${}()|[\]\\]/g;

/**
 * A regex that matches the raw SQL the service sends for a normalised SQL text: whitespace
 * runs as any whitespace, each `?` (a literal the trace hid) as any literal.
 */
export function rawSqlPattern(normalised: string): string {
  const parts = normalised
    .trim()
    .split("?")
    .map((part) => part.replace(ESCAPE, "\\$&").replace(/\s+/g, "\\s+"));
  return `^\\s*${parts.join("(?:'(?:[^']|'')*'|[^\\s,()]+)")}\\s*;?\\s*$`;
}

/**
 * Whitespace collapsed and literals replaced by `?`, so traces never hold customer data.
 *
 * The definition is four regular-expression passes (statement.test.ts keeps them, and checks
 * this against them on random and real SQL): quoted strings, then dollar-quoted strings, then
 * numbers, then whitespace. Those passes cost the proxy a microsecond per statement, which is
 * most of the trace's cost when a service inlines its literals and no two texts repeat; these
 * scanners give the same text without the regular expressions, and skip a pass whose trigger
 * character is absent.
 */
export function normaliseSql(sql: string): string {
  let text = sql;
  if (text.includes("'")) text = replaceQuoted(text);
  if (text.includes("$")) text = replaceDollarQuoted(text);
  return replaceNumbersCollapseSpace(text);
}

const QUOTE = 39; // '
const DOLLAR = 36; // $
const DOT = 46; // .

/** `'(?:[^']|'')*'` → `?`, with the regular expression's backtracking on an unclosed string. */
function replaceQuoted(text: string): string {
  let out = "";
  let copied = 0;
  let at = text.indexOf("'");
  while (at !== -1) {
    let i = at + 1;
    let lastPair = -1;
    let end = -1;
    while (i < text.length) {
      if (text.charCodeAt(i) !== QUOTE) i++;
      else if (text.charCodeAt(i + 1) === QUOTE) {
        lastPair = i;
        i += 2;
      } else {
        end = i;
        break;
      }
    }
    // Unclosed: the longest match ends at the first quote of the last doubled pair, if any.
    if (end === -1) end = lastPair;
    if (end === -1) break;
    out += `${text.slice(copied, at)}?`;
    copied = end + 1;
    at = text.indexOf("'", copied);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function isTagChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** `\$([A-Za-z_]*)\$[\s\S]*?\$\1\$` → `?`. */
function replaceDollarQuoted(text: string): string {
  let out = "";
  let copied = 0;
  let at = text.indexOf("$");
  while (at !== -1) {
    let t = at + 1;
    while (t < text.length && isTagChar(text.charCodeAt(t))) t++;
    if (text.charCodeAt(t) === DOLLAR) {
      const delimiter = text.slice(at, t + 1);
      const close = text.indexOf(delimiter, t + 1);
      if (close !== -1) {
        out += `${text.slice(copied, at)}?`;
        copied = close + delimiter.length;
        at = text.indexOf("$", copied);
        continue;
      }
    }
    at = text.indexOf("$", at + 1);
  }
  return copied === 0 ? text : out + text.slice(copied);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `\w` without the `u` flag. */
function isWord(c: number): boolean {
  return isTagChar(c) || isDigit(c);
}

/** `\s` (and what `trim` removes): ASCII whitespace, and Unicode's spaces and line ends. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return (
    c === 160 ||
    c === 5760 ||
    (c >= 8192 && c <= 8202) ||
    c === 8232 ||
    c === 8233 ||
    c === 8239 ||
    c === 8287 ||
    c === 12288 ||
    c === 65279
  );
}

/**
 * `(?<![$\w])\d+(?:\.\d+)?\b` → `?`, then `\s+` → ` ` and trimmed, in one scan: a number is
 * never whitespace, so the two passes do not interact.
 */
function replaceNumbersCollapseSpace(text: string): string {
  let out = "";
  let copied = 0;
  let changed = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      const before = i === 0 ? -1 : text.charCodeAt(i - 1);
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      if (before === DOLLAR || (before !== -1 && isWord(before))) {
        i = j;
        continue;
      }
      let end = -1;
      if (text.charCodeAt(j) === DOT && isDigit(text.charCodeAt(j + 1))) {
        let k = j + 2;
        while (k < n && isDigit(text.charCodeAt(k))) k++;
        // A fraction not ending a word leaves the integer part alone, ending at the dot.
        end = k === n || !isWord(text.charCodeAt(k)) ? k : j;
      } else if (j === n || !isWord(text.charCodeAt(j))) end = j;
      if (end === -1) {
        i = j;
        continue;
      }
      out += `${text.slice(copied, i)}?`;
      copied = end;
      changed = true;
      i = end;
      continue;
    }
    if (isSpace(c)) {
      let j = i + 1;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      // Leading and trailing runs go; inner ones become one space (a lone space stays as it is).
      const edge = i === 0 || j === n;
      if (edge || j - i > 1 || c !== 32) {
        out += text.slice(copied, i) + (edge ? "" : " ");
        copied = j;
        changed = true;
      }
      i = j;
      continue;
    }
    i++;
  }
  return changed ? out + text.slice(copied) : text;
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
