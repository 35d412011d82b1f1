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
    let text = "";
    for (const entry of this.entries) {
      const at = typeof entry.at === "number" ? new Date(entry.at).toISOString() : entry.at;
      text += `${JSON.stringify({ ...entry, at, sql: normaliseSql(entry.sql) })}\n`;
    }
    this.stream.write(text);
    this.entries = [];
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
