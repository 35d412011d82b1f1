#!/usr/bin/env -S npx tsx
/**
 * Is `faultline proxy` (no rules) transparent? Proven with test suites nobody here wrote: the
 * drivers' own. Each suite runs against one Postgres 15 (the machine's, /usr/lib/postgresql/15)
 * directly and through `faultline proxy` (the real CLI, its own process), round after round, and
 * every test that passes directly must pass through the proxy. TLS is aside: the proxy speaks
 * plain text and answers an SSLRequest "N" by design, so a test that needs TLS and passes only
 * directly is listed as excluded, not as a difference (so is one that dials a Unix socket: the
 * proxy listens on TCP). The server has a self-signed certificate
 * so those tests do pass directly (otherwise they would fail both ways and hide nothing).
 *
 * Suites (each needs its checkout on disk; this script fetches and installs nothing):
 *  - node-postgres (`--node-postgres DIR`, the monorepo with `npm install` done):
 *    packages/pg/test/integration (each *-tests.js file run by node, as its Makefile does),
 *    packages/pg-cursor, packages/pg-query-stream and packages/pg-pool (mocha, JSON reporter);
 *  - postgres-js (`--postgres-js DIR`): tests/index.js, run from a copy in a temp dir whose
 *    tests/test.js is changed in one place only, so that a failure does not skip every later
 *    test (upstream's harness stops at the first failure, which would make a difference
 *    invisible behind another).
 *
 * Printed: per suite, tests run, passed directly, passed through the proxy, wall time both ways
 * (median of the rounds); then every test that passed directly and failed through the proxy,
 * with the rounds it failed in. Exit 0: no difference; 1: a difference; 2: bad usage (no suite
 * to run, a checkout that is not there); 3: Postgres or the proxy would not start.
 *
 * Usage: npx tsx scripts/peer-suites.ts --node-postgres /path/node-postgres \
 *          --postgres-js /path/postgres [--rounds 2] [--suite pg,postgres-js,...]
 * Not part of `npm test` (the suites are other projects' code, and take minutes).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chown, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { killQuietly, onExit } from "../harness/lifecycle/index.ts";
import { freePort, resolveRunAs } from "../harness/postgres/index.ts";
import { median } from "./bench/format.ts";

const SUITES = ["pg", "pg-cursor", "pg-query-stream", "pg-pool", "postgres-js"] as const;
type SuiteName = (typeof SUITES)[number];

/**
 * Tests that cannot pass through any TCP proxy that speaks plain text, by design, with the
 * reason printed beside them: they are reported apart when they pass only directly.
 *  - TLS: the proxy answers an SSLRequest "N";
 *  - a Unix socket: the proxy listens on TCP; the test dials PGSOCKET's .s.PGSQL.<port>, which
 *    for the proxy's port does not exist.
 */
const EXCLUDED: Record<SuiteName, { reason: string; tests: RegExp[] }[]> = {
  // Whole files about TLS: their other tests (and the file's exit) fall with the first.
  pg: [
    {
      reason: "needs TLS",
      tests: [
        /^client\/ssl-tests\.js /,
        /^gh-issues\/2085-tests\.js /,
        /can connect with ssl/i,
        /direct ?ssl/i,
      ],
    },
  ],
  "pg-cursor": [],
  "pg-query-stream": [],
  "pg-pool": [],
  "postgres-js": [
    { reason: "needs TLS", tests: [/^Connect using SSL/, /^Reconnect using SSL/] },
    { reason: "a Unix socket; the proxy listens on TCP", tests: [/^Unix socket /] },
  ],
};

function exclusion(suite: SuiteName, test: string): string | undefined {
  return EXCLUDED[suite].find((e) => e.tests.some((re) => re.test(test)))?.reason;
}

const { values: argv } = parseArgs({
  options: {
    "node-postgres": { type: "string" },
    "postgres-js": { type: "string" },
    rounds: { type: "string" },
    suite: { type: "string" },
    "pg-bin": { type: "string" },
    "keep-output": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const USAGE =
  "usage: npx tsx scripts/peer-suites.ts [--node-postgres DIR] [--postgres-js DIR] [--rounds 2] [--suite pg,pg-cursor,pg-query-stream,pg-pool,postgres-js] [--pg-bin /usr/lib/postgresql/15/bin] [--keep-output DIR]";
if (argv.help) {
  console.log(USAGE);
  process.exit(0);
}

function usageError(message: string): never {
  console.error(`peer-suites: ${message}\n${USAGE}`);
  process.exit(2);
}

// Relative paths are taken from where the user stands, once: every suite runs with its own cwd.
const nodePostgresDir = argv["node-postgres"] ? path.resolve(argv["node-postgres"]) : undefined;
const postgresJsDir = argv["postgres-js"] ? path.resolve(argv["postgres-js"]) : undefined;
/** Where each suite run's stdout and stderr are kept, when asked (else only their last lines). */
const keepOutput = argv["keep-output"] ? path.resolve(argv["keep-output"]) : undefined;
const pgBin = path.resolve(argv["pg-bin"] ?? "/usr/lib/postgresql/15/bin");
const rounds = argv.rounds === undefined ? 2 : Number(argv.rounds);
if (!Number.isInteger(rounds) || rounds <= 0)
  usageError(`--rounds must be a positive integer, got ${JSON.stringify(argv.rounds)}`);

const wanted = new Set<SuiteName>();
for (const name of argv.suite ? argv.suite.split(",").map((s) => s.trim()) : SUITES) {
  if (!(SUITES as readonly string[]).includes(name))
    usageError(
      `--suite: unknown suite ${JSON.stringify(name)}; expected one of ${SUITES.join(", ")}`,
    );
  wanted.add(name as SuiteName);
}
if (nodePostgresDir) {
  for (const sub of ["packages/pg/test/integration", "node_modules"])
    if (!existsSync(path.join(nodePostgresDir, sub)))
      usageError(
        `--node-postgres ${nodePostgresDir}: no ${sub} (a node-postgres checkout with \`npm install\` done is expected)`,
      );
}
if (postgresJsDir && !existsSync(path.join(postgresJsDir, "tests", "test.js")))
  usageError(
    `--postgres-js ${postgresJsDir}: no tests/test.js (a postgres-js checkout is expected)`,
  );
for (const name of [...wanted]) {
  const dir = name === "postgres-js" ? postgresJsDir : nodePostgresDir;
  if (!dir) wanted.delete(name);
}
if (wanted.size === 0)
  usageError("nothing to run: give --node-postgres and/or --postgres-js (checkouts on disk)");
if (!existsSync(path.join(pgBin, "initdb")))
  usageError(`--pg-bin ${pgBin}: no initdb there (Debian: apt-get install postgresql-15)`);

// ---------------------------------------------------------------------------------------------
// Cleanup: whatever ends the run, no Postgres, proxy, suite process or temp dir stays.

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let stopPostgres: (() => void) | undefined;
function cleanupNow(): void {
  for (const child of children) killQuietly(child.pid, "SIGKILL", true);
  stopPostgres?.();
  for (const dir of tempDirs) {
    try {
      execFileSync("rm", ["-rf", dir]);
    } catch {}
  }
}
onExit(cleanupNow);
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    cleanupNow();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });

function infrastructure(message: string): never {
  console.error(`peer-suites: ${message}`);
  cleanupNow();
  process.exit(3);
}

/** Everything the current suite run printed, for --keep-output. */
let outputs: string[] = [];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Ran> {
  return new Promise((resolve) => {
    // Its own process group, so a timeout takes the suite's children down with it.
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killQuietly(child.pid, "SIGKILL", true);
    }, options.timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      outputs.push(
        `$ ${cmd} ${args.join(" ")}  (cwd ${options.cwd}, exit ${code})\n${stdout}\n--- stderr\n${stderr}\n`,
      );
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Postgres 15, with the roles, authentication methods and TLS the suites expect.

interface Server {
  port: number;
  socketDir: string;
}

async function startServer(): Promise<Server> {
  const runAs = await resolveRunAs();
  const root = await mkdtemp(path.join(os.tmpdir(), "faultline-peers-"));
  tempDirs.add(root);
  const data = path.join(root, "data");
  const socketDir = path.join(root, "sock");
  await mkdir(socketDir);
  if (runAs.uid !== undefined) {
    await chown(root, runAs.uid, runAs.gid ?? runAs.uid);
    await chown(socketDir, runAs.uid, runAs.gid ?? runAs.uid);
  }
  const as = { uid: runAs.uid, gid: runAs.gid };
  const pgRun = (bin: string, args: string[]) =>
    execFileSync(path.join(pgBin, bin), args, { ...as, stdio: "pipe", cwd: root });
  try {
    pgRun("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "2",
        "-keyout",
        path.join(data, "server.key"),
        "-out",
        path.join(data, "server.crt"),
      ],
      { ...as, stdio: "pipe" },
    );
  } catch (error) {
    infrastructure(`initdb/openssl failed: ${(error as { stderr?: Buffer }).stderr ?? error}`);
  }
  const port = await freePort();
  await writeFile(
    path.join(data, "postgresql.auto.conf"),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${socketDir}'`,
      "max_connections = 200",
      "ssl = on",
      // Both projects' own CI: postgres-js tests logical replication and two-phase commit.
      "wal_level = logical",
      "max_prepared_transactions = 100",
      "fsync = off",
      "",
    ].join("\n"),
  );
  // postgres-js's suite logs in as an md5 user and a SCRAM user; everyone else is trusted.
  await writeFile(
    path.join(data, "pg_hba.conf"),
    [
      "local all all trust",
      "host all postgres_js_test_md5 127.0.0.1/32 md5",
      "host all postgres_js_test_scram 127.0.0.1/32 scram-sha-256",
      "host all scram_test 127.0.0.1/32 scram-sha-256",
      "host all scram_unicode_test 127.0.0.1/32 scram-sha-256",
      "host replication all 127.0.0.1/32 trust",
      "host all all 127.0.0.1/32 trust",
      "",
    ].join("\n"),
  );
  if (runAs.uid !== undefined)
    for (const f of ["postgresql.auto.conf", "pg_hba.conf"])
      await chown(path.join(data, f), runAs.uid, runAs.gid ?? runAs.uid);
  try {
    pgRun("pg_ctl", ["-D", data, "-l", path.join(root, "postgres.log"), "-w", "start"]);
  } catch (error) {
    const log = existsSync(path.join(root, "postgres.log"))
      ? readFileSync(path.join(root, "postgres.log"), "utf8")
      : "";
    infrastructure(`Postgres would not start: ${(error as Error).message}\n${log.slice(-2000)}`);
  }
  stopPostgres = () => {
    try {
      pgRun("pg_ctl", ["-D", data, "-m", "immediate", "stop"]);
    } catch {}
    stopPostgres = undefined;
  };
  return { port, socketDir };
}

// ---------------------------------------------------------------------------------------------
// The proxy, as users run it.

const CLI = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  "..",
  "bin",
  "faultline.mjs",
);

async function startProxy(upstreamPort: number): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [CLI, "proxy", "--upstream", `postgres://127.0.0.1:${upstreamPort}`, "--listen", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const found = /listening on [^:\s]+:(\d+)/.exec(out);
      if (found) resolve(Number(found[1]));
    });
    child.once("exit", (code) => reject(new Error(`faultline proxy exited (${code}): ${stderr}`)));
  }).catch((error: Error) => infrastructure(error.message));
  return {
    port,
    stop: () => {
      killQuietly(child.pid, "SIGTERM");
      children.delete(child);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Running a suite: the outcome of every test by name.

type Outcome = "pass" | "fail";
interface SuiteRun {
  outcomes: Map<string, Outcome>;
  wallMs: number;
  /** Why the run as a whole went wrong (a crash, a timeout), when it did. */
  problems: string[];
  /** The suite's process died before its end (tests after the crash never ran). */
  crashed?: boolean;
}

function pgEnv(port: number, socketDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
    PGUSER: "postgres",
    PGDATABASE: "postgres",
    PGSOCKET: socketDir,
    // node-postgres's CI names its SCRAM users so; the roles are made in prepareRoles.
    SCRAM_TEST_PGUSER: "scram_test",
    SCRAM_TEST_PGPASSWORD: "test4scram",
    SCRAM_TEST_PGUSER_UNICODE: "scram_unicode_test",
    SCRAM_TEST_PGPASSWORD_UNICODE: "IX-\u2168",
  };
}

function filesUnder(dir: string, suffix: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) found.push(...filesUnder(full, suffix));
    else if (entry.endsWith(suffix)) found.push(full);
  }
  return found.sort();
}

/** packages/pg/test/integration: one node process per file; the file stops at its first failure. */
async function runPgIntegration(env: NodeJS.ProcessEnv): Promise<SuiteRun> {
  const pkg = path.join(nodePostgresDir as string, "packages", "pg");
  const integration = path.join(pkg, "test", "integration");
  const outcomes = new Map<string, Outcome>();
  const problems: string[] = [];
  const started = Date.now();
  for (const file of filesUnder(integration, "-tests.js")) {
    const rel = path.relative(integration, file);
    const ran = await run(process.execPath, [file], { cwd: pkg, env, timeoutMs: 120_000 });
    let sawFailure = false;
    for (const line of ran.stdout.split("\n")) {
      const passed = /^ {2}(.*) ✔$/.exec(line);
      const failed = /^ {2}(.*) FAILED!$/.exec(line);
      if (passed) outcomes.set(`${rel} ${passed[1]}`, "pass");
      if (failed) {
        outcomes.set(`${rel} ${failed[1]}`, "fail");
        sawFailure = true;
      }
    }
    // A crash outside any test (an uncaught error, a timeout) fails the file as a whole.
    if ((ran.code !== 0 || ran.timedOut) && !sawFailure) {
      outcomes.set(`${rel} (the file as a whole)`, "fail");
      problems.push(
        `${rel}: ${ran.timedOut ? "timed out" : `exit ${ran.code}`}: ${lastLines(ran.stdout + ran.stderr)}`,
      );
    } else if (ran.code === 0) outcomes.set(`${rel} (the file as a whole)`, "pass");
  }
  return { outcomes, wallMs: Date.now() - started, problems };
}

interface MochaReport {
  passes: { fullTitle: string }[];
  failures: { fullTitle: string; err?: { message?: string } }[];
}

async function runMocha(pkgName: string, env: NodeJS.ProcessEnv): Promise<SuiteRun> {
  const root = nodePostgresDir as string;
  const pkg = path.join(root, "packages", pkgName);
  const scratch = await mkdtemp(path.join(os.tmpdir(), "faultline-peers-mocha-"));
  tempDirs.add(scratch);
  const out = path.join(scratch, "report.json");
  const mocha = [
    path.join(pkg, "node_modules", ".bin", "mocha"),
    path.join(root, "node_modules", ".bin", "mocha"),
  ].find(existsSync);
  if (!mocha) usageError(`${pkg}: no mocha in node_modules/.bin (run npm install in ${root})`);
  // The package's own spec selection (.mocharc / package.json); pg-query-stream's is on its script line.
  const extra = pkgName === "pg-query-stream" ? ["-r", "ts-node/register", "test/**/*.ts"] : [];
  const started = Date.now();
  const ran = await run(
    mocha,
    [...extra, "--reporter", "json", "--reporter-option", `output=${out}`, "--exit"],
    {
      cwd: pkg,
      env,
      timeoutMs: 300_000,
    },
  );
  const wallMs = Date.now() - started;
  const outcomes = new Map<string, Outcome>();
  const problems: string[] = [];
  let report: MochaReport | undefined;
  try {
    report = JSON.parse(await readFile(out, "utf8")) as MochaReport;
  } catch {
    problems.push(
      `mocha wrote no report (exit ${ran.code}): ${lastLines(ran.stdout + ran.stderr)}`,
    );
  }
  for (const t of report?.passes ?? []) outcomes.set(t.fullTitle, "pass");
  for (const t of report?.failures ?? []) outcomes.set(t.fullTitle, "fail");
  await rm(scratch, { recursive: true, force: true });
  tempDirs.delete(scratch);
  return { outcomes, wallMs, problems };
}

/** The one line of upstream's harness that skips every test after a failure. */
const STOP_AT_FIRST_FAILURE = /failed\s*\?\s*\(ignored\+\+,\s*ignore\)\s*:\s*fn\(\)/;
/** Its ✅ for a passing test, which names nothing; ours names the test and its line. */
const PASS_MARK = "process.stdout.write('✅')";

async function runPostgresJs(env: NodeJS.ProcessEnv): Promise<SuiteRun> {
  const src = postgresJsDir as string;
  const copy = await mkdtemp(path.join(os.tmpdir(), "faultline-peers-postgres-js-"));
  tempDirs.add(copy);
  for (const part of ["src", "tests", "package.json"])
    await cp(path.join(src, part), path.join(copy, part), { recursive: true });
  const harnessFile = path.join(copy, "tests", "test.js");
  const harness = await readFile(harnessFile, "utf8");
  if (!STOP_AT_FIRST_FAILURE.test(harness) || !harness.includes(PASS_MARK))
    usageError(
      `${path.join(src, "tests", "test.js")}: its stop-at-first-failure or ✅ line has changed shape; update peer-suites.ts`,
    );
  await writeFile(
    harnessFile,
    harness
      .replace(STOP_AT_FIRST_FAILURE, "fn()")
      .replace(
        PASS_MARK,
        "process.stdout.write('\\n✅ ' + tests[line].name + ' at line ' + line + '\\n')",
      ),
  );
  const started = Date.now();
  const ran = await run(process.execPath, ["index.js"], {
    cwd: path.join(copy, "tests"),
    env,
    timeoutMs: 600_000,
  });
  const wallMs = Date.now() - started;
  const outcomes = new Map<string, Outcome>();
  const problems: string[] = [];
  // ✅ (ours) names each passing test, ⛔️ (upstream's) each one that did not pass.
  for (const m of ran.stdout.matchAll(/^✅ (.*) at line (\d+)$/gm))
    outcomes.set(`${m[1]} (line ${m[2]})`, "pass");
  const failedNames = [
    ...ran.stderr.matchAll(/⛔️ (.*?) at line (\d+) (failed|never finished|cleanup failed)/g),
  ].map((m) => `${m[1]} (line ${m[2]})`);
  for (const name of failedNames) outcomes.set(name, "fail");
  // A run that ends before upstream's summary (a crash) names nothing: say how it ended.
  const crashed = !/🎉|⚠️/.test(ran.stdout + ran.stderr);
  if (crashed)
    problems.push(`ended without its summary (exit ${ran.code}): ${lastLines(ran.stderr)}`);
  if (ran.timedOut) problems.push(`timed out: ${lastLines(ran.stderr)}`);
  await rm(copy, { recursive: true, force: true });
  tempDirs.delete(copy);
  return { outcomes, wallMs, problems, crashed };
}

function lastLines(text: string, n = 4): string {
  return text.trim().split("\n").slice(-n).join(" | ").slice(0, 600);
}

function runSuite(name: SuiteName, env: NodeJS.ProcessEnv): Promise<SuiteRun> {
  if (name === "pg") return runPgIntegration(env);
  if (name === "postgres-js") return runPostgresJs(env);
  return runMocha(name, env);
}

/** The roles and database each suite's own CI makes before it runs. */
function prepareRoles(server: Server): void {
  const psql = (sql: string) =>
    execFileSync(
      path.join(pgBin, "psql"),
      ["-X", "-q", "-h", server.socketDir, "-p", String(server.port), "-U", "postgres", "-c", sql],
      {
        stdio: "pipe",
      },
    );
  for (const sql of [
    "create user postgres_js_test",
    "set password_encryption = md5; create user postgres_js_test_md5 with password 'postgres_js_test_md5'",
    "set password_encryption = 'scram-sha-256'; create user postgres_js_test_scram with password 'postgres_js_test_scram'",
    "create database postgres_js_test owner postgres_js_test",
    "set password_encryption = 'scram-sha-256'; create user scram_test with password 'test4scram'",
    "set password_encryption = 'scram-sha-256'; create user scram_unicode_test with password 'IX-\u2168'",
  ])
    psql(sql);
}

// ---------------------------------------------------------------------------------------------

function passed(r: SuiteRun): number {
  let n = 0;
  for (const o of r.outcomes.values()) if (o === "pass") n++;
  return n;
}

async function main(): Promise<void> {
  const server = await startServer();
  try {
    prepareRoles(server);
  } catch (error) {
    infrastructure(
      `preparing the suites' roles: ${(error as { stderr?: Buffer }).stderr ?? error}`,
    );
  }
  const proxy = await startProxy(server.port);
  console.log(
    `Postgres ${execFileSync(path.join(pgBin, "postgres"), ["--version"]).toString().trim()} on 127.0.0.1:${server.port}; faultline proxy (no rules) on 127.0.0.1:${proxy.port}; ${rounds} round(s)`,
  );
  const results = new Map<SuiteName, { direct: SuiteRun[]; proxy: SuiteRun[] }>();
  for (let round = 1; round <= rounds; round++) {
    for (const name of wanted) {
      const entry = results.get(name) ?? { direct: [], proxy: [] };
      results.set(name, entry);
      // Alternate which way goes first, so neither always meets a freshly started server.
      const order =
        round % 2 === 1 ? (["direct", "proxy"] as const) : (["proxy", "direct"] as const);
      for (const way of order) {
        const port = way === "direct" ? server.port : proxy.port;
        outputs = [];
        let r = await runSuite(name, pgEnv(port, server.socketDir));
        // A crash hides every later test; one more try, said aloud, before it counts.
        if (r.crashed) {
          console.log(
            `round ${round} ${name} ${way}: crashed after ${passed(r)} passed (${r.problems.join("; ")}); running it again`,
          );
          r = await runSuite(name, pgEnv(port, server.socketDir));
        }
        if (keepOutput) {
          await mkdir(keepOutput, { recursive: true });
          await writeFile(
            path.join(keepOutput, `${name}-${way}-round${round}.log`),
            outputs.join("\n"),
          );
        }
        entry[way].push(r);
        console.log(
          `round ${round} ${name} ${way}: ${passed(r)}/${r.outcomes.size} passed in ${(r.wallMs / 1000).toFixed(1)} s${r.problems.length ? `; ${r.problems.length} problem(s)` : ""}`,
        );
        for (const p of r.problems) console.log(`    ${p}`);
      }
    }
  }
  proxy.stop();

  console.log(
    "\nsuite              tests  passed direct  passed via proxy  wall direct  wall via proxy",
  );
  let differences = 0;
  const report: string[] = [];
  for (const [name, { direct, proxy: viaProxy }] of results) {
    const tests = Math.max(...[...direct, ...viaProxy].map((r) => r.outcomes.size));
    const cell = (runs: SuiteRun[]) => runs.map(passed).join("/");
    console.log(
      `${name.padEnd(18)} ${String(tests).padStart(5)}  ${cell(direct).padStart(13)}  ${cell(viaProxy).padStart(16)}  ${(median(direct.map((r) => r.wallMs)) / 1000).toFixed(1).padStart(9)} s  ${(median(viaProxy.map((r) => r.wallMs)) / 1000).toFixed(1).padStart(12)} s`,
    );
    // A difference: passed directly in some round, failed (or missing) through the proxy in some round.
    const passedDirect = new Set<string>();
    for (const r of direct) for (const [t, o] of r.outcomes) if (o === "pass") passedDirect.add(t);
    const failedWhen = new Map<string, number[]>();
    viaProxy.forEach((r, i) => {
      for (const t of passedDirect)
        if (r.outcomes.get(t) !== "pass") failedWhen.set(t, [...(failedWhen.get(t) ?? []), i + 1]);
    });
    for (const [t, when] of failedWhen) {
      const excluded = exclusion(name, t);
      const flaky = direct.some((r) => r.outcomes.get(t) !== "pass");
      report.push(
        `  ${excluded ? `excluded (${excluded})` : flaky ? "difference (also failed directly in a round)" : "difference"}: ${name}: ${t} — failed through the proxy in round(s) ${when.join(", ")}`,
      );
      if (!excluded) differences++;
    }
  }
  console.log(
    report.length
      ? `\n${[...new Set(report)].join("\n")}`
      : "\nno test that passed directly failed through the proxy",
  );
  console.log(
    differences === 0
      ? "\ntransparent: every test that passed directly passed through the proxy (the exclusions aside)"
      : `\n${differences} difference(s) the exclusions do not explain`,
  );
  cleanupNow();
  process.exit(differences === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  cleanupNow();
  process.exit(3);
});
