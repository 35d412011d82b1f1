/** Builders for Postgres v3 wire bytes, frontend and backend messages, for the proxy's tests. */
import { CANCEL_REQUEST, GSSENC_REQUEST, PROTOCOL_3_0, SSL_REQUEST } from "../protocol.ts";

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
