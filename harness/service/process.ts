import { type ChildProcess, spawn } from "node:child_process";
import { request } from "undici";
import { ServiceFailedError } from "../errors.ts";
import { killQuietly, onExit, reapOnDeath, sleep } from "../lifecycle/index.ts";

/** How to start a service under test. */
export interface ServiceSpec {
  /** A shell command line, run with `sh -c` so `VAR=value program args` works. */
  command: string;
  /** Extra environment on top of faultline's own. */
  env?: Record<string, string>;
  cwd?: string;
  /** A short name for reports, e.g. `payments:fixed`. */
  label: string;
  /**
   * Readiness: GET `path` until it answers `status`, or any status below 500 when `status` is
   * not given. Default: `/healthz` answering 200 (the payments contract).
   */
  ready?: { path: string; status?: number };
  /** More environment made from the run's values (the config's `service.env`). */
  envFor?(context: ServiceEnvContext): Record<string, string>;
  /** A command run once per run before the first scenario, in `cwd` (the config's `service.build`). */
  build?: string;
  /** Start the service for every scenario (default), or once for the whole run. */
  restart?: "perScenario" | "perRun";
}

/** What faultline hands `envFor` so a service can name the variables its own way. */
export interface ServiceEnvContext {
  /** The scenario database, through the fault proxy (postgres://…). */
  databaseUrl: string;
  /** The port the service must listen on. */
  port: number;
  /** The webhook signing secret, in the shape the scenario's provider uses (`whsec_…` for Stripe). */
  webhookSecret: string;
}

/** What faultline hands every service: the contract's three variables, plus the config's `env`. */
export interface ServiceEnv extends Record<string, string> {
  DATABASE_URL: string;
  PORT: string;
  STRIPE_WEBHOOK_SECRET: string;
}

export interface StartServiceOptions {
  spec: ServiceSpec;
  env: ServiceEnv;
  /** How long to wait for the readiness probe, in milliseconds (default 15000). */
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

const OUTPUT_LINES = 20;

/** A running service under test. */
export class StartedService implements AsyncDisposable {
  readonly url: string;
  readonly label: string;
  private readonly child: ChildProcess;
  private readonly lines: string[];
  private readonly unregister: () => void;
  private stopping: Promise<void> | undefined;

  constructor(
    child: ChildProcess,
    url: string,
    label: string,
    lines: string[],
    unregister: () => void,
  ) {
    this.child = child;
    this.url = url;
    this.label = label;
    this.lines = lines;
    this.unregister = unregister;
  }

  /** The service's last lines of stdout and stderr, oldest first. */
  output(): string[] {
    return [...this.lines];
  }

  /** How the process ended ("exited with code 1", "was killed by SIGKILL"), or undefined. */
  get ended(): string | undefined {
    if (this.child.exitCode !== null) return `exited with code ${this.child.exitCode}`;
    if (this.child.signalCode !== null) return `was killed by ${this.child.signalCode}`;
    return undefined;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM the whole process group, SIGKILL after `graceMs`. Safe to call twice. */
  stop(graceMs = 3000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) {
        const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
        killQuietly(this.child.pid, "SIGTERM", true);
        const inTime = await Promise.race([
          exited.then(() => true),
          sleep(graceMs).then(() => false),
        ]);
        if (!inTime) {
          killQuietly(this.child.pid, "SIGKILL", true);
          await exited;
        }
      }
      // A child that forked helpers may have exited first: take the rest of its group too.
      killQuietly(this.child.pid, "SIGKILL", true);
      this.unregister();
    })();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Start the service in its own process group (so stopping it takes its children too, past any
 * `npx` or `sh` wrapper that would not pass SIGTERM on) and wait until its readiness probe
 * answers. Fails with the last 20 lines of its output when it exits or never becomes ready.
 */
export async function startService(options: StartServiceOptions): Promise<StartedService> {
  const { spec, env, signal } = options;
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000;
  const lines: string[] = [];
  const child = spawn("sh", ["-c", spec.command], {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const unregister = onExit(() => killQuietly(child.pid, "SIGKILL", true));
  reapOnDeath(child, { group: true, signal: "SIGTERM", graceMs: 3000 });
  const capture = (stream: NodeJS.ReadableStream | null) => {
    let partial = "";
    stream?.on("data", (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
    });
    stream?.on("end", () => {
      if (partial) lines.push(partial);
      if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
    });
  };
  capture(child.stdout);
  capture(child.stderr);
  let spawnError: Error | undefined;
  child.on("error", (error) => {
    spawnError = error;
  });

  const url = `http://127.0.0.1:${env.PORT}`;
  const ready = spec.ready ?? { path: "/healthz", status: 200 };
  const probe = `${url}${ready.path}`;
  const wanted = ready.status === undefined ? "a status below 500" : String(ready.status);
  const name = spec.label === spec.command ? "the service" : `service ${spec.label}`;
  const service = new StartedService(child, url, spec.label, lines, unregister);
  const deadline = Date.now() + readyTimeoutMs;
  try {
    for (;;) {
      if (spawnError)
        throw new ServiceFailedError(
          `${name} could not be started: ${spawnError.message}`,
          service.output(),
        );
      if (!service.running) {
        // Let the pipes drain so the error message shows what the service said before dying.
        await sleep(50);
        const how =
          child.exitCode !== null
            ? `exited with code ${child.exitCode}`
            : `was killed by ${child.signalCode}`;
        throw new ServiceFailedError(
          `${name} ${how} before it became healthy (command: ${spec.command})`,
          service.output(),
        );
      }
      if (await answers(probe, ready.status)) return service;
      if (Date.now() > deadline) {
        throw new ServiceFailedError(
          `${name} did not answer ${wanted} on GET ${probe} within ${readyTimeoutMs} ms (command: ${spec.command}${spec.cwd ? `, in ${spec.cwd}` : ""})`,
          service.output(),
        );
      }
      await sleep(20, signal);
    }
  } catch (error) {
    await service.stop(500);
    throw error;
  }
}

async function answers(url: string, status: number | undefined): Promise<boolean> {
  try {
    const response = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
    await response.body.dump();
    return status === undefined ? response.statusCode < 500 : response.statusCode === status;
  } catch {
    return false;
  }
}
