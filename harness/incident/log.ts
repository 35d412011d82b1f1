import { type CompiledPrefix, compilePrefix, KNOWN_PREFIXES, type PrefixFields } from "./prefix.ts";
import { sqlstateOfClass, sqlstateOfMessage } from "./sqlstate.ts";

/** One error as a log tells it: Postgres's ERROR with its DETAIL/STATEMENT, or a driver's exception. */
export interface LogError {
  file: string;
  /** 1-based, the line the error starts on; `lines` are all it was read from. */
  line: number;
  lines: number[];
  at?: Date;
  /** Which session it happened in: a pid, a session id, or the application log's file. */
  session: string;
  severity: string;
  sqlstate?: string;
  /** Whether the SQLSTATE was read (`%e`, csvlog, jsonlog, the driver's code) or inferred from the words. */
  sqlstateFrom: "log" | "message" | "exception class" | "none";
  message: string;
  detail?: string;
  statement?: string;
  database?: string;
  application?: string;
  /** `postgres` for a server log; else the driver or framework whose words it is in. */
  source: string;
}

/** A webhook event the log names anywhere: a type from the fixtures, an event id, or both. */
export interface EventMention {
  file: string;
  line: number;
  at?: Date;
  type?: string;
  eventId?: string;
}

export interface ReadLog {
  file: string;
  /** What was recognised: `stderr (Debian's default: %m [%p] %q%u@%d )`, `csvlog`, `application log (asyncpg)`. */
  format: string;
  errors: LogError[];
  mentions: EventMention[];
  /** Lines the format was recognised on. */
  recognised: number;
}

/** Thrown when nothing in a file is a log faultline can read. */
export class UnrecognisedLogError extends Error {}

const SEVERITIES =
  "DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT";
const SEVERITY_AT_START = new RegExp(`^(${SEVERITIES}):\\s+(.*)$`);
const ERRORS = new Set(["ERROR", "FATAL", "PANIC"]);

/** `2026-12-03 14:01:51.635 UTC`, `… +01`, ISO → a Date; undefined when it is no time. */
export function parseLogTime(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const m =
    /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(?:\.\d+)?) ?(UTC|GMT|Z|[+-]\d\d(?::?\d\d)?)?/.exec(
      text.trim(),
    );
  if (!m) return undefined;
  let zone = m[3] ?? "Z";
  if (zone === "UTC" || zone === "GMT") zone = "Z";
  else if (/^[+-]\d\d$/.test(zone)) zone = `${zone}:00`;
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const date = new Date(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The words an event is known by in any line of any log. */
export function eventMentions(
  file: string,
  lines: string[],
  types: readonly string[],
  timeOf: (line: number) => Date | undefined,
): EventMention[] {
  const typeWords = types.length
    ? new RegExp(
        `(?<![\\w.])(${[...types]
          .sort((a, b) => b.length - a.length)
          .map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join("|")})(?![\\w.])`,
      )
    : undefined;
  const out: EventMention[] = [];
  lines.forEach((text, i) => {
    const eventId = /\bevt_\w{6,}\b/.exec(text)?.[0];
    const type = typeWords?.exec(text)?.[1];
    if (!eventId && !type) return;
    const at = timeOf(i + 1);
    out.push({
      file,
      line: i + 1,
      ...(at ? { at } : {}),
      ...(type ? { type } : {}),
      ...(eventId ? { eventId } : {}),
    });
  });
  return out;
}

interface Options {
  /** `--log-line-prefix`: the only stderr prefix tried. */
  prefix?: string;
  /** Event types to look for (the fixtures' names). */
  eventTypes?: readonly string[];
}

/** Reads one log file, whatever format it is in; throws UnrecognisedLogError when none fits. */
export function readLog(file: string, text: string, options: Options = {}): ReadLog {
  const lines = text.split(/\r?\n/);
  const first = lines.find((l) => l.trim() !== "") ?? "";
  let read: Omit<ReadLog, "mentions"> | undefined;
  if (first.trimStart().startsWith("{")) read = readJsonlog(file, lines);
  else if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [^,]*,/.test(first))
    read = readCsvlog(file, text);
  if (!read || read.recognised === 0) {
    const stderr = readStderr(file, lines, options.prefix);
    const app = readApplicationLog(file, lines);
    // A server log whose lines also quote a driver (rare) is still the server's.
    read = stderr && stderr.recognised > 0 ? stderr : app.recognised > 0 ? app : undefined;
  }
  if (!read)
    throw new UnrecognisedLogError(
      `${file}: not a log faultline can read. Tried: jsonlog, csvlog, stderr with ${
        options.prefix
          ? `--log-line-prefix ${JSON.stringify(options.prefix)}`
          : `the prefixes ${KNOWN_PREFIXES.map((p) => `${p.name} (${JSON.stringify(p.prefix)})`).join(", ")}`
      }, and application logs (asyncpg, psycopg2, psycopg, SQLAlchemy, Django, ruby-pg/Rails, node-postgres, pgjdbc, pgx, lib/pq, DBD::Pg, PHP, "[ERROR] …" lines). If it is a server log with another log_line_prefix, give it: --log-line-prefix '<the server's log_line_prefix>'`,
    );
  const times = read.errors.filter((e) => e.at).map((e) => ({ line: e.line, at: e.at as Date }));
  const timeOf = (line: number) => {
    let best: Date | undefined;
    for (const t of times) if (t.line <= line) best = t.at;
    return best;
  };
  return { ...read, mentions: eventMentions(file, lines, options.eventTypes ?? [], timeOf) };
}

// ---- stderr ---------------------------------------------------------------------------------

// A log drain's own prefix before Postgres's (Heroku: `<time> app[postgres.1234]: [DATABASE] `).
const DRAIN = /^(\S+) \S+\[postgres\.\d+\]: (?:\[[A-Z0-9_]+\] )?/;

function readStderr(
  file: string,
  lines: string[],
  given: string | undefined,
): Omit<ReadLog, "mentions"> | undefined {
  const candidates = given ? [{ name: "--log-line-prefix", prefix: given }] : KNOWN_PREFIXES;
  const compiled = candidates.map((c) => ({ ...c, compiled: compilePrefix(c.prefix) }));
  const sample = lines.slice(0, 500);
  let best: { name: string; compiled: CompiledPrefix; hits: number } | undefined;
  for (const c of compiled) {
    const hits = sample.filter((l) => parseStderrLine(c.compiled, l) !== undefined).length;
    if (hits > (best?.hits ?? 0)) best = { ...c, hits };
  }
  if (!best) return undefined;
  const prefix = best.compiled;
  const errors: LogError[] = [];
  let recognised = 0;
  // The open record of each session: DETAIL/HINT/STATEMENT lines attach to it.
  let open: LogError | undefined;
  let openField: "message" | "detail" | "statement" | undefined;
  lines.forEach((text, index) => {
    const parsed = parseStderrLine(prefix, text);
    if (!parsed) {
      // A statement or message that ran over several lines continues without a prefix.
      if (open && openField && text.trim() !== "") {
        open[openField] = `${open[openField] ?? ""}\n${text.replace(/^\t/, "")}`;
        open.lines.push(index + 1);
      }
      return;
    }
    recognised++;
    const { fields, severity, message } = parsed;
    const session = fields.session ?? fields.pid ?? "unknown";
    if (ERRORS.has(severity)) {
      const sqlstate = fields.sqlstate && fields.sqlstate !== "00000" ? fields.sqlstate : undefined;
      const inferred = sqlstate ? undefined : sqlstateOfMessage(message);
      open = {
        file,
        line: index + 1,
        lines: [index + 1],
        ...timeOf(fields),
        session,
        severity,
        ...(sqlstate || inferred ? { sqlstate: sqlstate ?? inferred } : {}),
        sqlstateFrom: sqlstate ? "log" : inferred ? "message" : "none",
        message,
        ...(fields.database ? { database: fields.database } : {}),
        ...(fields.application ? { application: fields.application } : {}),
        source: "postgres",
      };
      openField = "message";
      errors.push(open);
      return;
    }
    const sameSession = open && open.session === session;
    if (sameSession && open && (severity === "DETAIL" || severity === "STATEMENT")) {
      const field = severity === "DETAIL" ? "detail" : "statement";
      open[field] = message;
      open.lines.push(index + 1);
      openField = field;
      return;
    }
    if (sameSession && (severity === "HINT" || severity === "CONTEXT" || severity === "QUERY")) {
      open?.lines.push(index + 1);
      openField = undefined;
      return;
    }
    open = undefined;
    openField = undefined;
  });
  return {
    file,
    format: `stderr (${best.name}: log_line_prefix = '${prefix.prefix}')`,
    errors,
    recognised,
  };
}

function parseStderrLine(
  prefix: CompiledPrefix,
  text: string,
): { fields: PrefixFields; severity: string; message: string } | undefined {
  const drain = DRAIN.exec(text);
  const line = drain ? text.slice(drain[0].length) : text;
  const read = prefix.match(line);
  if (!read) return undefined;
  const m = SEVERITY_AT_START.exec(read.rest);
  if (!m) return undefined;
  const fields = drain && !read.fields.at ? { ...read.fields, at: drain[1] } : read.fields;
  return { fields, severity: m[1] as string, message: (m[2] as string).trim() };
}

function timeOf(fields: PrefixFields): { at?: Date } {
  const at = fields.epoch ? new Date(Number(fields.epoch) * 1000) : parseLogTime(fields.at);
  return at ? { at } : {};
}

// ---- csvlog ---------------------------------------------------------------------------------

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and newlines. */
function csvRecords(text: string): { fields: string[]; line: number }[] {
  const records: { fields: string[]; line: number }[] = [];
  let field = "";
  let fields: string[] = [];
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      fields.push(field);
      if (fields.length > 1 || fields[0] !== "") records.push({ fields, line: start });
      fields = [];
      field = "";
      line++;
      start = line;
    } else field += c;
  }
  if (field !== "" || fields.length) {
    fields.push(field);
    records.push({ fields, line: start });
  }
  return records;
}

// The csvlog columns, in the order Postgres writes them (runtime-config-logging, "Using CSV-Format Log Output").
const CSV = {
  time: 0,
  user: 1,
  database: 2,
  pid: 3,
  session: 5,
  severity: 11,
  sqlstate: 12,
  message: 13,
  detail: 14,
  query: 19,
  application: 22,
};

function readCsvlog(file: string, text: string): Omit<ReadLog, "mentions"> {
  const errors: LogError[] = [];
  let recognised = 0;
  for (const { fields, line } of csvRecords(text)) {
    if (fields.length < 22 || !parseLogTime(fields[CSV.time])) continue;
    recognised++;
    const severity = fields[CSV.severity] ?? "";
    if (!ERRORS.has(severity)) continue;
    const at = parseLogTime(fields[CSV.time]);
    const sqlstate = fields[CSV.sqlstate] || undefined;
    errors.push({
      file,
      line,
      lines: [line],
      ...(at ? { at } : {}),
      session: fields[CSV.session] || fields[CSV.pid] || "unknown",
      severity,
      ...(sqlstate ? { sqlstate } : {}),
      sqlstateFrom: sqlstate ? "log" : "none",
      message: fields[CSV.message] ?? "",
      ...(fields[CSV.detail] ? { detail: fields[CSV.detail] } : {}),
      ...(fields[CSV.query] ? { statement: fields[CSV.query] } : {}),
      ...(fields[CSV.database] ? { database: fields[CSV.database] } : {}),
      ...(fields[CSV.application] ? { application: fields[CSV.application] } : {}),
      source: "postgres",
    });
  }
  return { file, format: "csvlog", errors, recognised };
}

// ---- jsonlog --------------------------------------------------------------------------------

function readJsonlog(file: string, lines: string[]): Omit<ReadLog, "mentions"> {
  const errors: LogError[] = [];
  let recognised = 0;
  lines.forEach((text, index) => {
    if (!text.trim().startsWith("{")) return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof record.error_severity !== "string" || typeof record.message !== "string") return;
    recognised++;
    if (!ERRORS.has(record.error_severity)) return;
    const at = parseLogTime(typeof record.timestamp === "string" ? record.timestamp : undefined);
    const str = (key: string) =>
      typeof record[key] === "string" ? (record[key] as string) : undefined;
    const sqlstate = str("state_code");
    errors.push({
      file,
      line: index + 1,
      lines: [index + 1],
      ...(at ? { at } : {}),
      session: str("session_id") ?? String(record.pid ?? "unknown"),
      severity: record.error_severity,
      ...(sqlstate ? { sqlstate } : {}),
      sqlstateFrom: sqlstate ? "log" : "none",
      message: record.message,
      ...(str("detail") ? { detail: str("detail") } : {}),
      ...(str("statement") ? { statement: str("statement") } : {}),
      ...(str("dbname") ? { database: str("dbname") } : {}),
      ...(str("application_name") ? { application: str("application_name") } : {}),
      source: "postgres",
    });
  });
  return { file, format: "jsonlog", errors, recognised };
}

// ---- application logs -----------------------------------------------------------------------

interface DriverLine {
  source: string;
  pattern: RegExp;
  /** From the match: the exception class (for its SQLSTATE), the message, a SQLSTATE given. */
  read(m: RegExpExecArray): { cls?: string; message: string; sqlstate?: string };
}

// Each driver's own words, as its sources spell them (see docs/incident.md for where each is from).
const DRIVERS: DriverLine[] = [
  {
    // SQLAlchemy wraps the DBAPI's exception: `sqlalchemy.exc.ProgrammingError: (psycopg2.errors.UndefinedColumn) column …`.
    source: "SQLAlchemy",
    pattern:
      /sqlalchemy\.exc\.(\w+): \((?:psycopg2\.errors|psycopg\.errors|asyncpg\.exceptions|sqlalchemy\.dialects\.postgresql\.asyncpg\.\w+)\.?(\w*)\) (?:<class '[\w.]+'>: )?(.*)$/,
    read: (m) => ({ cls: m[2] || m[1], message: m[3] as string }),
  },
  {
    source: "SQLAlchemy",
    pattern: /sqlalchemy\.exc\.(PendingRollbackError): (.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    source: "asyncpg",
    pattern: /asyncpg\.exceptions\.(\w+): (.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    source: "psycopg2",
    pattern: /psycopg2\.errors\.(\w+): (.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    source: "psycopg",
    pattern: /psycopg\.errors\.(\w+): (.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    source: "Django",
    pattern: /django\.db\.(?:utils|transaction)\.(\w+): (.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    // ruby-pg: `PG::UndefinedColumn: ERROR:  column …` (Rails prefixes ActiveRecord::StatementInvalid).
    source: "ruby-pg",
    pattern: /PG::(\w+): (?:ERROR|FATAL):\s+(.*)$/,
    read: (m) => ({ cls: m[1], message: m[2] as string }),
  },
  {
    // ruby-pg uncaught: `app.rb:9:in 'exec': ERROR:  current transaction is aborted… (PG::InFailedSqlTransaction)`.
    source: "ruby-pg",
    pattern: /(?:ERROR|FATAL):\s+(.*) \(PG::(\w+)\)$/,
    read: (m) => ({ cls: m[2], message: m[1] as string }),
  },
  {
    source: "pgjdbc",
    pattern: /org\.postgresql\.util\.PSQLException: (?:ERROR|FATAL): (.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    // pgx's PgError: `ERROR: column … (SQLSTATE 42703)`.
    source: "pgx",
    pattern: /(?:ERROR|FATAL): (.*) \(SQLSTATE ([0-9A-Z]{5})\)/,
    read: (m) => ({ message: m[1] as string, sqlstate: m[2] }),
  },
  {
    source: "lib/pq",
    pattern: /\bpq: (.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    source: "DBD::Pg",
    pattern: /DBD::Pg::(?:st|db) \w+ failed: (?:ERROR|FATAL):\s+(.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    source: "PHP PDO",
    pattern: /SQLSTATE\[([0-9A-Z]{5})\]: [^:]+: \d+ (?:ERROR|FATAL):\s+(.*)$/,
    read: (m) => ({ message: m[2] as string, sqlstate: m[1] }),
  },
  {
    source: "PHP pgsql",
    pattern:
      /pg_(?:query|query_params|execute|prepare)\(\): Query failed: (?:ERROR|FATAL):\s+(.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    // node-postgres prints `error: …` and, a few lines later, `code: '25P02'`.
    source: "node-postgres",
    pattern: /^\s*(?:\w*Error: )?error: (.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    // Application lines as the seed's log has them: `[ERROR] column users.credits_balance does not exist`.
    source: "application",
    pattern: /\[(?:ERROR|CRITICAL|FATAL|WARNING|WARN)\]\s+(.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
  {
    source: "application",
    // A swallowed error is often logged as a warning: exactly the line that matters.
    pattern: /(?:^|\s)(?:ERROR|FATAL|CRITICAL|WARNING|WARN)[:\s]\s*(.*)$/,
    read: (m) => ({ message: m[1] as string }),
  },
];

// What an application line says about which request or worker it came from: a request id, a
// thread, a worker pid (gunicorn's `[1234]`). Lines that say none are one session per file.
const SESSION_MARKERS = [
  /\b(?:request[_-]?id|req[_-]?id|trace[_-]?id)[=:]\s*"?([\w.-]+)/i,
  /\bthread(?:[_-]?name)?[=:]\s*"?([\w.-]+)/i,
  /\bpid[=:]\s*(\d+)/i,
  /^\S+(?: \S+)? \[(\d+)\] /,
];

function appSession(file: string, text: string): string {
  for (const marker of SESSION_MARKERS) {
    const id = marker.exec(text)?.[1];
    if (id) return `app:${file}:${id}`;
  }
  return `app:${file}`;
}

// Frameworks that re-raise the driver's exception as their own, so a traceback shows it twice.
const WRAPPERS = new Set(["SQLAlchemy", "Django"]);

function readApplicationLog(file: string, lines: string[]): Omit<ReadLog, "mentions"> {
  const errors: LogError[] = [];
  const sources = new Set<string>();
  lines.forEach((text, index) => {
    // A JVM stack trace repeats the cause of a later exception: it was read where it happened.
    if (/^\s*Caused by: /.test(text)) return;
    for (const driver of DRIVERS) {
      const m = driver.pattern.exec(text);
      if (!m) continue;
      const read = driver.read(m);
      const message = read.message.trim();
      // Applications that log the code put it in parentheses: `failed (25P02): …`.
      let sqlstate =
        read.sqlstate ??
        (driver.source === "application" ? /\((\d{2}[0-9A-Z]{3})\)/.exec(message)?.[1] : undefined);
      let from: LogError["sqlstateFrom"] = sqlstate ? "log" : "none";
      if (!sqlstate && driver.source === "node-postgres") {
        const code = lines
          .slice(index + 1, index + 25)
          .map((l) => /^\s*code: '([0-9A-Z]{5})'/.exec(l)?.[1])
          .find(Boolean);
        if (code) [sqlstate, from] = [code, "log"];
      }
      if (!sqlstate && read.cls) {
        const byClass = sqlstateOfClass(read.cls);
        if (byClass) [sqlstate, from] = [byClass, "exception class"];
      }
      if (!sqlstate) {
        const byMessage = sqlstateOfMessage(message);
        if (byMessage) [sqlstate, from] = [byMessage, "message"];
      }
      // An application's own error line that is no database error is not this tool's to read.
      if (!sqlstate && driver.source === "application") break;
      // One exception is often told twice (a traceback's cause, then its wrapper): once is enough.
      const last = errors.at(-1);
      if (
        last &&
        (WRAPPERS.has(driver.source) || WRAPPERS.has(last.source)) &&
        index + 1 - last.line <= 80 &&
        last.sqlstate === sqlstate &&
        (last.message.includes(message) || message.includes(last.message))
      ) {
        last.lines.push(index + 1);
        if (WRAPPERS.has(driver.source) && !last.source.startsWith(driver.source))
          last.source = `${driver.source} (${last.source})`;
        break;
      }
      sources.add(driver.source);
      // SQLAlchemy prints the statement under the exception: `[SQL: SELECT …]`.
      const statement = lines
        .slice(index + 1, index + 12)
        .map((l) => /^\s*\[SQL: (.*?)\]?\s*$/.exec(l)?.[1])
        .find(Boolean);
      const at = parseLogTime(
        /\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d| UTC)?/
          .exec(text)?.[0]
          ?.replace(",", "."),
      );
      errors.push({
        file,
        line: index + 1,
        lines: [index + 1],
        ...(at ? { at } : {}),
        session: appSession(file, text),
        severity: "ERROR",
        ...(sqlstate ? { sqlstate } : {}),
        sqlstateFrom: from,
        message,
        ...(statement ? { statement } : {}),
        source: driver.source,
      });
      break;
    }
  });
  return {
    file,
    format: `application log (${[...sources].join(", ") || "no database error"})`,
    errors,
    recognised: errors.length,
  };
}
