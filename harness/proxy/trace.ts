import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { normaliseSql } from "./statement.ts";

/** One statement on one connection, as the trace records it (one NDJSON line). */
export interface TraceEntry {
  /** The proxy's id for the client connection. */
  conn: number;
  /** When the statement reached the proxy (ISO 8601). */
  at: string;
  /** Normalised SQL: whitespace collapsed, literals as `?`, bound parameters never included. */
  sql: string;
  kind: string;
  /** From the statement reaching the proxy to its result, in milliseconds. */
  durationMs: number;
  /** Command tag (e.g. `INSERT 0 1`) and rows, or SQLSTATE and message. */
  result:
    | { tag: string; rows: number | null }
    | { sqlstate: string; message: string }
    | { lost: true };
  /** Transaction status after it, from ReadyForQuery: I idle, T in a block, E failed block. */
  tx: "I" | "T" | "E" | "?";
  /** The rule that fired on it, if any. */
  rule?: string;
  database: string;
  applicationName: string;
}

/** Whether a trace entry ended in an error. */
export function isError(
  entry: TraceEntry,
): entry is TraceEntry & { result: { sqlstate: string; message: string } } {
  return "sqlstate" in entry.result;
}

/** Normalised SQL by raw text: a service sends the same few statements again and again. */
const normalised = new Map<string, string>();
const NORMALISED_LIMIT = 2000;

function normalisedSql(sql: string): string {
  let text = normalised.get(sql);
  if (text === undefined) {
    text = normaliseSql(sql);
    if (normalised.size >= NORMALISED_LIMIT) normalised.clear();
    normalised.set(sql, text);
  }
  return text;
}

/** Strings that need no JSON escaping are written as they are (tags, kinds, most names). */
const PLAIN = /^[\w .:,()*=<>!?+-]*$/;
function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/**
 * One NDJSON line, written field by field: the text `JSON.stringify` gave for the entry the
 * session builds (same keys, same order), at a fraction of its cost for this fixed shape.
 */
export function traceLine(entry: Omit<TraceEntry, "at"> & { at: string | number }): string {
  const at = typeof entry.at === "number" ? new Date(entry.at).toISOString() : entry.at;
  const r = entry.result;
  const result =
    "tag" in r
      ? `{"tag":${jsonString(r.tag)},"rows":${r.rows}}`
      : "sqlstate" in r
        ? `{"sqlstate":${jsonString(r.sqlstate)},"message":${JSON.stringify(r.message)}}`
        : `{"lost":true}`;
  const rule = entry.rule === undefined ? "" : `,"rule":${JSON.stringify(entry.rule)}`;
  return `{"conn":${entry.conn},"at":"${at}","sql":${JSON.stringify(normalisedSql(entry.sql))},"kind":${jsonString(entry.kind)}${rule},"database":${jsonString(entry.database)},"applicationName":${jsonString(entry.applicationName)},"result":${result},"durationMs":${entry.durationMs},"tx":"${entry.tx}"}\n`;
}

/** Trace lines are written in batches of this many entries… */
const FLUSH_ENTRIES = 2000;
/** …or after this many milliseconds, whichever comes first. */
const FLUSH_MS = 50;

/**
 * Streams trace entries to an NDJSON file as they complete, so memory stays flat however long
 * the run. Lines are gathered and written in batches: a file write per statement would cost
 * the proxy a thread-pool round trip per statement.
 */
export class TraceWriter {
  readonly path: string;
  private readonly stream: WriteStream;
  private entries: (Omit<TraceEntry, "at"> & { at: string | number })[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  /** `busy` adds up the time spent formatting and writing lines (the proxy's busyMs). */
  constructor(
    path: string,
    private readonly busy: { ms: number } = { ms: 0 },
  ) {
    this.path = path;
    this.stream = createWriteStream(path, { flags: "a" });
    this.stream.on("error", () => {});
  }

  /**
   * Queue an entry. `sql` may still be raw and `at` a number of milliseconds: normalising and
   * serialising happen at the batched write, off the path of the statement being proxied.
   */
  write(entry: Omit<TraceEntry, "at"> & { at: string | number }): void {
    this.entries.push(entry);
    if (this.entries.length >= FLUSH_ENTRIES) this.writeOut();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.writeOut(), FLUSH_MS);
      this.timer.unref();
    }
  }

  private writeOut(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.entries.length === 0 || this.stream.destroyed) return;
    const started = performance.now();
    let text = "";
    for (const entry of this.entries) text += traceLine(entry);
    this.stream.write(text);
    this.entries = [];
    this.busy.ms += performance.now() - started;
  }

  /** Resolve once everything written so far is in the file. */
  flush(): Promise<void> {
    this.writeOut();
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) return resolve();
      this.stream.write("", () => resolve());
    });
  }

  /** Flush and close the file (once, however often it is called). */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.writeOut();
      if (this.stream.closed || this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
    });
    return this.closing;
  }
}

/** Read a trace file line by line (without holding the file in memory at once). */
export async function* readTrace(path: string): AsyncGenerator<TraceEntry> {
  const stream = createReadStream(path, { encoding: "utf8" });
  try {
    for await (const line of createInterface({
      input: stream,
      crlfDelay: Number.POSITIVE_INFINITY,
    })) {
      if (line.trim()) yield JSON.parse(line) as TraceEntry;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
}
