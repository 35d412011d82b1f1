/** Reading backend bytes off a raw socket, without the proxy's own framing code. */
import { connect, type Socket } from "node:net";

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
