/** Byte layouts of the Postgres v3 messages the proxy reads or writes. */
import { ProtocolError } from "./framing.ts";

/** Startup-phase request codes (the Int32 after the length). */
export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

const code = (c: string) => c.charCodeAt(0);

/** Message type bytes (frontend F, backend B). */
export const MSG = {
  query: code("Q"), // F
  parse: code("P"), // F
  bind: code("B"), // F
  describe: code("D"), // F; also B DataRow
  execute: code("E"), // F; also B ErrorResponse
  close: code("C"), // F; also B CommandComplete
  sync: code("S"), // F; also B ParameterStatus
  flush: code("H"), // F; also B CopyOutResponse
  terminate: code("X"), // F
  copyData: code("d"),
  copyDone: code("c"),
  copyFail: code("f"), // F
  parseComplete: code("1"), // B
  bindComplete: code("2"), // B
  closeComplete: code("3"), // B
  commandComplete: code("C"), // B
  dataRow: code("D"), // B
  errorResponse: code("E"), // B
  emptyQuery: code("I"), // B
  portalSuspended: code("s"), // B
  readyForQuery: code("Z"), // B
  backendKeyData: code("K"), // B
  notice: code("N"), // B
  notification: code("A"), // B
  parameterStatus: code("S"), // B
  rowDescription: code("T"), // B
  noData: code("n"), // B
  parameterDescription: code("t"), // B
  copyInResponse: code("G"), // B
  copyOutResponse: code("H"), // B
  copyBothResponse: code("W"), // B
  authentication: code("R"), // B
} as const;

/** Read a NUL-terminated string at `offset`; returns the string and the offset after the NUL. */
export function readCString(buf: Buffer, offset: number): [string, number] {
  // Unnamed statements and portals: most drivers' every message, worth no native call.
  if (buf[offset] === 0) return ["", offset + 1];
  const end = buf.indexOf(0, offset);
  if (end === -1) return [buf.toString("utf8", offset), buf.length];
  return [buf.toString("utf8", offset, end), end + 1];
}

/** The key/value parameters of a StartupMessage body (after the protocol version). */
export function startupParameters(body: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  let offset = 4;
  while (offset < body.length && body[offset] !== 0) {
    const [key, afterKey] = readCString(body, offset);
    const [value, afterValue] = readCString(body, afterKey);
    params[key] = value;
    offset = afterValue;
  }
  return params;
}

/**
 * The StartupMessage whose body (after the length) is `body`, as a whole packet with parameter
 * `key` set to `value`: every other parameter is kept in order byte for byte, `key` is added
 * before the terminator when absent, and the length is rebuilt. Throws ProtocolError for a body
 * that is not NUL-terminated pairs, as Postgres rejects it ("invalid startup packet layout").
 */
export function withStartupParameter(body: Buffer, key: string, value: string): Buffer {
  const parts: Buffer[] = [body.subarray(0, 4)];
  const replacement = Buffer.from(`${value}\0`, "utf8");
  let found = false;
  let offset = 4;
  for (;;) {
    if (offset >= body.length) throw new ProtocolError("invalid startup packet layout");
    if (body[offset] === 0) break;
    const keyEnd = body.indexOf(0, offset);
    const valueEnd = keyEnd === -1 ? -1 : body.indexOf(0, keyEnd + 1);
    if (valueEnd === -1) throw new ProtocolError("invalid startup packet layout");
    if (body.toString("utf8", offset, keyEnd) === key) {
      found = true;
      parts.push(body.subarray(offset, keyEnd + 1), replacement);
    } else {
      parts.push(body.subarray(offset, valueEnd + 1));
    }
    offset = valueEnd + 1;
  }
  if (offset !== body.length - 1) throw new ProtocolError("invalid startup packet layout");
  if (!found) parts.push(Buffer.from(`${key}\0`, "utf8"), replacement);
  parts.push(body.subarray(offset));
  let length = 4;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(length);
  out.writeInt32BE(length, 0);
  let at = 4;
  for (const part of parts) at += part.copy(out, at);
  return out;
}

function typed(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + 5);
  out[0] = type;
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

function cstrings(...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(`${p}\0`, "utf8")));
}

/** A simple-protocol Query message. */
export function queryMessage(sql: string): Buffer {
  return typed(MSG.query, cstrings(sql));
}

/** The statement name the proxy injects its own SQL under, so the client's unnamed one survives. */
export const INJECTED_STATEMENT = "faultline_injected";

/**
 * Close + Parse + Bind + Execute of `sql` under the proxy's own statement name (unnamed portal,
 * no parameters). The client's unnamed statement is left as it was; the Close first makes the
 * Parse succeed even when an earlier injection left the name in use.
 */
export function closeParseBindExecute(sql: string): Buffer {
  const close = typed(MSG.close, Buffer.concat([Buffer.from("S"), cstrings(INJECTED_STATEMENT)]));
  const parse = typed(
    MSG.parse,
    Buffer.concat([cstrings(INJECTED_STATEMENT, sql), Buffer.from([0, 0])]),
  );
  // portal "", our statement, 0 parameter formats, 0 parameters, 0 result formats
  const bind = typed(
    MSG.bind,
    Buffer.concat([cstrings("", INJECTED_STATEMENT), Buffer.from([0, 0, 0, 0, 0, 0])]),
  );
  const execute = typed(MSG.execute, Buffer.concat([cstrings(""), Buffer.from([0, 0, 0, 0])]));
  return Buffer.concat([close, parse, bind, execute]);
}

/** An ErrorResponse with severity, SQLSTATE and message. */
export function errorResponse(
  severity: "ERROR" | "FATAL",
  sqlstate: string,
  message: string,
): Buffer {
  const fields = Buffer.concat([
    Buffer.from("S"),
    cstrings(severity),
    Buffer.from("V"),
    cstrings(severity),
    Buffer.from("C"),
    cstrings(sqlstate),
    Buffer.from("M"),
    cstrings(message),
    Buffer.from([0]),
  ]);
  return typed(MSG.errorResponse, fields);
}

/** The fields of an ErrorResponse or NoticeResponse body, by their one-letter codes. */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const key = String.fromCharCode(body[offset] as number);
    const [value, next] = readCString(body, offset + 1);
    fields[key] = value;
    offset = next;
  }
  return fields;
}

/** Terminate: the message a client sends to end its session cleanly. */
export const TERMINATE_MESSAGE: Buffer = Buffer.from([MSG.terminate, 0, 0, 0, 4]);

/** A BackendKeyData message (protocol 3.0: 4-byte secret). */
export function backendKeyData(pid: number, secret: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(pid, 0);
  body.writeInt32BE(secret, 4);
  return typed(MSG.backendKeyData, body);
}

/** A CancelRequest packet. */
export function cancelRequest(pid: number, secret: number): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeInt32BE(16, 0);
  out.writeInt32BE(CANCEL_REQUEST, 4);
  out.writeInt32BE(pid, 8);
  out.writeInt32BE(secret, 12);
  return out;
}
