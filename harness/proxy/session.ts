import { randomInt } from "node:crypto";
import { connect, type Socket } from "node:net";
import { type Frame, MessageReader, ProtocolError, StartupLengthError } from "./framing.ts";
import { TextMemo } from "./memo.ts";
import {
  backendKeyData,
  CANCEL_REQUEST,
  cancelRequest,
  closeParseBindExecute,
  errorFields,
  errorResponse,
  GSSENC_REQUEST,
  MSG,
  queryMessage,
  readCString,
  SSL_REQUEST,
  startupParameters,
  TERMINATE_MESSAGE,
  withStartupParameter,
} from "./protocol.ts";
import type { Fired, RuleSet } from "./rules.ts";
import { cachedStatementKind, type StatementInfo } from "./statement.ts";
import {
  connectionJson,
  type StatementRecord,
  type TraceEntry,
  type TraceWriter,
} from "./trace.ts";

/** A fault that fired, as the proxy reports it. */
export interface FaultEvent {
  conn: number;
  rule: string;
  fault: string;
  sql: string | undefined;
  at: Date;
}

/**
 * What connections routed during one scenario share: where they go, where their trace lines and
 * faults are told. A connection keeps the scenario it was routed under until it ends.
 */
export interface ScenarioRoute {
  /** The database every new connection is sent to, whatever it asked for; undefined keeps its own. */
  database: string | undefined;
  trace: TraceWriter | undefined;
  onFault(event: FaultEvent): void;
}

/** What every session of one proxy shares. */
export interface ProxyShared {
  upstream: { host: string; port: number };
  rules: RuleSet;
  /** The scenario new connections are routed under. */
  scenario: ScenarioRoute;
  /** When the current scenario began (the proxy started, or the last beginScenario). */
  startedAt: number;
  /** BackendKeyData the clients saw → the real backend's key. */
  cancelKeys: Map<string, { pid: number; secret: number }>;
  sessions: Set<Session>;
  nextId(): number;
  /** Milliseconds spent in the sessions' socket handlers and held-back writes, summed. */
  busy: { ms: number };
}

/** What Postgres sends a session ended by pg_terminate_backend; pools know to drop the connection. */
const ADMIN_SHUTDOWN = errorResponse(
  "FATAL",
  "57P01",
  "terminating connection due to administrator command",
);

/** How long an ended backend may take to close its socket before the proxy stops waiting. */
const BACKEND_EXIT_WAIT_MS = 5000;

/** Command tag → its trace result, shared: results are never changed once set. */
const tagResults = new TextMemo<{ tag: string; rows: number | null }>();

function tagResult(tag: string): { tag: string; rows: number | null } {
  const rows = /\s(\d+)$/.exec(tag)?.[1];
  return { tag, rows: rows === undefined ? null : Number(rows) };
}

/** The result of a statement the server skipped after an earlier error in its batch. */
const SKIPPED = { skipped: true } as const;

/** Resolve once `socket` has closed. */
function closedOf(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** How long a client may take to send its startup packet, as Postgres's default 60 s. */
const STARTUP_TIMEOUT_MS = 60_000;

type OpKind = "query" | "parse" | "bind" | "describe" | "execute" | "close" | "sync";

/** A client message still waiting for the server's reply, in protocol order. */
interface PendingOp {
  kind: OpKind;
  /**
   * Parse, Describe 'S': the prepared statement's name. Bind: the statement it binds. Kept so a
   * step that fails before any Execute is still traced as the statement it belongs to.
   */
  statement?: string;
  /** Bind, Execute, Describe 'P', Close 'P': the portal. */
  portal?: string;
  /** Parse, Bind, Describe: the SQL the step is for. */
  sql?: string;
  /** Replies to messages the proxy injected are not shown to the client. */
  swallow?: boolean;
  entry?: OpenEntry;
  /** Hold the reply this long before the client sees it (latency "after"). */
  delayReplyMs?: number;
  /** Cut the connection when the reply arrives (resetConnection "after"). */
  resetOnReply?: boolean;
}

/** A statement on its way through: what the trace will say of it, in one object per statement. */
interface OpenEntry extends StatementRecord {
  result: TraceEntry["result"] | undefined;
  started: number;
  durationMs: number | undefined;
  /** Rows already sent in earlier row-limited Executes of the same portal (PortalSuspended). */
  rowsBefore?: number;
  /** The row limit of the Execute under way (0: none). */
  maxRows?: number;
}

/**
 * What the server skips after an error in an extended-protocol batch, until the client's Sync:
 * the failed statement (its own later Bind or Execute is not another statement) and nothing else.
 */
interface SkipState {
  statement: string | undefined;
  portal: string | undefined;
}

/**
 * Writes to one socket, in order, with a hold for latency faults and backpressure on the
 * socket that feeds it.
 */
class Outbox {
  private readonly queue: Buffer[] = [];
  private held = false;
  constructor(
    private readonly socket: Socket,
    private readonly source: () => Socket | undefined,
    private readonly busy: { ms: number },
  ) {}

  write(buf: Buffer): void {
    if (this.held || this.queue.length) this.queue.push(buf);
    else this.raw(buf);
  }

  /** Drop what a hold keeps back: the connection is ending and nobody will read it. */
  discard(): void {
    this.queue.length = 0;
  }

  /** Queue everything written for the next `ms` milliseconds, then send it in order. */
  hold(ms: number): void {
    if (ms <= 0 || this.held) return;
    this.held = true;
    setTimeout(() => {
      this.held = false;
      if (this.socket.destroyed) return;
      const started = performance.now();
      this.socket.cork();
      for (const buf of this.queue.splice(0)) this.raw(buf);
      this.socket.uncork();
      this.busy.ms += performance.now() - started;
    }, ms).unref();
  }

  private raw(buf: Buffer): void {
    if (this.socket.destroyed) return;
    if (!this.socket.write(buf)) {
      const source = this.source();
      source?.pause();
      this.socket.once("drain", () => source?.resume());
    }
  }
}

/**
 * Coalesce frames that sit side by side in one read buffer, so a read's worth of messages
 * leaves in one write (one TCP segment) and costs one small allocation, not one per message.
 */
class Batch {
  private readonly parts: Buffer[] = [];
  private run: Buffer | undefined;
  private runLength = 0;

  add(buf: Buffer): void {
    const run = this.run;
    if (run && buf.buffer === run.buffer && buf.byteOffset === run.byteOffset + this.runLength) {
      this.runLength += buf.length;
      return;
    }
    this.endRun();
    this.run = buf;
    this.runLength = buf.length;
  }

  private endRun(): void {
    const run = this.run;
    if (!run) return;
    this.parts.push(
      this.runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runLength),
    );
    this.run = undefined;
  }

  /** Write what was gathered (or drop it, with no outbox) and start empty. */
  flushTo(out: Outbox | undefined): void {
    this.endRun();
    if (out) for (const part of this.parts) out.write(part);
    this.parts.length = 0;
  }
}

/** One client connection through the proxy, and its upstream connection. */
export class Session {
  readonly id: number;
  private readonly shared: ProxyShared;
  private readonly client: Socket;
  private server: Socket | undefined;
  private toServer: Outbox | undefined;
  private readonly toClient: Outbox;
  private readonly clientReader = new MessageReader(true);
  private readonly serverReader = new MessageReader(false);
  /** The scenario this connection was routed under (the current one until its startup). */
  scenario: ScenarioRoute;
  /** Whether the startup packet went upstream: the connection belongs to `scenario` for good. */
  routed = false;
  /** The database the connection was sent to; rules match it and the trace records it. */
  private database = "";
  private applicationName = "";
  /** The connection's part of every trace line, encoded once. */
  private connectionJson = connectionJson("", "");
  /** The real backend's cancel key, once the server told it. */
  private backendKey: { pid: number; secret: number } | undefined;
  /** Whether the server has said ReadyForQuery once: past authentication. */
  private ready = false;
  private txStatus: "I" | "T" | "E" = "I";
  private readonly prepared = new Map<string, string>();
  private readonly portals = new Map<string, string>();
  private pending: PendingOp[] = [];
  private completed: OpenEntry[] = [];
  /** Set after an extended-protocol error until the client's Sync: the server skips to it. */
  private skipping: SkipState | undefined;
  /** Row-limited portals the server suspended: their statement goes on at the next Execute. */
  private readonly suspended = new Map<string, OpenEntry>();
  private blackholed = false;
  private closed = false;
  private fakeKey: string | undefined;

  constructor(client: Socket, shared: ProxyShared) {
    this.id = shared.nextId();
    this.shared = shared;
    this.scenario = shared.scenario;
    this.client = client;
    client.setNoDelay(true);
    this.toClient = new Outbox(client, () => this.server, shared.busy);
    shared.sessions.add(this);
    // As Postgres does (authentication_timeout), drop a client that never finishes its startup.
    const startupTimer = setTimeout(() => {
      if (this.clientReader.startup && !this.closed) {
        this.client.end(
          errorResponse("FATAL", "08P01", "faultline proxy: startup packet not received in time"),
        );
        this.close();
      }
    }, STARTUP_TIMEOUT_MS);
    startupTimer.unref();
    client.once("close", () => clearTimeout(startupTimer));
    client.on("data", (chunk: Buffer) => this.timed(() => this.fromClient(chunk)));
    client.on("error", () => this.vanish());
    // A client gone while a reply is still on its way has vanished, not ended its session.
    client.on("close", () => (this.pending.length ? this.vanish() : this.close()));
  }

  /**
   * The client went away without ending its session (a reset, or a close mid-reply): the backend
   * must learn it as it would directly — its next write fails and it stops — so the upstream
   * socket is reset, not ended and drained (which kept a runaway query going for a second).
   */
  private vanish(): void {
    if (this.closed) return;
    this.settle();
    this.client.destroy();
    const server = this.server;
    if (server && !server.destroyed) {
      if (server.connecting) server.destroy();
      else server.resetAndDestroy();
    }
  }

  /** End both connections: `abrupt` cuts them at once (a reset), else queued bytes go first. */
  close(abrupt = false): void {
    if (this.closed) return;
    this.settle();
    if (abrupt) {
      this.client.destroy();
      this.server?.destroy();
    } else {
      this.client.end();
      this.server?.end();
      // A peer that never closes its side must not keep the sockets alive.
      setTimeout(() => {
        this.client.destroy();
        this.server?.destroy();
      }, 1000).unref();
    }
  }

  /**
   * End the connection as `pg_terminate_backend` would: the client gets FATAL 57P01 (a query in
   * flight gets it as its error) and both sockets close. Resolves once the backend is gone: its
   * query cancelled if one runs, a Terminate sent, and its socket closed by the server.
   */
  terminate(): Promise<void> {
    const server = this.server;
    const gone = Promise.all([closedOf(this.client), server ? closedOf(server) : undefined]);
    if (this.closed) return gone.then(() => {});
    // Whether the backend may be running a statement: asked before settling forgets the ops.
    const busy = this.pending.length > 0 || this.blackholed;
    this.settle();
    // Replies held back by a latency fault are dropped, as the backend's would be.
    this.toClient.discard();
    this.client.resume();
    this.client.end(ADMIN_SHUTDOWN);
    setTimeout(() => this.client.destroy(), 1000).unref();
    if (server) {
      this.toServer?.discard();
      // A backend busy with a query (or a blackholed one) would not read the Terminate until it
      // finished: cancel it first, with the real key.
      if (busy && this.backendKey) this.cancelUpstream(this.backendKey);
      // Past authentication a Terminate ends the backend quietly; before it, the EOF does.
      if (this.ready && !server.destroyed) server.write(TERMINATE_MESSAGE);
      // Reading on (what it sends is dropped) lets the server's close arrive even when
      // backpressure had paused the socket.
      server.resume();
      server.end();
      setTimeout(() => server.destroy(), BACKEND_EXIT_WAIT_MS).unref();
    }
    return gone.then(() => {});
  }

  /** Mark the session closed: trace what it left, forget its cancel key, leave the proxy. */
  private settle(): void {
    this.closed = true;
    // Statements the connection ended under: traced with what they got, or as lost.
    for (const op of this.pending.splice(0)) {
      if (!op.entry || this.completed.includes(op.entry)) continue;
      op.entry.result ??= { lost: true };
      this.finish(op.entry);
    }
    for (const portal of [...this.suspended.keys()]) this.endSuspended(portal);
    this.flushTrace("?");
    if (this.fakeKey) this.shared.cancelKeys.delete(this.fakeKey);
    this.shared.sessions.delete(this);
  }

  /** Handle a read, its time (framing, rules, trace, the writes it makes) counted as busy. */
  private timed(work: () => void): void {
    const started = performance.now();
    this.guard(work);
    this.shared.busy.ms += performance.now() - started;
  }

  // Whatever a peer sends, a bad message closes this session only.
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      if (
        error instanceof ProtocolError &&
        !(error instanceof StartupLengthError) &&
        !this.client.destroyed
      ) {
        this.client.write(errorResponse("FATAL", "08P01", `faultline proxy: ${error.message}`));
      }
      this.client.end();
      this.server?.destroy();
      setImmediate(() => this.close());
    }
  }

  private fromClient(chunk: Buffer): void {
    if (this.closed) return;
    this.clientReader.push(chunk);
    const batch = new Batch();
    for (let frame = this.clientReader.next(); frame; frame = this.clientReader.next()) {
      if (this.blackholed || this.closed) continue;
      if (frame.startup) {
        this.startupPacket(frame);
        continue;
      }
      this.clientMessage(frame, batch);
    }
    batch.flushTo(this.toServer);
  }

  private startupPacket(frame: Frame): void {
    const code = frame.body.readInt32BE(0);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      // No TLS or GSS through the proxy: the client goes on in plain text.
      this.client.write("N");
      return;
    }
    if (code === CANCEL_REQUEST) {
      // As Postgres, the cancel connection closes once the backend has been signalled, so a
      // client that waits for the close knows the cancel reached the server.
      const forwarded =
        frame.body.length >= 12
          ? this.forwardCancel(frame.body.readInt32BE(4), frame.body.readInt32BE(8))
          : Promise.resolve();
      // Nothing else is read on a cancel connection.
      this.blackholed = true;
      void forwarded.then(() => {
        this.client.end();
        this.close();
      });
      return;
    }
    if (code >> 16 !== 3)
      throw new ProtocolError(`unsupported protocol version ${code >> 16}.${code & 0xffff}`);
    const params = startupParameters(frame.body);
    // Routing is decided once per connection, here; statements only read the result.
    const scenario = this.shared.scenario;
    this.scenario = scenario;
    this.applicationName = params.application_name ?? "";
    this.database = scenario.database ?? params.database ?? params.user ?? "";
    this.connectionJson = connectionJson(this.database, this.applicationName);
    const packet =
      scenario.database === undefined
        ? frame.bytes
        : withStartupParameter(frame.body, "database", scenario.database);
    const fired = this.shared.rules.onConnect({
      applicationName: this.applicationName,
      database: this.database,
      atMs: Date.now() - this.shared.startedAt,
    });
    if (fired?.action.action === "refuse") {
      this.report(fired, undefined);
      this.client.end(errorResponse("FATAL", fired.action.sqlstate, fired.action.message));
      this.close();
      return;
    }
    this.clientReader.startup = false;
    this.routed = true;
    const server = connect(this.shared.upstream.port, this.shared.upstream.host);
    server.setNoDelay(true);
    this.server = server;
    this.toServer = new Outbox(server, () => this.client, this.shared.busy);
    server.on("data", (chunk: Buffer) => this.timed(() => this.fromServer(chunk)));
    server.on("error", (error) => {
      if (
        !this.closed &&
        !this.client.destroyed &&
        this.txStatus === "I" &&
        this.pending.length === 0
      ) {
        this.client.write(
          errorResponse("FATAL", "08006", `faultline proxy: upstream ${error.message}`),
        );
      }
      this.close();
    });
    server.on("close", () => {
      // Let the client read what the server said last (a FATAL, say) before it sees the close.
      this.client.end();
      setImmediate(() => this.close());
    });
    server.write(packet);
  }

  private forwardCancel(pid: number, secret: number): Promise<void> {
    const real = this.shared.cancelKeys.get(`${pid}:${secret}`);
    if (!real) return Promise.resolve(); // Postgres, too, ignores a cancel with an unknown key.
    return this.cancelUpstream(real);
  }

  /** Send a CancelRequest upstream; resolves once the server closed that connection. */
  private cancelUpstream(real: { pid: number; secret: number }): Promise<void> {
    const upstream = connect(this.shared.upstream.port, this.shared.upstream.host);
    upstream.on("error", () => upstream.destroy());
    upstream.end(cancelRequest(real.pid, real.secret));
    // A server that never closes it must not hold the client's cancel connection open.
    setTimeout(() => upstream.destroy(), BACKEND_EXIT_WAIT_MS).unref();
    return closedOf(upstream);
  }

  private statementInfo(sql: string): StatementInfo {
    return {
      sql,
      kind: cachedStatementKind(sql),
      inTransaction: this.txStatus !== "I",
      applicationName: this.applicationName,
      database: this.database,
      atMs: Date.now() - this.shared.startedAt,
    };
  }

  private openEntry(info: StatementInfo, fired: Fired | undefined): OpenEntry | undefined {
    // Without a trace nothing reads entries: skip the work on the hot path.
    if (!this.scenario.trace) return undefined;
    return {
      conn: this.id,
      at: info.atMs + this.shared.startedAt,
      sql: info.sql,
      kind: info.kind,
      rule: fired?.rule,
      connectionJson: this.connectionJson,
      result: undefined,
      started: performance.now(),
      durationMs: undefined,
    };
  }

  private report(fired: Fired, sql: string | undefined): void {
    this.scenario.onFault({
      conn: this.id,
      rule: fired.rule,
      fault: fired.fault.describe(),
      sql,
      at: new Date(),
    });
  }

  private clientMessage(frame: Frame, batch: Batch): void {
    const skipping = this.skipping;
    switch (frame.type) {
      case MSG.query:
        if (skipping) {
          // Postgres ignores a Query until the Sync too: it is never answered.
          this.skippedStatement(readCString(frame.body, 0)[0]);
          break;
        }
        this.statement(() => readCString(frame.body, 0)[0], "query", frame, batch);
        return;
      case MSG.parse: {
        const [name, next] = readCString(frame.body, 0);
        const [sql] = readCString(frame.body, next);
        // Postgres skips the message, so the name stays as it was; following it anyway costs
        // nothing and a skipped Parse is followed only by skipped messages until the Sync.
        this.prepared.set(name, sql);
        if (!skipping) this.pending.push({ kind: "parse", statement: name, sql });
        break;
      }
      case MSG.bind: {
        const [portal, next] = readCString(frame.body, 0);
        const [statement] = readCString(frame.body, next);
        const sql = this.prepared.get(statement) ?? "";
        this.endSuspended(portal);
        this.portals.set(portal, sql);
        if (!skipping) this.pending.push({ kind: "bind", statement, portal, sql });
        else if (skipping.statement === statement) skipping.portal = portal;
        break;
      }
      case MSG.describe: {
        if (skipping) break;
        const [name] = readCString(frame.body, 1);
        const isStatement = frame.body[0] === "S".charCodeAt(0);
        this.pending.push(
          isStatement
            ? { kind: "describe", statement: name, sql: this.prepared.get(name) ?? "" }
            : { kind: "describe", portal: name, sql: this.portals.get(name) ?? "" },
        );
        break;
      }
      case MSG.execute: {
        const [portal, next] = readCString(frame.body, 0);
        if (skipping) {
          // The failed statement's own Execute is already traced with its error; any other is a
          // statement the server skips.
          if (skipping.portal === portal) {
            skipping.statement = undefined;
            skipping.portal = undefined;
          } else this.skippedStatement(this.portals.get(portal) ?? "");
          break;
        }
        this.statement(
          () => this.portals.get(portal) ?? "",
          "execute",
          frame,
          batch,
          portal,
          next + 4 <= frame.body.length ? frame.body.readInt32BE(next) : 0,
        );
        return;
      }
      case MSG.close: {
        if (skipping) break;
        const [name] = readCString(frame.body, 1);
        if (frame.body[0] === "S".charCodeAt(0)) {
          this.prepared.delete(name);
          this.pending.push({ kind: "close", statement: name });
        } else {
          this.endSuspended(name);
          this.portals.delete(name);
          this.pending.push({ kind: "close", portal: name });
        }
        break;
      }
      case MSG.sync:
        this.skipping = undefined;
        this.pending.push({ kind: "sync" });
        break;
    }
    batch.add(frame.bytes);
  }

  /** A statement the server skips (it follows an error in the same batch): traced as skipped. */
  private skippedStatement(sql: string): void {
    if (!this.scenario.trace) return;
    const entry = this.openEntry(this.statementInfo(sql), undefined);
    if (!entry) return;
    entry.result = SKIPPED;
    this.finish(entry);
  }

  /** A suspended portal that will not go on (closed, rebound, or its transaction ended). */
  private endSuspended(portal: string): void {
    const entry = this.suspended.get(portal);
    if (!entry) return;
    this.suspended.delete(portal);
    entry.result = { tag: "SUSPENDED", rows: entry.rowsBefore ?? 0 };
    this.completed.push(entry);
  }

  /** A Query or Execute: match the rules, then forward, replace, delay or cut. */
  private statement(
    sqlOf: () => string,
    kind: "query" | "execute",
    frame: Frame,
    batch: Batch,
    portal?: string,
    maxRows = 0,
  ): void {
    if (!this.shared.rules.size && !this.scenario.trace) {
      // No rule can fire and nothing is traced: only the reply order needs following.
      this.pending.push({ kind, portal });
      batch.add(frame.bytes);
      return;
    }
    const info = this.statementInfo(sqlOf());
    const fired = this.shared.rules.size ? this.shared.rules.onStatement(info) : undefined;
    // A row-limited portal the server suspended goes on: the same statement, not another one.
    const resumed = portal === undefined ? undefined : this.suspended.get(portal);
    if (resumed && portal !== undefined) {
      this.suspended.delete(portal);
      if (fired) resumed.rule ??= fired.rule;
    }
    const entry = resumed ?? this.openEntry(info, fired);
    if (entry) entry.maxRows = maxRows;
    const op: PendingOp = { kind, portal, entry };
    if (!fired || fired.action.action === "refuse") {
      this.pending.push(op);
      batch.add(frame.bytes);
      return;
    }
    this.report(fired, info.sql);
    const action = fired.action;
    switch (action.action) {
      case "replace":
        if (kind === "query") {
          this.pending.push(op);
          batch.add(queryMessage(action.sql));
        } else {
          // The injected Close, Parse and Bind answer CloseComplete, ParseComplete and
          // BindComplete, which the client never asked for; the Execute's reply stands for the
          // client's Execute.
          this.pending.push(
            { kind: "close", swallow: true },
            { kind: "parse", swallow: true },
            { kind: "bind", swallow: true },
            op,
          );
          batch.add(closeParseBindExecute(action.sql));
        }
        return;
      case "delay":
        this.pending.push(op);
        if (action.when === "before") {
          batch.flushTo(this.toServer);
          this.toServer?.hold(action.ms);
        } else {
          op.delayReplyMs = action.ms;
        }
        batch.add(frame.bytes);
        return;
      case "reset":
        if (action.when === "before") {
          this.recordLost(op);
          batch.flushTo(undefined);
          this.close(true);
        } else {
          op.resetOnReply = true;
          this.pending.push(op);
          batch.add(frame.bytes);
        }
        return;
      case "blackhole":
        this.blackholed = true;
        // Never answered: traced as lost when the connection ends.
        this.pending.push(op);
        batch.flushTo(undefined);
        return;
    }
  }

  private recordLost(op: PendingOp): void {
    if (!op.entry) return;
    op.entry.result = { lost: true };
    this.finish(op.entry);
  }

  private finish(entry: OpenEntry): void {
    entry.durationMs ??= performance.now() - entry.started;
    this.completed.push(entry);
  }

  private flushTrace(tx: TraceEntry["tx"]): void {
    const trace = this.scenario.trace;
    const completed = this.completed;
    if (completed.length === 0) return;
    this.completed = [];
    for (const entry of completed) {
      if (!trace || !entry.result) continue;
      trace.writeStatement(
        entry,
        entry.result,
        Math.round((entry.durationMs ?? 0) * 1000) / 1000,
        tx,
      );
    }
  }

  /**
   * An ErrorResponse: it answers the oldest message still waiting (the server handles messages in
   * order), so the failed statement is the head op's — a Query or Execute, or the Parse, Bind or
   * Describe of a statement that never got to run. In an extended batch the server then skips
   * every message until the client's Sync: the other statements there are traced as skipped.
   * Returns the op the error completes, if any.
   */
  private serverError(
    head: PendingOp | undefined,
    fields: Record<string, string>,
  ): PendingOp | undefined {
    const error = { sqlstate: fields.C ?? "", message: fields.M ?? "" };
    if (!head || head.kind === "sync" || head.kind === "close") {
      // Outside any statement: at startup, on an idle connection (57P01), at a Sync's implicit
      // COMMIT. Traced all the same: the server log has it, so must the trace.
      this.outsideError(
        error,
        head?.kind === "sync" || head?.kind === "close"
          ? head.kind
          : this.ready
            ? "connection"
            : "startup",
      );
      if (head?.kind === "close") this.skipAfterError(head);
      return undefined;
    }
    if (head.kind === "query") {
      const entry = head.entry;
      if (entry && !(entry.result && "sqlstate" in entry.result)) {
        entry.result = error;
        entry.durationMs = performance.now() - entry.started;
      }
      return head;
    }
    // A failed Parse, Bind or Describe: the statement's own Execute, if the client already sent
    // it, carries the error (and the rule that matched it).
    const owner = head.kind === "execute" ? head : this.ownerExecute(head);
    let entry = owner?.entry;
    if (head.kind !== "execute" && this.scenario.trace) {
      entry ??= this.openEntry(this.statementInfo(head.sql ?? ""), undefined);
      if (entry) entry.step = head.kind;
    }
    if (entry && !(entry.result && "sqlstate" in entry.result)) {
      entry.result = error;
      entry.durationMs = performance.now() - entry.started;
      this.completed.push(entry);
    }
    this.skipAfterError(head, entry);
    return owner ?? head;
  }

  /**
   * The Execute that runs the statement a failed Parse, Bind or Describe was for, among the
   * messages sent after it in the same batch.
   */
  private ownerExecute(failed: PendingOp): PendingOp | undefined {
    let statement = failed.kind === "bind" ? undefined : failed.statement;
    let portal =
      failed.kind === "bind" || failed.statement === undefined ? failed.portal : undefined;
    for (let i = 1; i < this.pending.length; i++) {
      const op = this.pending[i] as PendingOp;
      if (op.kind === "sync" || op.kind === "query") return undefined;
      if (op.kind === "bind" && statement !== undefined && op.statement === statement) {
        portal = op.portal;
        statement = undefined;
      } else if (op.kind === "execute" && portal !== undefined && op.portal === portal) return op;
    }
    return undefined;
  }

  /**
   * Drop what the server skips after the error that answered `head`: everything up to the
   * batch's Sync. Statements among them (but the failed one, `failed`) are traced as skipped;
   * with no Sync sent yet, the skipping goes on for what the client sends until it.
   */
  private skipAfterError(head: PendingOp, failed?: OpenEntry): void {
    const syncAt = this.pending.findIndex((op) => op.kind === "sync" || op.kind === "query");
    const skipped = this.pending.slice(0, syncAt === -1 ? undefined : syncAt);
    this.pending = syncAt === -1 ? [] : this.pending.slice(syncAt);
    // What names the failed statement while the server skips: its later Bind and Execute are it.
    let statement = head.kind === "bind" ? undefined : head.statement;
    let portal = head.kind === "bind" || head.kind === "describe" ? head.portal : undefined;
    for (const op of skipped) {
      if (op === head) continue;
      if (op.kind === "bind" && statement !== undefined && op.statement === statement)
        portal = op.portal;
      if (op.kind !== "execute") continue;
      if (portal !== undefined && op.portal === portal) {
        // The failed statement's own Execute: what follows is other statements.
        statement = undefined;
        portal = undefined;
        continue;
      }
      const entry = op.entry;
      if (!entry || entry === failed || this.completed.includes(entry)) continue;
      entry.result = SKIPPED;
      this.finish(entry);
    }
    if (syncAt === -1) this.skipping = { statement, portal };
  }

  /** An error that belongs to no statement, traced as a line of its own. */
  private outsideError(
    error: { sqlstate: string; message: string },
    step: NonNullable<TraceEntry["step"]>,
  ): void {
    const entry = this.openEntry(this.statementInfo(""), undefined);
    if (!entry) return;
    entry.step = step;
    entry.result = error;
    this.finish(entry);
  }

  private fromServer(chunk: Buffer): void {
    if (this.closed) return;
    this.serverReader.push(chunk);
    const batch = new Batch();
    for (let frame = this.serverReader.next(); frame; frame = this.serverReader.next()) {
      if (this.closed) return;
      if (this.blackholed) continue;
      const { forward, done } = this.serverMessage(frame);
      if (done?.resetOnReply) {
        // The server did the work; the client never hears of it.
        batch.flushTo(undefined);
        this.flushTrace(this.txStatus);
        this.close(true);
        return;
      }
      if (done?.delayReplyMs) {
        batch.flushTo(this.toClient);
        this.toClient.hold(done.delayReplyMs);
        done.delayReplyMs = 0;
      }
      if (forward) batch.add(forward);
    }
    batch.flushTo(this.toClient);
  }

  /**
   * Follow one server message: what to forward (the frame, a replacement, or nothing) and the
   * op whose reply it completes, if any.
   */
  private serverMessage(frame: Frame): { forward: Buffer | undefined; done?: PendingOp } {
    const head = this.pending[0];
    switch (frame.type) {
      case MSG.parseComplete:
      case MSG.bindComplete:
      case MSG.closeComplete:
        this.pending.shift();
        return { forward: head?.swallow ? undefined : frame.bytes };
      case MSG.rowDescription:
      case MSG.noData:
        if (head?.kind === "describe") this.pending.shift();
        return { forward: frame.bytes };
      case MSG.commandComplete:
      case MSG.emptyQuery: {
        const entry = head?.entry;
        if (entry && !entry.result) {
          const tag = frame.type === MSG.commandComplete ? readCString(frame.body, 0)[0] : "";
          const result = tagResults.getOr(tag, tagResult);
          // A portal fetched in row-limited pieces: its tag counts only the last piece.
          entry.result =
            entry.rowsBefore && result.rows !== null
              ? { tag, rows: result.rows + entry.rowsBefore }
              : result;
          entry.durationMs = performance.now() - entry.started;
        }
        if (head?.kind === "execute") {
          this.pending.shift();
          if (entry) this.completed.push(entry);
          return { forward: frame.bytes, done: head };
        }
        // A simple query may hold several statements; it completes at ReadyForQuery.
        return {
          forward: frame.bytes,
          done: head?.kind === "query" && head.delayReplyMs ? head : undefined,
        };
      }
      case MSG.portalSuspended: {
        // The Execute's row limit was reached: the statement goes on at the portal's next Execute.
        if (head?.kind !== "execute") return { forward: frame.bytes };
        this.pending.shift();
        const entry = head.entry;
        if (entry && head.portal !== undefined) {
          entry.rowsBefore = (entry.rowsBefore ?? 0) + (entry.maxRows ?? 0);
          this.suspended.set(head.portal, entry);
        }
        return { forward: frame.bytes, done: head };
      }
      case MSG.errorResponse: {
        const fields = errorFields(frame.body);
        return { forward: frame.bytes, done: this.serverError(head, fields) };
      }
      case MSG.readyForQuery: {
        this.ready = true;
        this.txStatus = String.fromCharCode(frame.body[0] ?? 73) as "I" | "T" | "E";
        let done: PendingOp | undefined;
        // Ops the server skipped after an error end here too.
        while (this.pending.length) {
          const op = this.pending.shift() as PendingOp;
          if (op.kind === "query") {
            done = op;
            if (op.entry?.result) {
              op.entry.durationMs ??= performance.now() - op.entry.started;
              this.completed.push(op.entry);
            }
          }
          if (op.kind === "sync" || op.kind === "query") break;
        }
        // Portals end with their transaction.
        if (this.txStatus === "I" && this.suspended.size)
          for (const portal of [...this.suspended.keys()]) this.endSuspended(portal);
        this.flushTrace(this.txStatus);
        return {
          forward: frame.bytes,
          done: done?.resetOnReply || done?.delayReplyMs ? done : undefined,
        };
      }
      case MSG.backendKeyData: {
        if (frame.body.length !== 8) return { forward: frame.bytes };
        const real = { pid: frame.body.readInt32BE(0), secret: frame.body.readInt32BE(4) };
        this.backendKey = real;
        // The client sees the real pid (pg_stat_activity, pg_terminate_backend and NOTIFY's sender
        // name it) with a secret of the proxy's: a cancel with it is forwarded with the real one.
        const secret = randomInt(0, 2 ** 31 - 1);
        this.fakeKey = `${real.pid}:${secret}`;
        this.shared.cancelKeys.set(this.fakeKey, real);
        return { forward: backendKeyData(real.pid, secret) };
      }
      default:
        return { forward: frame.bytes };
    }
  }
}
