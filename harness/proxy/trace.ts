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

/** Distinct SQL texts whose normalised, JSON-quoted form is kept (ad-hoc SQL with literals). */
const SQL_CACHE_LIMIT = 4096;

/**
 * A statement as the proxy hands it to the trace: `sql` raw, `at` in epoch milliseconds, and
 * the connection's database and application name already JSON-encoded (they never change on a
 * connection, so they are encoded once, not once per statement).
 */
export interface StatementRecord {
  conn: number;
  at: number;
  sql: string;
  kind: string;
  rule?: string;
  /** `,"database":…,"applicationName":…` for the connection. */
  connectionJson: string;
}

/** The `,"database":…,"applicationName":…` part of a connection's trace lines. */
export function connectionJson(database: string, applicationName: string): string {
  return `,"database":${JSON.stringify(database)},"applicationName":${JSON.stringify(applicationName)}`;
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
  /** Formatted lines not yet written. */
  private lines: string[] = [];
  /** Raw SQL → its normalised text as a JSON string: a load test repeats a few statements. */
  private readonly sqlJson = new Map<string, string>();
  private lastAt = Number.NaN;
  private lastAtIso = "";
  /**
   * Milliseconds spent writing out batches from the flush timer, outside socket handlers (the
   * proxy times those itself): with them, the proxy's busyMs.
   */
  busyMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
    this.stream = createWriteStream(path, { flags: "a" });
    this.stream.on("error", () => {});
  }

  /**
   * Queue an entry. `sql` may still be raw and `at` a number of milliseconds: normalising and
   * serialising happen at the batched write, off the path of the statement being proxied.
   */
  write(entry: Omit<TraceEntry, "at"> & { at: string | number }): void {
    const at = typeof entry.at === "number" ? this.iso(entry.at) : entry.at;
    this.push(`${JSON.stringify({ ...entry, at, sql: normaliseSql(entry.sql) })}\n`);
  }

  /**
   * Queue one statement the proxy saw. The line is the one `write` would give for the same
   * entry (same keys in the same order), built from cached pieces: the normalised SQL per SQL
   * text, the timestamp per millisecond, the connection's fields per connection. Formatting a
   * whole object per statement was most of what the trace cost the proxy.
   */
  writeStatement(
    record: StatementRecord,
    result: TraceEntry["result"],
    durationMs: number,
    tx: TraceEntry["tx"],
  ): void {
    let sql = this.sqlJson.get(record.sql);
    if (sql === undefined) {
      sql = JSON.stringify(normaliseSql(record.sql));
      if (this.sqlJson.size >= SQL_CACHE_LIMIT) this.sqlJson.clear();
      this.sqlJson.set(record.sql, sql);
    }
    const rule = record.rule === undefined ? "" : `,"rule":${JSON.stringify(record.rule)}`;
    this.push(
      `{"conn":${record.conn},"at":"${this.iso(record.at)}","sql":${sql},"kind":${JSON.stringify(record.kind)}${rule}${record.connectionJson},"result":${resultJson(result)},"durationMs":${durationMs},"tx":"${tx}"}\n`,
    );
  }

  private iso(at: number): string {
    if (at !== this.lastAt) {
      this.lastAt = at;
      this.lastAtIso = new Date(at).toISOString();
    }
    return this.lastAtIso;
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length >= FLUSH_ENTRIES) this.writeOut();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        // Written from a timer, outside any socket handler: counted here for busyMs.
        const started = performance.now();
        this.writeOut();
        this.busyMs += performance.now() - started;
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  private writeOut(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0 || this.stream.destroyed) return;
    this.stream.write(this.lines.join(""));
    this.lines = [];
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

/** A statement's result as JSON, with the keys in the order the proxy creates them. */
function resultJson(result: TraceEntry["result"]): string {
  if ("tag" in result)
    return `{"tag":${JSON.stringify(result.tag)},"rows":${result.rows === null ? "null" : result.rows}}`;
  if ("sqlstate" in result)
    return `{"sqlstate":${JSON.stringify(result.sqlstate)},"message":${JSON.stringify(result.message)}}`;
  return JSON.stringify(result);
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
