/**
 * What a run dir's `resources.ndjson` holds, one JSON object a line: a resource when it is
 * started, `{ "done": id }` when it was stopped the normal way.
 */
export type RunResource =
  | {
      id: number;
      kind: "process";
      pid: number;
      /** /proc/<pid>/stat's start time, so a reused pid is never mistaken for ours. */
      start?: string;
      /** Signal the whole process group (the child was spawned detached). */
      group: boolean;
      /** The polite signal (SIGINT is Postgres's fast shutdown); SIGKILL follows after graceMs. */
      signal: NodeJS.Signals;
      graceMs: number;
    }
  | { id: number; kind: "dir"; path: string }
  | { id: number; kind: "command"; argv: string[] };

/** What one call of `reap` does. */
export type ReapTask =
  /** Be the reaper of `runDir`: sweep stale run dirs under `tmpRoot`, wait for the parent to go, reap. */
  | { mode: "reaper"; runDir: string; tmpRoot: string }
  /** Reap every run dir under `tmpRoot` whose owner is dead (the start-up sweep). */
  | { mode: "sweep"; tmpRoot: string; except?: string };

/**
 * Stop what dead faultline processes left registered in their run dirs and remove the dirs.
 *
 * Self-contained on purpose: no imports and no names from outside its body, because the reaper
 * process runs this function's source text with `node -e`. That works the same from the
 * repository's esbuild bundle, from dist/ and under tsx or vitest, with no file to locate.
 * `require` is CommonJS's, handed in by the caller.
 */
export async function reap(require: NodeJS.Require, task: ReapTask): Promise<void> {
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const hasProc = fs.existsSync("/proc/self/stat");
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  // Fields of /proc/<pid>/stat after the command name (which may hold spaces and parens).
  const stat = (pid: number): { state: string; pgrp: number; start: string } | undefined => {
    try {
      const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return { state: fields[0] ?? "", pgrp: Number(fields[2]), start: fields[19] ?? "" };
    } catch {
      return undefined;
    }
  };
  const exists = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
    }
    // A zombie has exited; it only waits for its new parent (init) to collect it.
    return !hasProc || (stat(pid)?.state ?? "Z") !== "Z";
  };
  // Where /proc cannot tell a reused pid apart, only the reaper (which acts the moment its parent
  // dies) trusts bare pids; a sweep, possibly days later, leaves those processes alone.
  const trustBarePids = task.mode === "reaper";
  const isOurs = (pid: number, start: string | undefined): boolean => {
    if (!hasProc || start === undefined) return trustBarePids && exists(pid);
    const now = stat(pid);
    return now !== undefined && now.state !== "Z" && now.start === start;
  };
  const groupMembers = (pgrp: number): number[] => {
    if (!hasProc) {
      try {
        process.kill(-pgrp, 0);
        return [pgrp];
      } catch {
        return [];
      }
    }
    const members: number[] = [];
    for (const entry of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const info = stat(Number(entry));
      if (info && info.pgrp === pgrp && info.state !== "Z") members.push(Number(entry));
    }
    return members;
  };
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already.
    }
  };

  const readResources = (runDir: string): RunResource[] => {
    let text = "";
    try {
      text = fs.readFileSync(path.join(runDir, "resources.ndjson"), "utf8");
    } catch {
      return [];
    }
    const live = new Map<number, RunResource>();
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as RunResource | { done: number };
        if ("done" in entry) live.delete(entry.done);
        else live.set(entry.id, entry);
      } catch {
        // A line cut short by the kill: the rest still counts.
      }
    }
    return [...live.values()];
  };

  const reapRunDir = async (runDir: string): Promise<void> => {
    const resources = readResources(runDir);
    type Target = { running: () => boolean; kill: () => void; graceMs: number };
    const targets: Target[] = [];
    for (const resource of resources) {
      if (resource.kind !== "process") continue;
      const { pid, start } = resource;
      let target: Target | undefined;
      if (resource.group) {
        // The leader may have exited while the rest of its group runs on. A group id stays
        // taken while any member lives, so with the leader gone the group can only be ours;
        // with another process under the leader's pid, leave it alone.
        // (A zombie leader with our start time still names our group.)
        const leader = stat(pid);
        if (hasProc ? leader === undefined || leader.start === start : trustBarePids)
          target = {
            running: () => groupMembers(pid).length > 0,
            kill: () => signal(-pid, "SIGKILL"),
            graceMs: resource.graceMs,
          };
        if (target) signal(-pid, resource.signal);
      } else if (isOurs(pid, start)) {
        target = {
          running: () => isOurs(pid, start),
          kill: () => signal(pid, "SIGKILL"),
          graceMs: resource.graceMs,
        };
        signal(pid, resource.signal);
      }
      if (target) targets.push(target);
    }
    const deadline = Date.now() + Math.max(0, ...targets.map((t) => t.graceMs));
    while (targets.some((t) => t.running()) && Date.now() < deadline) await wait(50);
    for (const target of targets) if (target.running()) target.kill();

    for (const resource of resources)
      if (resource.kind === "command") {
        const [file, ...args] = resource.argv;
        if (file) spawnSync(file, args, { stdio: "ignore", timeout: 30_000 });
      }
    const removeDirs = () => {
      for (const resource of resources)
        if (resource.kind === "dir") fs.rmSync(resource.path, { recursive: true, force: true });
    };
    removeDirs();
    // A helper the parent ran but never listed (esbuild's service process, bundling the
    // payments service) ends when its stdin closes, but may finish writing its output first,
    // making a removed dir again: remove the listed dirs once more after it had time to stop.
    if (resources.some((r) => r.kind === "dir")) {
      await wait(500);
      removeDirs();
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  };

  // A run dir is stale when its owner (pid in the name, pid and start time in `owner`) is gone.
  const isStale = (runDir: string): boolean => {
    const pid = Number(/^faultline-run-(\d+)-/.exec(path.basename(runDir))?.[1]);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    let start: string | undefined;
    try {
      start = (
        JSON.parse(fs.readFileSync(path.join(runDir, "owner"), "utf8")) as { start?: string }
      ).start;
    } catch {
      // Killed between creating the dir and writing the file: the pid alone decides.
    }
    if (!exists(pid)) return true;
    return hasProc && start !== undefined && stat(pid)?.start !== start;
  };

  const sweep = async (tmpRoot: string, except?: string): Promise<void> => {
    let entries: string[];
    try {
      entries = fs.readdirSync(tmpRoot);
    } catch {
      return;
    }
    for (const entry of entries) {
      const runDir = path.join(tmpRoot, entry);
      if (!entry.startsWith("faultline-run-") || runDir === except) continue;
      if (isStale(runDir)) await reapRunDir(runDir).catch(() => {});
    }
  };

  if (task.mode === "sweep") return sweep(task.tmpRoot, task.except);

  // The reaper: only the end of its stdin (the parent's exit, SIGKILL included) ends it.
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(name, () => {});
  let reaping = false;
  const onParentGone = () => {
    if (reaping) return;
    reaping = true;
    reapRunDir(task.runDir)
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.stdin.on("end", onParentGone);
  process.stdin.on("close", onParentGone);
  process.stdin.on("error", onParentGone);
  process.stdin.resume();
  await sweep(task.tmpRoot, task.runDir);
}
