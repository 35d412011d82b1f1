import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { embeddedPostgres } from "../harness/postgres/index.ts";
import { runCli } from "./cli.ts";

// The incident against the pre-hotfix service, on each kind of Postgres a team may match
// production with: the verdict must not depend on where Postgres runs.
const INCIDENT = [
  "run",
  "scenarios/credits-balance-missing.scenario.ts",
  "--service",
  "payments:broken",
];

const dockerRuns = (() => {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
})();
if (!dockerRuns && process.env.CI)
  throw new Error("CI must run the container provider end to end, but `docker info` failed");

describe("--postgres: the same cascade on every provider", () => {
  it("embedded:16, another major than the installed one", async () => {
    const run = await runCli([...INCIDENT, "--postgres", "embedded:16"]);
    expect(run.stdout).toMatch(/on embedded:16 Postgres 16\.\d+/);
    expect(run.stdout).toMatch(/noCascade: .*seen 5 × 25P02 in the server log/);
    expect(run.code).toBe(1);
  });

  it.runIf(dockerRuns)("container, through testcontainers on the local engine", async () => {
    const run = await runCli([...INCIDENT, "--postgres", "container"], {
      TESTCONTAINERS_RYUK_DISABLED: "true",
      TESTCONTAINERS_HOST_OVERRIDE: "localhost",
    });
    expect(run.stdout).toMatch(/on container Postgres 16\.\d+/);
    expect(run.stdout).toMatch(/noCascade: .*seen 5 × 25P02 in the server log/);
    expect(run.code).toBe(1);
  });

  it("url:, a server faultline did not start: judged from the proxy trace alone", async () => {
    await using server = await embeddedPostgres.start();
    const run = await runCli([...INCIDENT, "--postgres", `url:${server.urlFor("postgres")}`]);
    expect(run.stdout).toContain("evidence: proxy trace only");
    expect(run.stdout).toMatch(/noCascade: .*5 in the proxy trace/);
    expect(run.code).toBe(1);
    // Every database the run made is gone; the server's own are untouched.
    const left = execFileSync(
      "psql",
      [server.urlFor("postgres"), "-Atc", "SELECT datname FROM pg_database ORDER BY 1"],
      { encoding: "utf8" },
    );
    expect(left.trim().split("\n")).toEqual(["postgres", "template0", "template1"]);
  });

  it("url: refuses a server off this machine (exit 2) before connecting", async () => {
    const run = await runCli([...INCIDENT, "--postgres", "url:postgres://app@10.1.2.3:5432/app"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--allow-remote");
  });
});
