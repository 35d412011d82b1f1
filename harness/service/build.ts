import { spawn } from "node:child_process";
import { ServiceFailedError } from "../errors.ts";
import { killQuietly, onExit, reapOnDeath } from "../lifecycle/index.ts";

const OUTPUT_LINES = 40;

/**
 * Run the service's build command (`service.build`) once, before the first scenario. It runs in
 * its own process group so Ctrl-C or a failed run takes the whole build (npm, tsc, next…) with
 * it. A non-zero exit fails the run with the build's last lines of output.
 */
export async function runBuild(options: {
  command: string;
  cwd: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
}): Promise<{ durationMs: number }> {
  const started = Date.now();
  const lines: string[] = [];
  const child = spawn("sh", ["-c", options.command], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const unregister = onExit(() => killQuietly(child.pid, "SIGKILL", true));
  reapOnDeath(child, { group: true, signal: "SIGKILL", graceMs: 0 });
  const keep = (chunk: Buffer) => {
    lines.push(
      ...chunk
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim()),
    );
    if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const onAbort = () => killQuietly(child.pid, "SIGKILL", true);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const outcome = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.on("error", (error) => resolve({ code: null, error }));
      child.on("close", (code) => resolve({ code }));
    });
    if (options.signal?.aborted) throw options.signal.reason;
    if (outcome.error)
      throw new ServiceFailedError(
        `service.build could not start: ${outcome.error.message} (command: ${options.command})`,
        lines,
      );
    if (outcome.code !== 0)
      throw new ServiceFailedError(
        `service.build exited with code ${outcome.code} (command: ${options.command}, in ${options.cwd})`,
        lines,
      );
    return { durationMs: Date.now() - started };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    killQuietly(child.pid, "SIGKILL", true);
    unregister();
  }
}
