import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The project root, where the CLI and the shipped scenarios live. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin", "faultline.mjs");

/** What one CLI run printed and how it ended. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI run under way. */
export interface StartedCli {
  child: ChildProcess;
  done: Promise<CliRun>;
  /** What it has printed on stdout so far. */
  output(): string;
  /** Resolve once stdout holds `text`, the process has ended, or `timeoutMs` has passed. */
  untilOutput(text: string, timeoutMs?: number): Promise<void>;
}

/** Start the real CLI as a user would (`faultline …`), from the project root. */
export function startCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): StartedCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const untilOutput = async (text: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(text) && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  };
  return { child, done, output: () => stdout, untilOutput };
}

/** Run the CLI to completion (from the project root, or from `cwd`). */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): Promise<CliRun> {
  return startCli(args, env, cwd).done;
}

/** Pids of live processes whose environment holds `NAME=value` (how tests tag what they start). */
export function processesTagged(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`);
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^State:\s+Z/m.test(status)) continue;
      if (environ.includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return pids;
}
