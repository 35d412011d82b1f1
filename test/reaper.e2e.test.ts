import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesTagged, ROOT, startCli } from "./cli.ts";

// What kills a run in CI does not send Ctrl-C: a SIGKILL (OOM killer, a runner's timeout) or a
// SIGTERM to `npx`, which npm does not pass on. Each test tags every process it starts through
// the environment and gives faultline its own tmp root, then checks both end up empty.

let root: string;
let shmBefore: Set<string>;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-reaper-"));
  await chmod(root, 0o755);
  shmBefore = new Set(await postgresShm());
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

// POSIX shared memory segments of Postgres servers in /dev/shm.
async function postgresShm(): Promise<string[]> {
  return (await readdir("/dev/shm").catch(() => [])).filter((e) => e.startsWith("PostgreSQL."));
}

// Segments that appeared during the test and are still there two seconds later: a short-lived
// initdb of another process on this machine makes and removes its own within that time.
async function leakedShm(): Promise<string[]> {
  const now = (await postgresShm()).filter((e) => !shmBefore.has(e));
  if (now.length === 0) return [];
  await new Promise((r) => setTimeout(r, 2000));
  const later = new Set(await postgresShm());
  return now.filter((e) => later.has(e));
}

async function freshTmp(name: string): Promise<{ tmp: string; tag: string }> {
  const tmp = await mkdtemp(path.join(root, `${name}-`));
  await chmod(tmp, 0o755);
  return { tmp, tag: `${name}-${process.pid}-${Date.now()}` };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Wait until nothing tagged runs and `tmp` is empty; how long that took, in milliseconds. */
async function nothingLeft(tag: string, tmp: string, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const processes = processesTagged("FAULTLINE_TEST_TAG", tag);
    const files = await readdir(tmp);
    if (processes.length === 0 && files.length === 0) return Date.now() - started;
    if (Date.now() > deadline) {
      expect(
        { processes: processes.map(commandLine), files },
        `still there ${timeoutMs} ms after the kill`,
      ).toEqual({ processes: [], files: [] });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collect(child: ChildProcess): () => string {
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  return () => out;
}

describe("kill -9 of faultline", () => {
  const moments = {
    // initdb or the postmaster is up, the run has not got further.
    "Postgres starts": {
      args: ["run", "scenarios", "--service", "payments:broken"],
      ready: (tag: string) =>
        processesTagged("FAULTLINE_TEST_TAG", tag).some((pid) =>
          /(^|\/)(initdb|postgres) /.test(commandLine(pid)),
        ),
    },
    // A scenario is under way: the bundled service answers webhooks through the proxy.
    "the service runs": {
      args: ["run", "scenarios", "--service", "payments:broken"],
      ready: (tag: string) =>
        processesTagged("FAULTLINE_TEST_TAG", tag).some((pid) =>
          commandLine(pid).includes("faultline-service-"),
        ),
    },
    // A service that never becomes ready, whose shell waits on a child: the whole group must go.
    "a service is starting": {
      args: ["run", "scenarios/bad-signatures.scenario.ts", "--service", "sleep 300; true"],
      ready: (tag: string) =>
        processesTagged("FAULTLINE_TEST_TAG", tag).some((pid) =>
          commandLine(pid).startsWith("sleep 300"),
        ),
    },
    // The only scenario has its verdict: the service, the database and Postgres are stopping.
    teardown: {
      args: ["run", "scenarios/bad-signatures.scenario.ts", "--service", "payments:fixed"],
      ready: (_tag: string, out: string) => /(PASS|FAIL) {2}bad-signatures/.test(out),
    },
  };

  for (const [moment, { args, ready }] of Object.entries(moments)) {
    it(`while ${moment} leaves no process and no temp dir within seconds`, async () => {
      const { tmp, tag } = await freshTmp(moment.replaceAll(" ", "-"));
      const { child, done } = startCli(args, { FAULTLINE_TMPDIR: tmp, FAULTLINE_TEST_TAG: tag });
      const out = collect(child);
      const reached = await until(() => ready(tag, out()), 40_000);
      expect(reached, `never saw "${moment}"; output:\n${out()}`).toBe(true);
      child.kill("SIGKILL");
      const run = await done;
      expect(run.signal).toBe("SIGKILL");
      const ms = await nothingLeft(tag, tmp);
      expect(ms).toBeLessThan(10_000);
      expect(await leakedShm()).toEqual([]);
    });
  }
});

describe("a stale run dir", () => {
  it("of a dead faultline is swept by the next start, its orphaned process group included", async () => {
    const { tmp, tag } = await freshTmp("stale");
    // A run that was SIGKILLed together with its reaper: its service's group still runs.
    const orphan = spawn("sh", ["-c", "sleep 300; true"], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, FAULTLINE_TEST_TAG: tag },
    });
    orphan.unref();
    const pid = orphan.pid as number;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    const gone = spawn("true");
    await new Promise((r) => gone.once("exit", r));
    const runDir = path.join(tmp, `faultline-run-${gone.pid}-AbCdEf`);
    const pgDir = path.join(tmp, "faultline-pg-AbCdEf");
    await mkdir(path.join(pgDir, "data"), { recursive: true });
    await mkdir(runDir);
    await writeFile(path.join(runDir, "owner"), JSON.stringify({ pid: gone.pid, start: "1" }));
    await writeFile(
      path.join(runDir, "resources.ndjson"),
      [
        { id: 1, kind: "dir", path: pgDir },
        { id: 2, kind: "process", pid, start, group: true, signal: "SIGTERM", graceMs: 3000 },
      ]
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(""),
    );
    expect(processesTagged("FAULTLINE_TEST_TAG", tag).length).toBe(2);

    const { done } = startCli(
      ["run", "scenarios/bad-signatures.scenario.ts", "--service", "payments:fixed"],
      { FAULTLINE_TMPDIR: tmp },
    );
    const run = await done;
    expect(run.code, run.stderr).toBe(0);
    await nothingLeft(tag, tmp, 5000);
  });
});

describe("a SIGTERM to npx", () => {
  it("stops `npx faultline proxy` too (npm does not pass the signal on)", async () => {
    const { tmp, tag } = await freshTmp("npx-proxy");
    const npx = spawn(
      "npx",
      ["faultline", "proxy", "--upstream", "postgres://127.0.0.1:1", "--listen", "127.0.0.1:0"],
      {
        cwd: ROOT,
        env: { ...process.env, FAULTLINE_TMPDIR: tmp, FAULTLINE_TEST_TAG: tag },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const out = collect(npx);
    expect(await until(() => out().includes("listening on"), 40_000), out()).toBe(true);
    npx.kill("SIGTERM");
    const ms = await nothingLeft(tag, tmp, 5000);
    expect(ms).toBeLessThan(5000);
  });

  it("stops `npx faultline run` with its Postgres and service", async () => {
    const { tmp, tag } = await freshTmp("npx-run");
    const npx = spawn("npx", ["faultline", "run", "scenarios", "--service", "payments:broken"], {
      cwd: ROOT,
      env: { ...process.env, FAULTLINE_TMPDIR: tmp, FAULTLINE_TEST_TAG: tag },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = collect(npx);
    expect(await until(() => /scenario\(s\).* against/.test(out()), 40_000), out()).toBe(true);
    npx.kill("SIGTERM");
    await nothingLeft(tag, tmp);
  });
});
