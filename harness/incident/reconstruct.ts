import type { EventMention, LogError } from "./log.ts";
import { SQLSTATE_WORDS } from "./sqlstate.ts";

/** The schema the migrations build: table (public bare, else schema-qualified) → its columns. */
export type Shape = Map<string, Map<string, string>>;

/** What the first error says is missing, resolved against the migrations' schema. */
export type Missing =
  | { kind: "column"; table?: string; column: string; known: boolean; how: string }
  | { kind: "table"; table: string; known: boolean; how: string };

/** One incident: a root cause (the first error of a kind), everything it aborted, where. */
export interface Incident {
  /** `42703 users.credits_balance`: what makes two errors the same root cause. */
  key: string;
  sqlstate: string;
  /** Every occurrence of the root error, first first. */
  roots: LogError[];
  /** The 25P02s that followed a root error in its session: statements the aborted transaction ignored. */
  aborted: LogError[];
  /** Root errors followed by at least one 25P02 in their session: the cascades. */
  cascades: number;
  sessions: string[];
  missing?: Missing;
  /** The statement the root error was raised at, when the log has it. */
  statement?: string;
  first?: Date;
  last?: Date;
}

export interface Reconstruction {
  incidents: Incident[];
  /** 25P02s with no root error before them in their session: the log began after it. */
  orphanAborted: LogError[];
  /** Database errors this tool does not turn into a scenario, one line per kind. */
  notReproduced: string[];
}

// What a scenario can reproduce: drift (42703, 42P01) or a proxy fault at the statement.
const REPRODUCIBLE = new Set([
  "42703",
  "42P01",
  "23505",
  "40001",
  "40P01",
  "57014",
  "57P01",
  "08006",
  "53300",
]);

const bare = (table: string) => table.slice(table.lastIndexOf(".") + 1).replace(/"/g, "");

/** The tables a statement names, with the aliases it gives them. */
export function tablesOf(statement: string): { table: string; alias?: string }[] {
  const out: { table: string; alias?: string }[] = [];
  const pattern =
    /\b(?:FROM|JOIN|UPDATE|INTO)\s+((?:"?[\w$]+"?\.)?"?[\w$]+"?)(?:\s+(?:AS\s+)?("?[\w$]+"?))?/gi;
  const keywords = new Set([
    "where",
    "set",
    "values",
    "on",
    "using",
    "join",
    "left",
    "right",
    "inner",
    "outer",
    "full",
    "cross",
    "natural",
    "group",
    "order",
    "limit",
    "returning",
    "select",
    "default",
    "for",
    "as",
  ]);
  for (const m of statement.matchAll(pattern)) {
    const table = (m[1] as string).replace(/"/g, "");
    const alias = m[2]?.replace(/"/g, "");
    out.push(alias && !keywords.has(alias.toLowerCase()) ? { table, alias } : { table });
  }
  return out;
}

/** The migrations' table a name means: exact, else by its bare name (public first). */
function tableIn(shape: Shape, name: string): string | undefined {
  const clean = name.replace(/"/g, "");
  if (shape.has(clean)) return clean;
  if (clean.startsWith("public.") && shape.has(clean.slice(7))) return clean.slice(7);
  const matches = [...shape.keys()].filter((t) => bare(t) === bare(clean));
  return matches.find((t) => !t.includes(".")) ?? matches[0];
}

/** Which column or table a 42703 / 42P01 message names, resolved through the statement and the schema. */
export function resolveMissing(error: LogError, shape: Shape): Missing | undefined {
  const statementTables = error.statement ? tablesOf(error.statement) : [];
  const ofRelation = /column "([^"]+)" of relation "([^"]+)" does not exist/.exec(error.message);
  if (ofRelation) {
    const table = tableIn(shape, ofRelation[2] as string);
    const column = ofRelation[1] as string;
    return {
      kind: "column",
      table: table ?? (ofRelation[2] as string),
      column,
      known: Boolean(table && shape.get(table)?.has(column)),
      how: "read from the message",
    };
  }
  const column = /column "?([^"\s]+?)"? does not exist/.exec(error.message)?.[1];
  if (column !== undefined) {
    const dot = column.lastIndexOf(".");
    if (dot > 0) {
      // `users.credits_balance` or `u.credits_balance`: a table, or an alias the statement gives one.
      const qualifier = column.slice(0, dot);
      const name = column.slice(dot + 1);
      const direct = tableIn(shape, qualifier);
      const aliased = statementTables.find((t) => t.alias === qualifier)?.table;
      const table = direct ?? (aliased ? tableIn(shape, aliased) : undefined);
      if (table)
        return {
          kind: "column",
          table,
          column: name,
          known: Boolean(shape.get(table)?.has(name)),
          how: direct
            ? "read from the message"
            : `alias ${qualifier} resolved through the STATEMENT`,
        };
      return {
        kind: "column",
        column: name,
        known: false,
        how: `${qualifier} is no table the migrations create`,
      };
    }
    // Unqualified: the statement's tables that have it, else every table of the schema that has it.
    const fromStatement = statementTables
      .map((t) => tableIn(shape, t.table))
      .filter((t): t is string => t !== undefined && Boolean(shape.get(t)?.has(column)));
    const anywhere = [...shape.keys()].filter((t) => shape.get(t)?.has(column));
    const table = fromStatement[0] ?? anywhere[0];
    if (table)
      return {
        kind: "column",
        table,
        column,
        known: true,
        how: fromStatement.length
          ? "its table read from the STATEMENT"
          : anywhere.length > 1
            ? `inferred: the log names no table and ${anywhere.join(", ")} all have ${column}; took ${table}`
            : "inferred: the only table of the migrations with that column",
      };
    return {
      kind: "column",
      column,
      known: false,
      how: "no table of the migrations has that column",
    };
  }
  const relation = /relation "([^"]+)" does not exist/.exec(error.message)?.[1];
  if (relation !== undefined) {
    const table = tableIn(shape, relation);
    return {
      kind: "table",
      table: table ?? relation,
      known: table !== undefined,
      how: table ? "read from the message" : "no table of the migrations has that name",
    };
  }
  return undefined;
}

/** Numbers and quoted literals out, so one error's occurrences share a key. */
const normalise = (message: string) =>
  message
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/\b\d+\b/g, "N")
    .trim();

function keyOf(error: LogError, missing: Missing | undefined): string {
  const sqlstate = error.sqlstate as string;
  if (missing?.kind === "column")
    return `${sqlstate} ${missing.table ? `${missing.table}.` : ""}${missing.column}`;
  if (missing?.kind === "table") return `${sqlstate} ${missing.table}`;
  return `${sqlstate} ${normalise(error.message)}`;
}

const time = (e: LogError) => e.at?.getTime();

/**
 * Per session, in order: a reproducible error starts (or repeats) a root cause; each 25P02 after
 * it in the same session is a statement its aborted transaction ignored. Across sessions, the
 * same root cause is one incident.
 */
export function reconstruct(errors: LogError[], shape: Shape): Reconstruction {
  // Server logs interleave sessions; order by time where every error has one, else as read.
  const ordered = errors.every((e) => e.at)
    ? [...errors].sort((a, b) => (time(a) as number) - (time(b) as number))
    : errors;
  const incidents = new Map<string, Incident>();
  const current = new Map<string, Incident>();
  // Sessions whose latest root error no 25P02 has followed yet.
  const uncascaded = new Set<string>();
  const orphanAborted: LogError[] = [];
  const others = new Map<string, number>();
  for (const error of ordered) {
    if (!error.sqlstate) continue;
    if (error.sqlstate === "25P02") {
      const root = current.get(error.session);
      if (!root) {
        orphanAborted.push(error);
        continue;
      }
      // The first 25P02 after a root occurrence makes that occurrence a cascade.
      if (uncascaded.delete(error.session)) root.cascades++;
      root.aborted.push(error);
      if (error.at) root.last = error.at;
      continue;
    }
    if (!REPRODUCIBLE.has(error.sqlstate)) {
      const line = `${error.sqlstate} ${normalise(error.message)}`;
      others.set(line, (others.get(line) ?? 0) + 1);
      current.delete(error.session);
      uncascaded.delete(error.session);
      continue;
    }
    const missing =
      error.sqlstate === "42703" || error.sqlstate === "42P01"
        ? resolveMissing(error, shape)
        : undefined;
    const key = keyOf(error, missing);
    let incident = incidents.get(key);
    if (!incident) {
      incident = {
        key,
        sqlstate: error.sqlstate,
        roots: [],
        aborted: [],
        cascades: 0,
        sessions: [],
        ...(missing ? { missing } : {}),
        ...(error.statement ? { statement: error.statement } : {}),
        ...(error.at ? { first: error.at } : {}),
      };
      incidents.set(key, incident);
    }
    incident.roots.push(error);
    uncascaded.add(error.session);
    if (!incident.statement && error.statement) incident.statement = error.statement;
    if (!incident.sessions.includes(error.session)) incident.sessions.push(error.session);
    if (error.at) incident.last = error.at;
    current.set(error.session, incident);
  }
  return {
    incidents: [...incidents.values()],
    orphanAborted,
    notReproduced: [...others].map(([line, n]) => `${line} (${n}×)`),
  };
}

/** The incident in the seed's words: what failed, what it aborted, how much was affected. */
export function summarise(incident: Incident, mentions: EventMention[]): string[] {
  const root = incident.roots[0] as LogError;
  const what = SQLSTATE_WORDS[incident.sqlstate] ?? incident.sqlstate;
  const events = new Set(mentions.map((m) => m.eventId ?? `${m.file}:${m.line}`));
  const lines = [
    `${root.message} (${incident.sqlstate}, ${what}) — ${incident.roots.length} time(s) in ${incident.sessions.length} session(s)${incident.first ? `, ${incident.first.toISOString()}${incident.last && incident.last.getTime() !== incident.first.getTime() ? ` to ${incident.last.toISOString()}` : ""}` : ""}`,
  ];
  if (incident.aborted.length)
    lines.push(
      `then "current transaction is aborted, commands ignored until end of transaction block" (25P02) × ${incident.aborted.length}: ${incident.cascades} cascade(s) — the error was swallowed and the transaction went on`,
    );
  else lines.push("no 25P02 after it: the transaction was ended, not carried on");
  const missing = incident.missing;
  if (missing?.kind === "column" && missing.known)
    lines.push(`so production lacks ${missing.table}.${missing.column} (${missing.how})`);
  if (missing?.kind === "table" && missing.known)
    lines.push(`so production lacks the table ${missing.table} (${missing.how})`);
  if (events.size) lines.push(`${events.size} webhook event(s) named in the logs around it`);
  return lines;
}
