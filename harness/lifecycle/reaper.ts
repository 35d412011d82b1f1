import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import type { Socket } from "node:net";
import path from "node:path";
import { defaultTmpRoot } from "./paths.ts";
import { type ReapTask, type RunResource, reap } from "./reap.ts";

/**
 * Ctrl-C and SIGTERM are handled in-process; SIGKILL, an OOM killer or a CI runner that stops
 * the tree are not. So, like testcontainers' Ryuk but without a container: each faultline
 * process that starts something gets a run dir (`<tmp root>/faultline-run-<pid>-…`) listing what
 * it started, and a small detached reaper process holding the read end of a pipe. When faultline
 * dies, however it dies, the kernel closes the pipe and the reaper stops and removes what is
 * still listed. A reaper that was killed too is covered by the next start's sweep of run dirs
 * whose owner is gone.
 */
interface RunDir {
  dir: string;
  file: string;
  reaper: ChildProcess;
  live: Set<number>;
}

let current: RunDir | undefined;
let nextId = 1;
let exitHookInstalled = false;

/** /proc/<pid>/stat's start time (clock ticks since boot), or undefined where there is none. */
export function processStartTime(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * The program `node -e` runs for `task`: `reap`'s own source text. Loaders that keep function
 * names (tsx, esbuild's keepNames) wrap inner functions in a `__name(fn, "name")` helper that
 * lives outside the function, so an identity stand-in for it comes first.
 */
export function reaperScript(task: ReapTask): string {
  return `var __name = (fn) => fn;\n(${reap.toString()})(require, ${JSON.stringify(task)});`;
}

function startReaper(task: ReapTask): ChildProcess {
  const { NODE_OPTIONS: _, ...env } = process.env;
  const child = spawn(
    process.execPath,
    ["-e", reaperScript(task)],
    // Its own session: a Ctrl-C at the terminal or a kill of faultline's group spares it.
    { detached: true, stdio: ["pipe", "ignore", "ignore"], env },
  );
  child.on("error", () => {});
  child.stdin?.on("error", () => {});
  // Neither the reaper nor its pipe may keep faultline alive.
  child.unref();
  (child.stdin as Socket | null)?.unref();
  return child;
}

function runDir(): RunDir | undefined {
  if (current && existsSync(current.dir)) return current;
  // Gone: a test removed the tmp root under a long-lived process. Start over.
  if (current) current.reaper.kill("SIGKILL");
  current = undefined;
  try {
    const tmpRoot = defaultTmpRoot();
    const dir = mkdtempSync(path.join(tmpRoot, `faultline-run-${process.pid}-`));
    writeFileSync(
      path.join(dir, "owner"),
      JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) }),
    );
    const file = path.join(dir, "resources.ndjson");
    writeFileSync(file, "");
    current = {
      dir,
      file,
      reaper: startReaper({ mode: "reaper", runDir: dir, tmpRoot }),
      live: new Set(),
    };
  } catch {
    // No writable tmp root: the run still works, only without a safety net.
    return undefined;
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", leaveOnExit);
  }
  return current;
}

// A clean exit stopped everything: dismiss the reaper and leave no run dir. Anything still
// listed is left to the reaper, which sees the pipe close a moment later.
function leaveOnExit(): void {
  if (!current || current.live.size > 0) return;
  current.reaper.kill("SIGKILL");
  rmSync(current.dir, { recursive: true, force: true });
  current = undefined;
}

type NewResource = RunResource extends infer R
  ? R extends RunResource
    ? Omit<R, "id">
    : never
  : never;

function register(resource: NewResource): () => void {
  const run = runDir();
  if (!run) return () => {};
  const id = nextId++;
  try {
    appendFileSync(run.file, `${JSON.stringify({ id, ...resource })}\n`);
  } catch {
    return () => {};
  }
  run.live.add(id);
  return () => {
    if (!run.live.delete(id)) return;
    try {
      appendFileSync(run.file, `${JSON.stringify({ done: id })}\n`);
    } catch {
      // The run dir is gone: nothing left to tell.
    }
  };
}

/**
 * Have the reaper stop `child` if faultline dies while it runs: `signal` to it (or its process
 * group when it was spawned detached), SIGKILL after `graceMs`. Forgotten when the child exits.
 */
export function reapOnDeath(
  child: ChildProcess,
  options: { group?: boolean; signal?: NodeJS.Signals; graceMs?: number } = {},
): void {
  if (!child.pid) return;
  const forget = register({
    kind: "process",
    pid: child.pid,
    start: processStartTime(child.pid),
    group: options.group ?? false,
    signal: options.signal ?? "SIGTERM",
    graceMs: options.graceMs ?? 3000,
  });
  if (child.exitCode !== null || child.signalCode !== null) forget();
  else child.once("exit", forget);
}

/**
 * `mkdtemp` for what a run leaves in the tmp root: the dir is listed for the reaper before it
 * exists, so no kill can fall between the two (an async mkdtemp's dir exists well before the
 * code after the `await` runs). Call `forget` once the dir is removed.
 */
export function makeTempDir(parent: string, prefix: string): { path: string; forget: () => void } {
  for (;;) {
    const dir = path.join(parent, `${prefix}${randomBytes(6).toString("base64url")}`);
    const forget = register({ kind: "dir", path: dir });
    try {
      mkdirSync(dir, { mode: 0o700 });
      return { path: dir, forget };
    } catch (error) {
      forget();
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
}

/** Have the reaper run `argv` (say, remove a container) if faultline dies first. */
export function reapCommandOnDeath(argv: string[]): () => void {
  return register({ kind: "command", argv });
}

/**
 * Call `onGone` once the process that started this one has exited (its parent pid changes when
 * the kernel re-parents it). `npm exec` does not pass SIGTERM on, so a killed `npx faultline`
 * shows up only this way. Polls every `intervalMs`; returns a function that stops watching.
 */
export function watchParent(onGone: () => void, intervalMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
