import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";
import { TextMemo } from "./memo.ts";
import { normaliseSql, type StatementKind } from "./statement.ts";

/** One statement on one connection, as the trace records it (one NDJSON line). */
export interface TraceEntry {
  /** The proxy's id for the client connection. */
  conn: number;
  /** When the statement reached the proxy (ISO 8601). */
  at: string;
  /** Normalised SQL: whitespace collapsed, literals as `?`, bound parameters never included. */
  sql: string;
  kind: string;
  /**
   * Where a statement failed before it ran: at its Parse, Bind or Describe (asyncpg, pgx and
   * libpq's PQprepare prepare first, so a 42703 or 25P02 comes back there). For an error that
   * belongs to no statement (sql ""): `startup` (a FATAL before the session was ready),
   * `connection` (an idle session ended, e.g. 57P01), `sync` (the batch's implicit COMMIT) or
   * `close`. Absent for a Query or Execute that ran.
   */
  step?: "parse" | "bind" | "describe" | "close" | "sync" | "startup" | "connection";
  /** From the statement reaching the proxy to its result, in milliseconds. */
  durationMs: number;
  /** Command tag (e.g. `INSERT 0 1`) and rows, or SQLSTATE and message. */
  result:
    | { tag: string; rows: number | null }
    | { sqlstate: string; message: string }
    | { lost: true }
    /** The server skipped it: an earlier statement of the same extended batch failed. */
    | { skipped: true };
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
  kind: StatementKind;
  step?: TraceEntry["step"];
  rule?: string;
  /** `,"database":…,"applicationName":…` for the connection. */
  connectionJson: string;
}

/** The `,"database":…,"applicationName":…` part of a connection's trace lines. */
export function connectionJson(database: string, applicationName: string): string {
  return `,"database":${JSON.stringify(database)},"applicationName":${JSON.stringify(applicationName)}`;
}

/** Trace lines are encoded into chunks of this many bytes, written when full… */
const CHUNK_BYTES = 256 * 1024;
/** …or this many milliseconds after the first line in them, whichever comes first. */
const FLUSH_MS = 50;

/**
 * Streams trace entries to an NDJSON file as they complete, so memory stays flat however long
 * the run. Each line is encoded straight into a byte chunk, written when full or on a timer: a
 * file write per statement would cost a thread-pool round trip per statement, and lines kept as
 * strings until a batched write lived long enough to be copied by V8's scavenger and promoted.
 */
export class TraceWriter {
  readonly path: string;
  private readonly stream: WriteStream;
  /** Encoded lines not yet written: `chunk[0, used)`. */
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  /** Raw SQL → its normalised text as a JSON string: a load test repeats a few statements. */
  private readonly sqlJson = new TextMemo<string>(SQL_CACHE_LIMIT);
  /** Command tag → the result's JSON: tags repeat even when the SQL texts do not. */
  private readonly tagJson = new TextMemo<{ rows: number | null; json: string }>(SQL_CACHE_LIMIT);
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
    const sql = this.sqlJson.getOr(record.sql, sqlJsonOf);
    const rule = record.rule === undefined ? "" : `,"rule":${JSON.stringify(record.rule)}`;
    const step = record.step === undefined ? "" : `,"step":"${record.step}"`;
    const resultText = "tag" in result ? this.tagResultJson(result) : resultJson(result);
    this.push(
      `{"conn":${record.conn},"at":"${this.iso(record.at)}","sql":${sql},"kind":"${record.kind}"${step}${rule}${record.connectionJson},"result":${resultText},"durationMs":${durationMs},"tx":"${tx}"}\n`,
    );
  }

  private tagResultJson(result: { tag: string; rows: number | null }): string {
    const known = this.tagJson.get(result.tag);
    if (known?.rows === result.rows) return known.json;
    const json = resultJson(result);
    this.tagJson.set(result.tag, { rows: result.rows, json });
    return json;
  }

  private iso(at: number): string {
    if (at !== this.lastAt) {
      this.lastAt = at;
      this.lastAtIso = new Date(at).toISOString();
    }
    return this.lastAtIso;
  }

  private push(line: string): void {
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    if (this.used + line.length * 3 > this.chunk.length) {
      this.writeOut();
      if (line.length * 3 > this.chunk.length) {
        if (!this.stream.destroyed) this.stream.write(line);
        return;
      }
    }
    this.used += this.chunk.write(line, this.used);
    if (!this.timer) {
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
    if (this.used === 0 || this.stream.destroyed) return;
    // The stream keeps the written bytes until they are on disk: the next lines go to a new chunk.
    this.stream.write(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
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

function sqlJsonOf(sql: string): string {
  return JSON.stringify(normaliseSql(sql));
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
