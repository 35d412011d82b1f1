import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  type RunEnvironment,
  type ScenarioDatabase,
  startEnvironment,
} from "../harness/postgres/index.ts";
import { runCli, startCli } from "./cli.ts";

const exec = promisify(execFile);
let dir: string;
let env: RunEnvironment;
let db: ScenarioDatabase;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-proxy-cli-"));
  await chmod(dir, 0o755);
  process.env.FAULTLINE_TMPDIR = dir;
  env = await startEnvironment();
  db = await env.databases.create("proxy cli", []);
});
afterAll(async () => {
  await env?.stop();
  delete process.env.FAULTLINE_TMPDIR;
  await rm(dir, { recursive: true, force: true });
});

describe("faultline proxy", () => {
  it("puts SQL-aware faults in front of a real Postgres for psql, prints them, and traces", async () => {
    const rules = path.join(dir, "rules.json");
    const trace = path.join(dir, "trace.ndjson");
    await writeFile(
      rules,
      JSON.stringify({
        seed: 7,
        rules: [
          {
            name: "credits-column-gone",
            match: { sql: "credits_balance", inTransaction: true, nth: 1 },
            fault: {
              type: "sqlError",
              sqlstate: "42703",
              message: "column users.credits_balance does not exist",
            },
          },
        ],
      }),
    );
    const port = await freePort();
    const upstream = `postgres://${env.server.host}:${env.server.port}`;
    const { child, done, output, untilOutput } = startCli([
      "proxy",
      "--upstream",
      upstream,
      "--listen",
      `127.0.0.1:${port}`,
      "--rules",
      rules,
      "--trace",
      trace,
    ]);
    await untilOutput("listening on");
    expect(output()).toContain(`listening on 127.0.0.1:${port}`);

    const psql = await exec("psql", [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      db.name,
      "-v",
      "ON_ERROR_STOP=0",
      "-Atc",
      "SELECT 40 + 2",
    ]);
    expect(psql.stdout.trim()).toBe("42");
    const session = await exec("psql", [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-U",
      "postgres",
      "-d",
      db.name,
      "-At",
      "-c",
      "BEGIN",
      "-c",
      "SELECT credits_balance FROM users",
      "-c",
      "SELECT 1",
      "-c",
      "ROLLBACK",
      "-c",
      "SELECT 'after'",
    ]).catch((error: { stdout: string; stderr: string }) => error);
    expect(session.stderr).toContain("column users.credits_balance does not exist");
    expect(session.stderr).toContain("current transaction is aborted");
    expect(session.stdout).toContain("after");

    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(0);
    expect(output()).toContain('fault: rule "credits-column-gone" (sqlError 42703');
    const lines = (await readFile(trace, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const failed = lines.find((l) => l.rule === "credits-column-gone");
    expect(failed?.result).toEqual({
      sqlstate: "42703",
      message: "column users.credits_balance does not exist",
    });
    expect(failed?.tx).toBe("E");
    expect(lines.find((l) => l.sql === "SELECT ?" && l.tx === "E")?.result.sqlstate).toBe("25P02");
  });

  it("rejects a rules file with the rule and the field named, and a remote upstream", async () => {
    const rules = path.join(dir, "bad.json");
    await writeFile(
      rules,
      JSON.stringify({
        rules: [{ name: "typo", match: { sqll: "x" }, fault: { type: "latency", ms: 5 } }],
      }),
    );
    const bad = await runCli([
      "proxy",
      "--upstream",
      "postgres://127.0.0.1:5432",
      "--rules",
      rules,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('rule "typo" (rules[0]) field "match.sqll": unknown field');
    const notJson = path.join(dir, "not.json");
    await writeFile(notJson, "{ rules: ");
    expect(
      (await runCli(["proxy", "--upstream", "postgres://127.0.0.1:5432", "--rules", notJson]))
        .stderr,
    ).toContain("is not valid JSON");
    const remote = await runCli(["proxy", "--upstream", "postgres://10.9.8.7:5432"]);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain("--allow-remote-upstream");
  });
});
