import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { formatServerError, ServerLog } from "./server-log.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function logFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "faultline-log-test-"));
  dirs.push(dir);
  return path.join(dir, "server.json");
}

const cascade = {
  timestamp: "2026-11-27 15:00:00.123 UTC",
  dbname: "fl_a",
  pid: 42,
  session_id: "abc.2a",
  error_severity: "ERROR",
  state_code: "25P02",
  message: "current transaction is aborted, commands ignored until end of transaction block",
  statement: "SELECT id\n  FROM users WHERE email = $1",
};

describe("ServerLog", () => {
  it("keeps a line split across reads until its end arrives", async () => {
    const file = await logFile();
    const line = JSON.stringify(cascade);
    const log = new ServerLog(file);
    await appendFile(file, line.slice(0, 17));
    await log.refresh();
    expect(log.entries).toHaveLength(0);
    await appendFile(file, `${line.slice(17)}\n`);
    await log.refresh();
    expect(log.entries).toHaveLength(1);
    expect(log.errors()[0]?.sqlstate).toBe("25P02");
  });

  it("filters errors by database and ignores LOG lines", async () => {
    const file = await logFile();
    const other = { ...cascade, dbname: "fl_b", state_code: "42703" };
    const info = { ...cascade, error_severity: "LOG", state_code: "00000" };
    await appendFile(file, `${[cascade, other, info].map((e) => JSON.stringify(e)).join("\n")}\n`);
    const log = new ServerLog(file);
    await log.refresh();
    expect(log.errors().map((e) => e.sqlstate)).toEqual(["25P02", "42703"]);
    expect(log.errors({ database: "fl_b" }).map((e) => e.sqlstate)).toEqual(["42703"]);
  });

  it("parses the server's timestamp and renders one line of evidence", async () => {
    const file = await logFile();
    await appendFile(file, `${JSON.stringify(cascade)}\n`);
    const log = new ServerLog(file);
    await log.refresh();
    const [error] = log.errors();
    if (!error) throw new Error("expected one error");
    expect(error.at.toISOString()).toBe("2026-11-27T15:00:00.123Z");
    expect(formatServerError(error)).toContain("25P02: current transaction is aborted");
    expect(formatServerError(error)).toContain("statement: SELECT id FROM users WHERE email = $1");
  });
});
