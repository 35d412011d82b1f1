import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { createInterface } from "node:readline";

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

/**
 * Streams trace entries to an NDJSON file as they complete, so memory stays flat however long
 * the run.
 */
export class TraceWriter {
  readonly path: string;
  private readonly stream: WriteStream;

  constructor(path: string) {
    this.path = path;
    this.stream = createWriteStream(path, { flags: "a" });
    this.stream.on("error", () => {});
  }

  write(entry: TraceEntry): void {
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }

  /** Resolve once everything written so far is in the file. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) return resolve();
      this.stream.write("", () => resolve());
    });
  }

  /** Flush and close the file. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
    });
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
