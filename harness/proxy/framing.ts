/**
 * Incremental framing of the Postgres v3 protocol, after node-postgres's pg-protocol: a reader
 * keeps its cursor across TCP chunks and hands out messages as views into the chunk they came
 * in (no copy), copying only the tail of a message split across reads.
 */

/** One framed message. `type` is 0 for the untyped startup-phase packets. */
export interface Frame {
  type: number;
  /** Whether this is an untyped startup-phase packet (a typed message may have type byte 0 too). */
  startup: boolean;
  /** The whole message: type byte (if any), length and body. A view, valid until the next push. */
  bytes: Buffer;
  /** The body after the length field. */
  body: Buffer;
}

/** The largest message faultline accepts; anything claiming more is a broken or hostile peer. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** Startup packets are small; Postgres itself caps them at 10000 bytes. */
export const MAX_STARTUP_BYTES = 10_000;

/** Raised for a stream that cannot be framed: the connection must be closed. */
export class ProtocolError extends Error {}

/**
 * A first packet whose length no startup packet has (a Terminate sent before the startup, a
 * port scanner): Postgres only logs "invalid length of startup packet" and closes, telling the
 * client nothing, and so does the proxy.
 */
export class StartupLengthError extends ProtocolError {}

/** Frames either untyped startup packets (`startup: true`) or typed messages. */
export class MessageReader {
  /** Whether the next message is an untyped startup-phase packet. */
  startup: boolean;
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;

  constructor(startup: boolean) {
    this.startup = startup;
  }

  /** Add bytes read from the socket. */
  push(chunk: Buffer): void {
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      // Only the unread tail of the previous chunk is copied.
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;
  }

  /** Bytes pushed but not yet framed. */
  get pending(): number {
    return this.buffer.length - this.offset;
  }

  /** The next whole message, or undefined until more bytes arrive. Throws ProtocolError. */
  next(): Frame | undefined {
    const available = this.buffer.length - this.offset;
    if (this.startup) {
      if (available < 4) return undefined;
      const length = this.buffer.readInt32BE(this.offset);
      if (length < 8 || length > MAX_STARTUP_BYTES)
        throw new StartupLengthError(`invalid startup packet length ${length}`);
      if (available < length) return undefined;
      const bytes = this.buffer.subarray(this.offset, this.offset + length);
      this.offset += length;
      return { type: 0, startup: true, bytes, body: bytes.subarray(4) };
    }
    if (available < 5) return undefined;
    const type = this.buffer[this.offset] as number;
    const length = this.buffer.readInt32BE(this.offset + 1);
    if (length < 4 || length > MAX_MESSAGE_BYTES) {
      throw new ProtocolError(
        `invalid length ${length} for message type ${JSON.stringify(String.fromCharCode(type))}`,
      );
    }
    if (available < length + 1) return undefined;
    const bytes = this.buffer.subarray(this.offset, this.offset + length + 1);
    this.offset += length + 1;
    return { type, startup: false, bytes, body: bytes.subarray(5) };
  }
}
