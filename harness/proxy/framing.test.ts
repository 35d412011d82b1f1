import { describe, expect, it } from "vitest";
import {
  type Frame,
  MAX_MESSAGE_BYTES,
  MAX_STARTUP_BYTES,
  MessageReader,
  ProtocolError,
} from "./framing.ts";
import {
  bind,
  cancelRequestPacket,
  commandComplete,
  copyData,
  dataRow,
  errorMessage,
  execute,
  gssEncRequest,
  header,
  parse,
  query,
  readyForQuery,
  sslRequest,
  startupMessage,
  sync,
  terminate,
  untypedPacket,
} from "./testing/index.ts";

interface Plain {
  type: number;
  bytes: string;
  body: string;
}

// Frames are views valid until the next push: copy them out as they come.
function plain(frame: Frame): Plain {
  return { type: frame.type, bytes: frame.bytes.toString("hex"), body: frame.body.toString("hex") };
}

function drain(reader: MessageReader, out: Plain[]): void {
  for (let f = reader.next(); f; f = reader.next()) out.push(plain(f));
}

function feed(chunks: Buffer[], startup = false): Plain[] {
  const reader = new MessageReader(startup);
  const out: Plain[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    drain(reader, out);
  }
  expect(reader.pending).toBe(0);
  return out;
}

const frontend = [
  query("SELECT 1"),
  parse("s1", "SELECT $1::int", [23]),
  bind("", "s1", ["42"]),
  execute(),
  sync(),
  copyData(Buffer.alloc(300, 7)),
  query(""),
  terminate(),
];
const backend = [
  commandComplete("SELECT 1"),
  dataRow(["1", null, "é"]),
  errorMessage("ERROR", "42703", 'column "credits_balance" does not exist'),
  readyForQuery("E"),
];
const stream = Buffer.concat([...frontend, ...backend]);

function expected(messages: Buffer[]): Plain[] {
  return messages.map((m) => ({
    type: m[0] as number,
    bytes: m.toString("hex"),
    body: m.subarray(5).toString("hex"),
  }));
}

describe("MessageReader, typed messages", () => {
  it("frames a stream of several messages pushed whole", () => {
    expect(feed([stream])).toEqual(expected([...frontend, ...backend]));
  });

  it("yields the same frames when the stream is split at every byte position", () => {
    const want = expected([...frontend, ...backend]);
    for (let at = 0; at <= stream.length; at++) {
      const got = feed([stream.subarray(0, at), stream.subarray(at)]);
      expect(got, `split at ${at}`).toEqual(want);
    }
  });

  it("yields the same frames when split at every pair of positions", () => {
    const small = Buffer.concat([query("SELECT 1"), sync(), readyForQuery("I")]);
    const want = expected([query("SELECT 1"), sync(), readyForQuery("I")]);
    for (let a = 0; a <= small.length; a++) {
      for (let b = a; b <= small.length; b++) {
        const got = feed([small.subarray(0, a), small.subarray(a, b), small.subarray(b)]);
        expect(got, `split at ${a} and ${b}`).toEqual(want);
      }
    }
  });

  it("yields the same frames when fed one byte at a time", () => {
    const chunks = [...stream].map((byte) => Buffer.from([byte]));
    expect(feed(chunks)).toEqual(expected([...frontend, ...backend]));
  });

  it("returns undefined for an incomplete message and keeps it pending", () => {
    const reader = new MessageReader(false);
    const message = query("SELECT 1");
    reader.push(message.subarray(0, 4));
    expect(reader.next()).toBeUndefined();
    expect(reader.pending).toBe(4);
    reader.push(message.subarray(4, message.length - 1));
    expect(reader.next()).toBeUndefined();
    expect(reader.pending).toBe(message.length - 1);
    reader.push(message.subarray(message.length - 1));
    expect(reader.next()?.bytes.equals(message)).toBe(true);
    expect(reader.pending).toBe(0);
  });

  it("accepts an empty body (length 4)", () => {
    const reader = new MessageReader(false);
    reader.push(sync());
    const frame = reader.next();
    expect(frame?.type).toBe("S".charCodeAt(0));
    expect(frame?.body.length).toBe(0);
  });

  it.each([
    ["zero", 0],
    ["three (less than the length field itself)", 3],
    ["negative", -1],
    ["most negative", -(2 ** 31)],
    ["one over the maximum", MAX_MESSAGE_BYTES + 1],
  ])("throws ProtocolError for a %s length", (_name, length) => {
    const reader = new MessageReader(false);
    reader.push(header("Q", length));
    expect(() => reader.next()).toThrow(ProtocolError);
    expect(() => reader.next()).toThrow(/invalid length/);
  });

  it("throws on a bad length that follows good messages, after yielding them", () => {
    const reader = new MessageReader(false);
    reader.push(Buffer.concat([query("SELECT 1"), sync(), header("Q", 2)]));
    expect(reader.next()?.type).toBe("Q".charCodeAt(0));
    expect(reader.next()?.type).toBe("S".charCodeAt(0));
    expect(() => reader.next()).toThrow(ProtocolError);
  });

  it("waits (does not throw) for a large but allowed length", () => {
    const reader = new MessageReader(false);
    reader.push(header("d", MAX_MESSAGE_BYTES));
    expect(reader.next()).toBeUndefined();
  });
});

describe("MessageReader, startup packets", () => {
  const packets = [
    sslRequest(),
    gssEncRequest(),
    startupMessage({ user: "postgres", database: "db", application_name: "ü" }),
  ];

  it("frames untyped startup packets with type 0 and the body after the length", () => {
    const reader = new MessageReader(true);
    reader.push(Buffer.concat(packets));
    const frames: Plain[] = [];
    drain(reader, frames);
    expect(frames).toEqual(
      packets.map((p) => ({
        type: 0,
        bytes: p.toString("hex"),
        body: p.subarray(4).toString("hex"),
      })),
    );
  });

  it("frames a startup packet split at every byte position", () => {
    const all = Buffer.concat(packets);
    const want = packets.map((p) => ({
      type: 0,
      bytes: p.toString("hex"),
      body: p.subarray(4).toString("hex"),
    }));
    for (let at = 0; at <= all.length; at++) {
      expect(feed([all.subarray(0, at), all.subarray(at)], true), `split at ${at}`).toEqual(want);
    }
  });

  it("switches to typed messages in the same buffer once told startup is over", () => {
    const startup = startupMessage({ user: "postgres" });
    const rest = Buffer.concat([query("SELECT 1"), sync()]);
    const reader = new MessageReader(true);
    reader.push(Buffer.concat([startup, rest]));
    expect(reader.next()?.type).toBe(0);
    reader.startup = false;
    expect(reader.next()?.type).toBe("Q".charCodeAt(0));
    expect(reader.next()?.type).toBe("S".charCodeAt(0));
    expect(reader.next()).toBeUndefined();
  });

  it("frames a CancelRequest", () => {
    const reader = new MessageReader(true);
    const packet = cancelRequestPacket(1234, 5678);
    reader.push(packet);
    const frame = reader.next();
    expect(frame?.bytes.equals(packet)).toBe(true);
    expect(frame?.body.readInt32BE(4)).toBe(1234);
    expect(frame?.body.readInt32BE(8)).toBe(5678);
  });

  it.each([
    ["zero", 0],
    ["seven (shorter than the smallest packet)", 7],
    ["negative", -8],
    ["one over the startup maximum", MAX_STARTUP_BYTES + 1],
    ["huge", 0x7fffffff],
  ])("throws ProtocolError for a %s startup length", (_name, length) => {
    const reader = new MessageReader(true);
    const head = Buffer.alloc(8);
    head.writeInt32BE(length, 0);
    reader.push(head);
    expect(() => reader.next()).toThrow(ProtocolError);
  });

  it("throws for ASCII garbage where a startup packet should be (an HTTP request)", () => {
    const reader = new MessageReader(true);
    reader.push(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect(() => reader.next()).toThrow(ProtocolError);
  });

  it("accepts a startup packet of exactly the maximum length", () => {
    const reader = new MessageReader(true);
    const packet = untypedPacket(Buffer.alloc(MAX_STARTUP_BYTES - 4));
    reader.push(packet);
    expect(reader.next()?.bytes.length).toBe(MAX_STARTUP_BYTES);
  });
});

// Small Buffers share Node's allocation pool; a chunk in its own ArrayBuffer makes "same memory"
// checkable.
function own(bytes: Buffer): Buffer {
  const out = Buffer.from(new ArrayBuffer(bytes.length));
  bytes.copy(out);
  return out;
}

describe("MessageReader, zero copy", () => {
  it("hands out views into the pushed chunk when messages arrive whole", () => {
    const chunk = own(Buffer.concat([query("SELECT 1"), parse("", "SELECT 2"), sync()]));
    const reader = new MessageReader(false);
    reader.push(chunk);
    const frames: Frame[] = [];
    for (let f = reader.next(); f; f = reader.next()) frames.push(f);
    expect(frames).toHaveLength(3);
    let offset = 0;
    for (const f of frames) {
      expect(f.bytes.buffer).toBe(chunk.buffer);
      expect(f.bytes.byteOffset).toBe(offset);
      expect(f.body.buffer).toBe(chunk.buffer);
      expect(f.body.byteOffset).toBe(offset + 5);
      offset += f.bytes.length;
    }
    expect(offset).toBe(chunk.length);
    // Same memory: a change to the chunk shows through the frame.
    chunk[5] = "X".charCodeAt(0);
    expect(frames[0]?.body.toString("latin1", 0, 1)).toBe("X");
  });

  it("uses the next chunk itself (no copy) once the previous one was read to its end", () => {
    const reader = new MessageReader(false);
    const first = own(query("SELECT 1"));
    reader.push(first);
    expect(reader.next()?.bytes.buffer).toBe(first.buffer);
    const second = own(Buffer.concat([query("SELECT 2"), sync()]));
    reader.push(second);
    const frame = reader.next();
    expect(frame?.bytes.buffer).toBe(second.buffer);
    expect(frame?.bytes.byteOffset).toBe(0);
  });

  it("copies only when a message was split across chunks", () => {
    const message = query("SELECT 1");
    const reader = new MessageReader(false);
    const a = own(message.subarray(0, 3));
    const b = own(Buffer.concat([message.subarray(3), sync()]));
    reader.push(a);
    expect(reader.next()).toBeUndefined();
    reader.push(b);
    const frame = reader.next();
    expect(frame?.bytes.equals(message)).toBe(true);
    expect(frame?.bytes.buffer).not.toBe(a.buffer);
    expect(frame?.bytes.buffer).not.toBe(b.buffer);
    expect(reader.next()?.type).toBe("S".charCodeAt(0));
  });
});
