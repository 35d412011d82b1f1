import { randomUUID } from "node:crypto";
import { open } from "node:fs/promises";
import { sleep } from "../lifecycle/index.ts";

/** One line of Postgres's `jsonlog` output (the fields faultline reads). */
export interface ServerLogEntry {
  timestamp: string;
  user?: string;
  dbname?: string;
  pid?: number;
  session_id?: string;
  error_severity: string;
  state_code?: string;
  message: string;
  detail?: string;
  hint?: string;
  statement?: string;
  application_name?: string;
  backend_type?: string;
}

/** An error the server raised, as the oracle reports it. */
export interface ServerError {
  at: Date;
  sqlstate: string;
  severity: string;
  message: string;
  session: string;
  pid: number | undefined;
  database: string | undefined;
  statement: string | undefined;
  applicationName: string | undefined;
}

const ERROR_SEVERITIES = new Set(["ERROR", "FATAL", "PANIC"]);

/**
 * The oracle: reads the server's own log so errors are seen whatever language the service is
 * written in. Reads are incremental; a line split across reads waits for its end.
 */
export class ServerLog {
  readonly path: string;
  readonly entries: ServerLogEntry[] = [];
  private offset = 0;
  private partial = "";

  constructor(path: string) {
    this.path = path;
  }

  private reading: Promise<void> = Promise.resolve();

  /**
   * Read whatever the server appended since the last call. Reads are queued: two scenarios
   * judged at once must not read the same bytes twice or split each other's lines.
   */
  refresh(): Promise<void> {
    const next = this.reading.then(() => this.readAppended());
    this.reading = next.catch(() => {});
    return next;
  }

  private async readAppended(): Promise<void> {
    const handle = await open(this.path, "r").catch(() => undefined);
    if (!handle) return;
    try {
      const { size } = await handle.stat();
      if (size <= this.offset) return;
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      const text = this.partial + buffer.subarray(0, bytesRead).toString("utf8");
      const lines = text.split("\n");
      this.partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        try {
          this.entries.push(JSON.parse(line) as ServerLogEntry);
        } catch {
          // The collector writes whole lines; anything unparsable is not ours to judge.
        }
      }
    } finally {
      await handle.close();
    }
  }

  /**
   * Wait until everything the server logged before this call is readable. The logging
   * collector writes asynchronously, so we log a unique marker through `raiseLog` and read
   * until it appears: messages from earlier statements reach the collector first.
   */
  async sync(raiseLog: (marker: string) => Promise<void>, timeoutMs = 5000): Promise<void> {
    const marker = `faultline:sync:${randomUUID()}`;
    // Taken before the marker is raised: a concurrent sync's refresh may read it in first.
    const start = this.entries.length;
    await raiseLog(marker);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.refresh();
      for (let i = this.entries.length - 1; i >= 0; i--) {
        if (this.entries[i]?.message === marker) return;
        if (i < start) break;
      }
      if (Date.now() > deadline)
        throw new Error(
          `server log ${this.path} did not show marker ${marker} within ${timeoutMs} ms`,
        );
      await sleep(10);
    }
  }

  /** Errors the server raised, optionally only those in one database. */
  errors(filter: { database?: string } = {}): ServerError[] {
    return this.entries
      .filter((e) => ERROR_SEVERITIES.has(e.error_severity))
      .filter((e) => filter.database === undefined || e.dbname === filter.database)
      .map(toServerError);
  }
}

function toServerError(e: ServerLogEntry): ServerError {
  return {
    at: new Date(e.timestamp.replace(" UTC", "Z").replace(" ", "T")),
    sqlstate: e.state_code ?? "",
    severity: e.error_severity,
    message: e.message,
    session: e.session_id ?? "",
    pid: e.pid,
    database: e.dbname,
    statement: e.statement,
    applicationName: e.application_name,
  };
}

/** One-line rendering of a server error for evidence and reports. */
export function formatServerError(error: ServerError): string {
  const statement = error.statement
    ? ` — statement: ${error.statement.replace(/\s+/g, " ").trim()}`
    : "";
  return `${error.at.toISOString()} session ${error.session} ${error.severity} ${error.sqlstate}: ${error.message}${statement}`;
}
