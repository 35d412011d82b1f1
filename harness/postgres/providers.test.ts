import { describe, expect, it } from "vitest";
import { BadUsageError, exitCodeFor, UnsafeDatabaseError } from "../errors.ts";
import { resolvePostgresProvider } from "./providers.ts";

function failure(spec: string, options?: { allowRemote?: boolean }): Error {
  try {
    resolvePostgresProvider(spec, options);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`${spec} was accepted`);
}

describe("resolvePostgresProvider", () => {
  it("names each provider after its spec", () => {
    expect(resolvePostgresProvider("embedded").name).toBe("embedded");
    expect(resolvePostgresProvider("embedded:16").name).toBe("embedded:16");
    expect(resolvePostgresProvider("embedded:18").name).toBe("embedded:18");
    expect(resolvePostgresProvider("container").name).toBe("container");
    expect(resolvePostgresProvider("container:postgres:17-alpine").name).toBe(
      "container:postgres:17-alpine",
    );
    expect(resolvePostgresProvider("url:postgres://me@127.0.0.1:5433/app").name).toBe("url");
    expect(resolvePostgresProvider("url:postgresql://me@localhost/app").name).toBe("url");
  });

  it("rejects unknown forms as bad usage (exit 2), naming the value and the accepted forms", () => {
    for (const spec of [
      "docker",
      "",
      "embedded:",
      "embedded:sixteen",
      "embedded:14",
      "container:",
      "container:bad image",
      "url:",
      "url:http://localhost/x",
      "url:not a url",
    ]) {
      const error = failure(spec);
      expect(error, spec).toBeInstanceOf(BadUsageError);
      expect(exitCodeFor(error)).toBe(2);
      expect(error.message).toContain("--postgres");
    }
    expect(failure("docker").message).toMatch(/"docker".*\n.*embedded.*\n.*embedded:<major>/s);
    expect(failure("embedded:14").message).toMatch(/14 .*accepted: 15, 16, 17, 18/);
    expect(failure("url:http://localhost/x").message).toContain("postgres://");
  });

  it("refuses a server off this machine before connecting, unless remote servers are allowed", () => {
    const error = failure("url:postgres://app:secret@10.1.2.3/x");
    expect(error).toBeInstanceOf(UnsafeDatabaseError);
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toContain("10.1.2.3");
    // The password never reaches a message.
    expect(error.message).not.toContain("secret");
    expect(resolvePostgresProvider("url:postgres://10.1.2.3/x", { allowRemote: true }).name).toBe(
      "url",
    );
  });
});
