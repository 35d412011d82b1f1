/**
 * Test-only helpers for the proxy: builders for Postgres v3 wire bytes (frontend and backend
 * messages), a raw socket client that reads backend messages without the proxy's own framing
 * code, and a Postgres environment for the `*.pg.test.ts` files. Nothing in the harness imports
 * this module.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type RunEnvironment, startEnvironment } from "../postgres/index.ts";
import { CANCEL_REQUEST, GSSENC_REQUEST, PROTOCOL_3_0, SSL_REQUEST } from "./protocol.ts";

// ---------------------------------------------------------------------------------------------
// Byte builders

/** A NUL-terminated UTF-8 string. */
function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

function int16(n: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeInt16BE(n, 0);
  return out;
}

function int32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(n, 0);
  return out;
}

/** A typed message: type byte, Int32 length (counting itself), body. */
export function typedMessage(type: string, ...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([Buffer.from(type, "latin1"), int32(payload.length + 4), payload]);
}

/** An untyped startup-phase packet: Int32 length (counting itself), then the body. */
export function untypedPacket(...body: Buffer[]): Buffer {
  const payload = Buffer.concat(body);
  return Buffer.concat([int32(payload.length + 4), payload]);
}

/** A StartupMessage with these parameters (protocol 3.0 unless told). */
export function startupMessage(params: Record<string, string>, version = PROTOCOL_3_0): Buffer {
  const pairs = Object.entries(params).flatMap(([k, v]) => [cstring(k), cstring(v)]);
  return untypedPacket(int32(version), ...pairs, Buffer.from([0]));
}

/** An SSLRequest packet. */
export function sslRequest(): Buffer {
  return untypedPacket(int32(SSL_REQUEST));
}

/** A GSSENCRequest packet. */
export function gssEncRequest(): Buffer {
  return untypedPacket(int32(GSSENC_REQUEST));
}

/** A CancelRequest packet for this backend key. */
export function cancelRequestPacket(pid: number, secret: number): Buffer {
  return untypedPacket(int32(CANCEL_REQUEST), int32(pid), int32(secret));
}

/** Query (simple protocol). */
export function query(sql: string): Buffer {
  return typedMessage("Q", cstring(sql));
}

/** Parse: statement name, SQL, parameter type OIDs (0 = unspecified). */
export function parse(name: string, sql: string, paramTypes: number[] = []): Buffer {
  return typedMessage(
    "P",
    cstring(name),
    cstring(sql),
    int16(paramTypes.length),
    ...paramTypes.map(int32),
  );
}

/** Bind with text-format parameters (null = SQL NULL) and text results. */
export function bind(portal: string, statement: string, params: (string | null)[] = []): Buffer {
  const values = params.flatMap((p) =>
    p === null ? [int32(-1)] : [int32(Buffer.byteLength(p)), Buffer.from(p, "utf8")],
  );
  return typedMessage(
    "B",
    cstring(portal),
    cstring(statement),
    int16(0),
    int16(params.length),
    ...values,
    int16(0),
  );
}

/** Describe a statement (`S`) or a portal (`P`). */
export function describeMessage(what: "S" | "P", name: string): Buffer {
  return typedMessage("D", Buffer.from(what), cstring(name));
}

/** Execute a portal (maxRows 0 = all). */
export function execute(portal = "", maxRows = 0): Buffer {
  return typedMessage("E", cstring(portal), int32(maxRows));
}

/** Sync. */
export function sync(): Buffer {
  return typedMessage("S");
}

/** Terminate. */
export function terminate(): Buffer {
  return typedMessage("X");
}

/** CopyData. */
export function copyData(data: Buffer | string): Buffer {
  return typedMessage("d", Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8"));
}

/** Backend ReadyForQuery with this transaction status. */
export function readyForQuery(status: "I" | "T" | "E"): Buffer {
  return typedMessage("Z", Buffer.from(status));
}

/** Backend CommandComplete. */
export function commandComplete(tag: string): Buffer {
  return typedMessage("C", cstring(tag));
}

/** Backend DataRow of text values (null = SQL NULL). */
export function dataRow(values: (string | null)[]): Buffer {
  const cols = values.flatMap((v) =>
    v === null ? [int32(-1)] : [int32(Buffer.byteLength(v)), Buffer.from(v, "utf8")],
  );
  return typedMessage("D", int16(values.length), ...cols);
}

/** Backend ErrorResponse with severity, SQLSTATE and message. */
export function errorMessage(severity: string, sqlstate: string, message: string): Buffer {
  return typedMessage(
    "E",
    Buffer.from("S"),
    cstring(severity),
    Buffer.from("C"),
    cstring(sqlstate),
    Buffer.from("M"),
    cstring(message),
    Buffer.from([0]),
  );
}

/** A message header claiming `length` (which may be a lie) with no body. */
export function header(type: string, length: number): Buffer {
  return Buffer.concat([Buffer.from(type, "latin1"), int32(length)]);
}

// ---------------------------------------------------------------------------------------------
// Reading backend bytes off a raw socket

/** One backend message as read off the wire. */
export interface WireMessage {
  type: string;
  body: Buffer;
}

/** The fields of an ErrorResponse/NoticeResponse body by one-letter code. */
export function fieldsOf(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at] as number);
    const end = body.indexOf(0, at + 1);
    if (end === -1) break;
    out[code] = body.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return out;
}

/**
 * A raw TCP client that records every byte it receives and can read them as single bytes (the
 * SSLRequest answer) or typed backend messages. Deliberately does not use the proxy's framing.
 */
export class RawClient {
  readonly socket: Socket;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;
  isClosed = false;
  private received = Buffer.alloc(0);
  private offset = 0;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connect to host:port. */
  static connect(port: number, host = "127.0.0.1"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.setNoDelay(true);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private wait(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), left);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Write bytes (ignored once the socket is gone). */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Every byte received so far. */
  get bytes(): Buffer {
    return this.received;
  }

  /** The next single byte (the answer to SSLRequest/GSSENCRequest), or undefined on timeout/close. */
  async readByte(timeoutMs = 2000): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length <= this.offset) {
      if (this.isClosed || !(await this.wait(deadline))) {
        if (this.received.length > this.offset) break;
        return undefined;
      }
    }
    return this.received[this.offset++];
  }

  /** The next typed backend message, or undefined on timeout or close. */
  async next(timeoutMs = 2000): Promise<WireMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const available = this.received.length - this.offset;
      if (available >= 5) {
        const length = this.received.readInt32BE(this.offset + 1);
        if (available >= length + 1) {
          const type = String.fromCharCode(this.received[this.offset] as number);
          const body = this.received.subarray(this.offset + 5, this.offset + 1 + length);
          this.offset += length + 1;
          return { type, body };
        }
      }
      if (this.isClosed) return undefined;
      if (!(await this.wait(deadline))) return undefined;
    }
  }

  /** Messages up to and including the first of type `type` (undefined if it never came). */
  async until(type: string, timeoutMs = 5000): Promise<WireMessage[] | undefined> {
    const deadline = Date.now() + timeoutMs;
    const seen: WireMessage[] = [];
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (!message) return undefined;
      seen.push(message);
      if (message.type === type) return seen;
    }
  }

  /** Whether the peer closed the socket within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    if (this.isClosed) return true;
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }

  /** Destroy the socket. */
  destroy(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// A Postgres for the pg tests

/** A started Postgres (trust auth) for a test file, with its temp root. */
export interface TestPostgres {
  env: RunEnvironment;
  stop(): Promise<void>;
}

/**
 * Start the embedded Postgres under a fresh temp root (mode 0755: the server may run as another
 * OS user), as `harness/postgres/embedded.pg.test.ts` does.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const root = await mkdtemp(path.join(tmpdir(), "faultline-proxy-test-"));
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  let env: RunEnvironment;
  try {
    env = await startEnvironment();
  } catch (error) {
    delete process.env.FAULTLINE_TMPDIR;
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    env,
    async stop() {
      await env.stop();
      delete process.env.FAULTLINE_TMPDIR;
      await rm(root, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Running the real Debian clients

/** What a finished child process left. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a program to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function run(
  program: string,
  args: string[],
  options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, PGCONNECT_TIMEOUT: "10", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        ms: Date.now() - started,
      });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

/** Poll `check` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A long-lived child that answers one JSON line on stdout for each line it is sent on stdin
 * (the Python pool scripts under testdata/). It must print one line once it is ready.
 */
export class LineChild {
  private readonly child: ChildProcess;
  private buffered = "";
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private stderrText = "";
  private exited = false;

  constructor(program: string, args: string[]) {
    this.child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8");
    this.child.stdout?.on("data", (text: string) => {
      this.buffered += text;
      for (let nl = this.buffered.indexOf("\n"); nl !== -1; nl = this.buffered.indexOf("\n")) {
        this.lines.push(this.buffered.slice(0, nl));
        this.buffered = this.buffered.slice(nl + 1);
      }
      this.waiter?.();
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (text: string) => {
      this.stderrText += text;
    });
    this.child.on("exit", () => {
      this.exited = true;
      this.waiter?.();
    });
    this.child.stdin?.on("error", () => {});
  }

  /** What the child wrote to stderr so far. */
  get stderr(): string {
    return this.stderrText;
  }

  /** The next line the child prints, parsed as JSON; throws on timeout or exit. */
  async read<T = unknown>(timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.exited) throw new Error(`child exited; stderr: ${this.stderrText}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms; stderr: ${this.stderrText}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return JSON.parse(this.lines.shift() as string) as T;
  }

  /** Send one command line and read the answer. */
  async ask<T = unknown>(command: string, timeoutMs?: number): Promise<T> {
    this.child.stdin?.write(`${command}\n`);
    return this.read<T>(timeoutMs);
  }

  /** Close stdin (the script ends its pool and exits); kill it if it lingers. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}
