import { describe, expect, it } from "vitest";
import { UnsafeDatabaseError } from "../errors.ts";
import { isLoopback, startEnvironment } from "./environment.ts";
import type { PostgresProvider } from "./provider.ts";
import { ServerLog } from "./server-log.ts";

describe("loopback guard", () => {
  it("knows loopback names and addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "localhost", "::1"])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ["10.0.0.5", "db.internal", "192.168.1.2", "1127.0.0.1"])
      expect(isLoopback(host), host).toBe(false);
  });

  it("refuses, and stops, a server that is not on loopback", async () => {
    let stopped = false;
    // A provider that claims a remote host: the guard must refuse before any database is made.
    const remote: PostgresProvider = {
      name: "remote",
      async start() {
        const stop = async () => {
          stopped = true;
        };
        return {
          host: "10.1.2.3",
          port: 5432,
          user: "postgres",
          version: "0",
          serverLog: new ServerLog("/nonexistent"),
          oracle: "server log",
          urlFor: (db: string) => `postgres://postgres@10.1.2.3:5432/${db}`,
          stop,
          [Symbol.asyncDispose]: stop,
        };
      },
    };
    await expect(startEnvironment({ provider: remote })).rejects.toBeInstanceOf(
      UnsafeDatabaseError,
    );
    expect(stopped).toBe(true);
  });
});
