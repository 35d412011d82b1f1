export { ephemeralRange, freePort, pickWindow } from "./free-port.ts";
export { defaultTmpRoot, faultlineVersion, PACKAGE_ROOT } from "./paths.ts";
export {
  makeTempDir,
  reapCommandOnDeath,
  reapOnDeath,
  watchParent,
} from "./reaper.ts";

/**
 * Last-resort cleanup. Every started resource (Postgres, the service, temp dirs) is stopped
 * through its own async `stop()` on the normal path; these synchronous hooks exist for the
 * paths where async code can no longer run: a second Ctrl-C, an uncaught error, process exit.
 */
type SyncCleanup = () => void;

const hooks = new Set<SyncCleanup>();
let installed = false;

function runAll(): void {
  for (const hook of [...hooks].reverse()) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      // Best effort: one failed hook must not stop the others.
    }
  }
}

/** Register a synchronous cleanup for process exit; returns a function that unregisters it. */
export function onExit(hook: SyncCleanup): () => void {
  if (!installed) {
    installed = true;
    process.on("exit", runAll);
  }
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/** Run every registered hook now (used when the user insists with a second signal). */
export function runExitHooksNow(): void {
  runAll();
}

/** Kill a process group (or single process) without throwing if it is already gone. */
export function killQuietly(pid: number | undefined, signal: NodeJS.Signals, group = false): void {
  if (!pid) return;
  try {
    process.kill(group ? -pid : pid, signal);
  } catch {
    // Already exited.
  }
}

/** Reject as soon as `signal` aborts; used to cut waits short on Ctrl-C. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** A sleep that ends early (rejecting) when the run is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
