import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunResource, reap } from "./reap.ts";
import { processStartTime, reaperScript } from "./reaper.ts";

const require = createRequire(import.meta.url);
let root: string;
const started: ChildProcess[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-reaper-unit-"));
});
afterEach(async () => {
  for (const child of started.splice(0)) if (child.pid) kill(-child.pid);
  await rm(root, { recursive: true, force: true });
});

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone.
  }
}

/** Running, and not a zombie waiting to be collected. */
function running(pid: number): boolean {
  const text = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      return undefined;
    }
  })();
  return text !== undefined && text.slice(text.lastIndexOf(")") + 2)[0] !== "Z";
}

/** A `sh` that waits on a `sleep`, in its own process group, as faultline starts a service. */
function orphanGroup(): ChildProcess {
  const child = spawn("sh", ["-c", "sleep 300; true"], { detached: true, stdio: "ignore" });
  started.push(child);
  return child;
}

async function deadPid(): Promise<number> {
  const child = spawn("true");
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

async function groupMembers(pgrp: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || !running(Number(entry))) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[2]) === pgrp)
        members.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return members;
}

async function runDirOf(
  owner: { pid: number; start?: string },
  resources: (RunResource | { done: number })[],
): Promise<string> {
  const dir = path.join(root, `faultline-run-${owner.pid}-abc123`);
  await mkdir(dir);
  await writeFile(path.join(dir, "owner"), JSON.stringify(owner));
  await writeFile(
    path.join(dir, "resources.ndjson"),
    resources.map((r) => `${JSON.stringify(r)}\n`).join(""),
  );
  return dir;
}

describe("processStartTime", () => {
  it("reads the start time of a live process and nothing for a dead one", async () => {
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(processStartTime(await deadPid())).toBeUndefined();
  });

  it("tells two processes apart that were started at different moments", async () => {
    const first = orphanGroup();
    await new Promise((r) => setTimeout(r, 30));
    const second = orphanGroup();
    expect(processStartTime(first.pid as number)).not.toBe(processStartTime(second.pid as number));
  });
});

describe("the start-up sweep", () => {
  it("stops the process group and removes the dirs a dead run left, then its run dir", async () => {
    const service = orphanGroup();
    const pid = service.pid as number;
    await new Promise((r) => setTimeout(r, 50));
    expect((await groupMembers(pid)).length).toBe(2);
    const leftover = path.join(root, "faultline-pg-left");
    await mkdir(path.join(leftover, "data"), { recursive: true });
    const stopped = path.join(root, "faultline-trace-stopped");
    await mkdir(stopped);
    const runDir = await runDirOf({ pid: await deadPid(), start: "1" }, [
      { id: 1, kind: "dir", path: leftover },
      {
        id: 2,
        kind: "process",
        pid,
        start: processStartTime(pid),
        group: true,
        signal: "SIGTERM",
        graceMs: 2000,
      },
      { id: 3, kind: "dir", path: stopped },
      // Stopped the normal way: the sweep must leave it alone.
      { done: 3 },
    ]);
    await reap(require, { mode: "sweep", tmpRoot: root });
    expect(await groupMembers(pid)).toEqual([]);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(runDir)).toBe(false);
    expect(existsSync(stopped)).toBe(true);
  });

  it("leaves the run dir of a live owner alone", async () => {
    const runDir = await runDirOf({ pid: process.pid, start: processStartTime(process.pid) }, []);
    await reap(require, { mode: "sweep", tmpRoot: root });
    expect(existsSync(runDir)).toBe(true);
  });

  it("sweeps a run dir whose owner's pid now belongs to another process", async () => {
    const runDir = await runDirOf({ pid: process.pid, start: "1" }, []);
    await reap(require, { mode: "sweep", tmpRoot: root });
    expect(existsSync(runDir)).toBe(false);
  });

  it("does not kill a process that took over a registered pid", async () => {
    const stranger = orphanGroup();
    const pid = stranger.pid as number;
    await runDirOf({ pid: await deadPid(), start: "1" }, [
      { id: 1, kind: "process", pid, start: "1", group: false, signal: "SIGKILL", graceMs: 0 },
      { id: 2, kind: "process", pid, start: "1", group: true, signal: "SIGKILL", graceMs: 0 },
    ]);
    await reap(require, { mode: "sweep", tmpRoot: root });
    expect(running(pid)).toBe(true);
  });

  it("runs as its own program, from the source text the reaper is started with", async () => {
    const runDir = await runDirOf({ pid: await deadPid() }, []);
    const sweep = spawn(process.execPath, ["-e", reaperScript({ mode: "sweep", tmpRoot: root })], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    sweep.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => sweep.once("exit", resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(existsSync(runDir)).toBe(false);
  });

  it("ignores what is not a run dir", async () => {
    await mkdir(path.join(root, "faultline-pg-other"));
    await mkdir(path.join(root, "faultline-run-notapid"));
    await reap(require, { mode: "sweep", tmpRoot: root });
    expect((await readdir(root)).sort()).toEqual(["faultline-pg-other", "faultline-run-notapid"]);
  });
});

describe("the reaper", () => {
  it("stops what a library user's process registered when that process is SIGKILLed", async () => {
    // A process that uses the API the way a test suite would, then dies without any cleanup.
    const script = path.join(root, "user.ts");
    const reaper = path.join(path.dirname(fileURLToPath(import.meta.url)), "reaper.ts");
    await writeFile(
      script,
      `import { spawn } from "node:child_process";
       import { makeTempDir, reapOnDeath } from ${JSON.stringify(reaper)};
       makeTempDir(${JSON.stringify(root)}, "faultline-pg-");
       const child = spawn("sh", ["-c", "sleep 300; true"], { detached: true, stdio: "ignore" });
       reapOnDeath(child, { group: true });
       console.log(child.pid);
       setInterval(() => {}, 1000);`,
    );
    const user = spawn(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, FAULTLINE_TMPDIR: root },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pid = await new Promise<number>((resolve) =>
      user.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect((await readdir(root)).some((e) => e.startsWith("faultline-run-"))).toBe(true);
    user.kill("SIGKILL");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if ((await groupMembers(pid)).length === 0 && (await readdir(root)).length === 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await groupMembers(pid)).toEqual([]);
    expect(await readdir(root)).toEqual(["user.ts"]);
  }, 20_000);
});
