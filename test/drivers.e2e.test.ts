import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedPostgres } from "../harness/postgres/index.ts";
import { type CliRun, ROOT, runCli } from "./cli.ts";

// The driver conformance matrix: every service under test/drivers/ (one per driver and
// protocol path) must show the 42703 → 25P02 cascade when broken and none when fixed, and take
// an injected 40001, on the embedded provider (server log + trace) and on a server faultline
// did not start (trace only) — so the verdict cannot depend on how a driver talks to Postgres.

const DRIVERS = path.join(ROOT, "test", "drivers");
const CASCADE = path.join(DRIVERS, "cascade.scenario.ts");
const FAULT = path.join(DRIVERS, "fault.scenario.ts");
const sh = promisify(execFile);
// A test waits for its driver's build and for a free slot before its own run starts.
const TIMEOUT = 300_000;

interface Driver {
  id: string;
  dir: string;
  requires: string;
  build?: string;
  broken: string;
  fixed: string;
}

interface ScenarioJson {
  name: string;
  verdict: string;
  sqlstates: Record<string, number>;
  serverSqlstates?: Record<string, number>;
  witnessDisagreements?: { sqlstate: string; trace: number; serverLog: number }[];
  oracle: string;
  faults: { rule: string }[];
  deliveries: { status: number | null }[];
  invariants: { name: string; passed: boolean; seen: string }[];
}

const drivers: Driver[] = readdirSync(DRIVERS, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(path.join(DRIVERS, e.name, "driver.json")))
  .map((e) => {
    const dir = path.join(DRIVERS, e.name);
    return { ...JSON.parse(readFileSync(path.join(dir, "driver.json"), "utf8")), dir };
  })
  .sort((a, b) => a.id.localeCompare(b.id));

// Each CLI run starts Postgres and a service or two; more at once than cores only makes every
// run slower and the ready timeouts tighter.
const slots = Math.max(2, availableParallelism());
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
  while (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Why the driver cannot run here, or undefined when its `requires` command succeeds. */
async function missing(driver: Driver): Promise<string | undefined> {
  try {
    await sh("sh", ["-c", driver.requires], { cwd: driver.dir, timeout: 60_000 });
    return undefined;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    const last = (stderr ?? "").trim().split("\n").pop() || message;
    return `\`${driver.requires}\` failed: ${last}`;
  }
}

const builds = new Map<string, Promise<void>>();
function built(driver: Driver): Promise<void> {
  const build = driver.build;
  if (!build) return Promise.resolve();
  let done = builds.get(driver.id);
  if (!done) {
    done = limited(async () => {
      try {
        await sh("sh", ["-c", build], { cwd: driver.dir, timeout: 300_000 });
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        throw new Error(`${driver.id}: build \`${build}\` failed\n${stdout ?? ""}${stderr ?? ""}`);
      }
    });
    builds.set(driver.id, done);
  }
  return done;
}

interface Outcome {
  run: CliRun;
  scenarios: Map<string, ScenarioJson>;
  /** The command and everything it printed, for assertion messages. */
  log: string;
}

async function run(
  driver: Driver,
  variant: "broken" | "fixed",
  files: string[],
  postgres?: string,
) {
  await built(driver);
  const dir = mkdtempSync(path.join(tmpdir(), `faultline-driver-${driver.id}-`));
  try {
    const json = path.join(dir, "result.json");
    const args = [
      "run",
      ...files,
      "--service",
      `cd '${driver.dir}' && ${driver[variant]}`,
      "--json",
      json,
      ...(postgres ? ["--postgres", postgres] : []),
    ];
    const cli = await limited(() => runCli(args));
    const log = `faultline ${args.join(" ")}\nexit ${cli.code ?? cli.signal}\n--- stdout\n${cli.stdout}\n--- stderr\n${cli.stderr}`;
    const scenarios = new Map<string, ScenarioJson>();
    if (existsSync(json)) {
      const result = JSON.parse(readFileSync(json, "utf8")) as { scenarios: ScenarioJson[] };
      for (const s of result.scenarios) scenarios.set(s.name, s);
    }
    return { run: cli, scenarios, log } satisfies Outcome;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function scenario(outcome: Outcome, name: string): ScenarioJson {
  const found = outcome.scenarios.get(name);
  expect(found, `no result for ${name} in the JSON\n${outcome.log}`).toBeDefined();
  return found as ScenarioJson;
}

let url: string;
let stopUrlServer: (() => Promise<void>) | undefined;
beforeAll(async () => {
  const server = await embeddedPostgres.start();
  stopUrlServer = () => server.stop();
  url = `url:${server.urlFor("postgres")}`;
});
afterAll(async () => {
  await stopUrlServer?.();
});

const availability = new Map(
  await Promise.all(drivers.map(async (d) => [d.id, await missing(d)] as const)),
);

const providers = [
  { name: "embedded", spec: () => undefined, serverLog: true },
  { name: "url", spec: () => url, serverLog: false },
] as const;

describe.concurrent("driver conformance", () => {
  it("finds the drivers", () => {
    expect(drivers.length).toBeGreaterThan(0);
  });

  for (const driver of drivers) {
    const reason = availability.get(driver.id);
    if (reason) {
      if (process.env.CI)
        it(`${driver.id}: its toolchain is installed`, () => {
          throw new Error(`${driver.id}: CI must run every driver, but ${reason}`);
        });
      else it.skip(`${driver.id}: skipped, ${reason}`, () => {});
      continue;
    }

    for (const provider of providers) {
      it(`${driver.id}, ${provider.name}: broken shows the 42703 → 25P02 cascade`, {
        timeout: TIMEOUT,
      }, async () => {
        const outcome = await run(driver, "broken", [CASCADE], provider.spec());
        const s = scenario(outcome, "driver-cascade");
        const { log } = outcome;
        expect(outcome.run.code, log).toBe(1);
        const noCascade = s.invariants.find((i) => i.name === "noCascade");
        expect(noCascade?.passed, log).toBe(false);
        expect(s.sqlstates["42703"], `trace 42703\n${log}`).toBe(3);
        expect(s.sqlstates["25P02"], `trace 25P02\n${log}`).toBe(3);
        if (provider.serverLog) {
          expect(s.serverSqlstates?.["42703"], `server log 42703\n${log}`).toBe(3);
          expect(s.serverSqlstates?.["25P02"], `server log 25P02\n${log}`).toBe(3);
          expect(s.witnessDisagreements ?? [], log).toEqual([]);
        }
      });

      it(`${driver.id}, ${provider.name}: fixed has no cascade and takes an injected 40001`, {
        timeout: TIMEOUT,
      }, async () => {
        const outcome = await run(driver, "fixed", [CASCADE, FAULT], provider.spec());
        const { log } = outcome;
        expect(outcome.run.code, log).toBe(0);
        const cascade = scenario(outcome, "driver-cascade");
        expect(cascade.verdict, log).toBe("pass");
        expect(cascade.sqlstates["25P02"] ?? 0, `trace 25P02\n${log}`).toBe(0);
        const fault = scenario(outcome, "driver-fault");
        expect(fault.verdict, log).toBe("pass");
        expect(
          fault.faults.map((f) => f.rule),
          log,
        ).toEqual(["insert-40001"]);
        expect(fault.sqlstates["40001"], `trace 40001\n${log}`).toBe(1);
        // The rolled-back event must not be acknowledged, so the provider delivers it again.
        expect(fault.deliveries[0]?.status, log).toBe(500);
        if (provider.serverLog) {
          expect(cascade.serverSqlstates?.["25P02"] ?? 0, `server log 25P02\n${log}`).toBe(0);
          expect(fault.serverSqlstates?.["40001"], `server log 40001\n${log}`).toBe(1);
          expect(cascade.witnessDisagreements ?? [], log).toEqual([]);
          expect(fault.witnessDisagreements ?? [], log).toEqual([]);
        }
      });
    }
  }
});

describe("gate on a driver that prepares first", () => {
  const asyncpg = drivers.find((d) => d.id === "asyncpg");
  it.runIf(asyncpg && !availability.get("asyncpg"))(
    "asyncpg: the SQLSTATE table shows the cascade before the fix and none after",
    { timeout: TIMEOUT },
    async () => {
      const driver = asyncpg as Driver;
      const cli = await limited(() =>
        runCli([
          "gate",
          CASCADE,
          "--baseline",
          `cd '${driver.dir}' && ${driver.broken}`,
          "--candidate",
          `cd '${driver.dir}' && ${driver.fixed}`,
        ]),
      );
      const log = `${cli.stdout}\n${cli.stderr}`;
      expect(cli.code, log).toBe(0);
      expect(cli.stdout, log).toMatch(/42703 undefined_column\s+3\s+3/);
      expect(cli.stdout, log).toMatch(/25P02 in_failed_sql_transaction\s+3\s+0/);
    },
  );
});
