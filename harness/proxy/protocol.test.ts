import { describe, expect, it } from "vitest";
import { MessageReader, ProtocolError } from "./framing.ts";
import { PROTOCOL_3_0, startupParameters, withStartupParameter } from "./protocol.ts";
import { query, sslRequest, startupMessage, untypedPacket } from "./testing/index.ts";

/** The body (after the length) of a startup packet, as the proxy's reader hands it out. */
function bodyOf(packet: Buffer): Buffer {
  return packet.subarray(4);
}

describe("withStartupParameter (routing a connection to another database)", () => {
  const params = {
    user: "app_user",
    database: "app",
    application_name: "next-server",
    client_encoding: "UTF8",
    options: "-c statement_timeout=5000",
  };

  it("replaces the database and keeps every other parameter, in order, byte for byte", () => {
    const rewritten = withStartupParameter(
      bodyOf(startupMessage(params)),
      "database",
      "fl_scenario_2",
    );
    expect(rewritten).toEqual(startupMessage({ ...params, database: "fl_scenario_2" }));
    expect(rewritten.readInt32BE(0)).toBe(rewritten.length);
    expect(rewritten.readInt32BE(4)).toBe(PROTOCOL_3_0);
    expect(Object.entries(startupParameters(bodyOf(rewritten)))).toEqual(
      Object.entries({ ...params, database: "fl_scenario_2" }),
    );
  });

  it("adds the database before the terminator when the client named none (Postgres would use the user)", () => {
    const rewritten = withStartupParameter(
      bodyOf(startupMessage({ user: "postgres", application_name: "psql" })),
      "database",
      "b",
    );
    expect(rewritten).toEqual(
      startupMessage({ user: "postgres", application_name: "psql", database: "b" }),
    );
  });

  it("counts bytes, not characters, when the name is not ASCII", () => {
    const rewritten = withStartupParameter(
      bodyOf(startupMessage({ user: "u", database: "a" })),
      "database",
      "données_é",
    );
    expect(rewritten.readInt32BE(0)).toBe(rewritten.length);
    expect(startupParameters(bodyOf(rewritten)).database).toBe("données_é");
  });

  it("replaces every copy of a repeated parameter", () => {
    const version = Buffer.alloc(4);
    version.writeInt32BE(PROTOCOL_3_0, 0);
    const twice = untypedPacket(version, Buffer.from("database\0a\0user\0u\0database\0b\0\0"));
    const rewritten = withStartupParameter(bodyOf(twice), "database", "c");
    expect(bodyOf(rewritten).toString("latin1")).toBe(
      `${version.toString("latin1")}database\0c\0user\0u\0database\0c\0\0`,
    );
  });

  it("rejects a body that is not NUL-terminated pairs, as Postgres does", () => {
    const version = Buffer.alloc(4);
    version.writeInt32BE(PROTOCOL_3_0, 0);
    for (const tail of ["user\0u", "user\0u\0", "user\0u\0\0x", "user", ""]) {
      const body = Buffer.concat([version, Buffer.from(tail, "latin1")]);
      expect(() => withStartupParameter(body, "database", "b"), JSON.stringify(tail)).toThrow(
        ProtocolError,
      );
    }
  });

  it("frames the rewritten packet (after an SSLRequest, before a Query) split at every byte", () => {
    const rewritten = withStartupParameter(bodyOf(startupMessage(params)), "database", "b");
    const stream = Buffer.concat([sslRequest(), rewritten, query("SELECT 1")]);
    const want = [sslRequest(), rewritten, query("SELECT 1")].map((b) => b.toString("hex"));
    const framesOf = (chunks: Buffer[]): string[] => {
      const reader = new MessageReader(true);
      const out: string[] = [];
      for (const chunk of chunks) {
        reader.push(chunk);
        for (let frame = reader.next(); frame; frame = reader.next()) {
          out.push(frame.bytes.toString("hex"));
          // After the StartupMessage (not the SSLRequest) the protocol switches to typed messages.
          if (frame.startup && frame.body.readInt32BE(0) === PROTOCOL_3_0) reader.startup = false;
        }
      }
      expect(reader.pending).toBe(0);
      return out;
    };
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(framesOf([stream.subarray(0, cut), stream.subarray(cut)]), `cut at ${cut}`).toEqual(
        want,
      );
    }
    const bytes = [...stream].map((b) => Buffer.from([b]));
    expect(framesOf(bytes)).toEqual(want);
  });
});
