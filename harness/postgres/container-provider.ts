import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { chmod, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import path from "node:path";
import type { StartedPostgreSqlContainer } from "@testcontainers/postgresql";
import pg from "pg";
import type { ContainerRuntimeClient } from "testcontainers";
import { PostgresFailedError } from "../errors.ts";
import {
  defaultTmpRoot,
  makeTempDir,
  onExit,
  reapCommandOnDeath,
  throwIfAborted,
} from "../lifecycle/index.ts";
import type { PostgresProvider, StartedPostgres, StartOptions } from "./provider.ts";
import { ServerLog } from "./server-log.ts";

/** The image `container` alone runs. */
export const DEFAULT_POSTGRES_IMAGE = "postgres:16";

/** The label every container faultline starts carries; its value is unique per start. */
export const CONTAINER_LABEL = "dev.faultline.postgres";

/** Labels naming the process that started a container, to find ones a killed process left. */
const OWNER_PID_LABEL = "dev.faultline.pid";
const OWNER_HOST_LABEL = "dev.faultline.host";

const SUPERUSER = "postgres";
// testcontainers loads only when a container is asked for (type imports above are erased).
// Inside the container; bind-mounted from a temp dir on this machine, so the oracle reads the
// server's jsonlog file directly, as it does for embedded Postgres.
const LOG_DIR = "/var/log/faultline";
const BUILD_HINT =
  "build a local image with `npx tsx scripts/build-postgres-image.ts 16` (tags postgres:16), or pull the image while online";

// The same settings as embedded Postgres where they matter to the oracle: errors to a JSON
// log with their statement, English messages, UTC times. Durability off: the data dies with
// the container. log_file_mode lets a host user who is not the container's postgres read it.
function serverCommand(): string[] {
  const settings: Record<string, string> = {
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    logging_collector: "on",
    log_destination: "jsonlog",
    log_directory: LOG_DIR,
    log_filename: "server.log",
    log_file_mode: "0644",
    log_rotation_age: "0",
    log_rotation_size: "0",
    log_timezone: "UTC",
    log_min_messages: "warning",
    log_min_error_statement: "error",
    lc_messages: "C",
  };
  return ["postgres", ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
}

/**
 * Remove every container carrying `label=value`, synchronously: for exit paths where async
 * code no longer runs. A child Node process asks testcontainers, so the engine is found the
 * same way the start found it (DOCKER_HOST, ~/.testcontainers.properties, Docker contexts).
 */
function removeContainersSync(value: string): void {
  const [file, ...args] = removeContainersCommand(value);
  spawnSync(file as string, args, { stdio: "ignore", timeout: 30_000 });
}

/** The command line that removes every container labelled `value` (also run by the reaper). */
function removeContainersCommand(value: string): string[] {
  const entry = createRequire(import.meta.url).resolve("testcontainers");
  const script = `
    const { getContainerRuntimeClient } = require(${JSON.stringify(entry)});
    (async () => {
      const client = await getContainerRuntimeClient();
      for (const info of await client.container.list())
        if (info.Labels?.[${JSON.stringify(CONTAINER_LABEL)}] === ${JSON.stringify(value)})
          await client.container.getById(info.Id).remove({ force: true, v: true });
    })().catch(() => process.exit(1));`;
  return [process.execPath, "-e", script];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, owned by another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Exit hooks cannot run when a process is SIGKILLed: remove containers that a faultline
 * process on this machine started and that outlived it. Others' containers are not touched.
 */
async function removeOrphans(client: ContainerRuntimeClient): Promise<void> {
  const all = await client.container.list().catch(() => []);
  for (const info of all) {
    const labels = info.Labels ?? {};
    const pid = Number(labels[OWNER_PID_LABEL]);
    if (labels[CONTAINER_LABEL] === undefined || labels[OWNER_HOST_LABEL] !== hostname()) continue;
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    await client.container
      .getById(info.Id)
      .remove({ force: true, v: true })
      .catch(() => {});
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Postgres in a container through testcontainers, from `image` (default postgres:16): the
 * production image, or the local one scripts/build-postgres-image.ts makes where no registry
 * is reachable. Needs a Docker engine on this machine (the oracle's log folder is a bind
 * mount) and Postgres 15 or later (jsonlog). The container goes on stop() and on any exit.
 */
export function containerPostgres(image: string = DEFAULT_POSTGRES_IMAGE): PostgresProvider {
  return {
    name: image === DEFAULT_POSTGRES_IMAGE ? "container" : `container:${image}`,
    start: (options) => startContainer(image, options),
  };
}

async function startContainer(image: string, options: StartOptions = {}): Promise<StartedPostgres> {
  const { signal } = options;
  const { getContainerRuntimeClient, ImageName } = await import("testcontainers");
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  throwIfAborted(signal);

  let client: ContainerRuntimeClient;
  try {
    client = await getContainerRuntimeClient();
  } catch (error) {
    throw new PostgresFailedError(
      `the container provider needs a Docker engine and none answered (${describe(error)}): start one (\`dockerd &\`, Docker Desktop, or colima start), or point DOCKER_HOST at it; \`embedded\` needs no engine`,
      { cause: error },
    );
  }
  const imageName = ImageName.fromString(image);
  if (!(await client.image.exists(imageName))) {
    try {
      await client.image.pull(imageName);
    } catch (error) {
      throw new PostgresFailedError(
        `image ${image} is not on this machine and could not be pulled (${describe(error)}): ${BUILD_HINT}`,
        { cause: error },
      );
    }
  }
  throwIfAborted(signal);

  await removeOrphans(client);
  const id = randomBytes(6).toString("hex");
  const { path: logDir, forget: forgetLogDir } = makeTempDir(
    options.tmpRoot ?? defaultTmpRoot(),
    "faultline-pgc-",
  );
  // The server in the container writes here as its own uid (999 in the official image).
  await chmod(logDir, 0o777);
  // Registered before the container exists: a start cut short still leaves nothing behind.
  const unregisterHook = onExit(() => {
    removeContainersSync(id);
    rmSync(logDir, { recursive: true, force: true });
  });
  // A SIGKILLed faultline runs no hook: the reaper removes both instead.
  const forgetContainer = reapCommandOnDeath(removeContainersCommand(id));
  const unregister = () => {
    unregisterHook();
    forgetContainer();
    forgetLogDir();
  };
  const password = randomBytes(12).toString("hex");
  let started: StartedPostgreSqlContainer | undefined;
  const cleanUp = async () => {
    await started?.stop({ remove: true, removeVolumes: true, timeout: 0 }).catch(() => {});
    // A container created but never reported as started (failed readiness, Ctrl-C).
    for (const info of await client.container.list().catch(() => []))
      if (info.Labels?.[CONTAINER_LABEL] === id)
        // force: a running container (removal alone refuses those).
        await client.container
          .getById(info.Id)
          .remove({ force: true, v: true })
          .catch(() => {});
    await rm(logDir, { recursive: true, force: true });
    unregister();
  };

  try {
    started = await new PostgreSqlContainer(image)
      .withUsername(SUPERUSER)
      .withPassword(password)
      .withDatabase("postgres")
      .withLabels({
        [CONTAINER_LABEL]: id,
        [OWNER_PID_LABEL]: String(process.pid),
        [OWNER_HOST_LABEL]: hostname(),
      })
      .withBindMounts([{ source: logDir, target: LOG_DIR, mode: "rw" }])
      .withCommand(serverCommand())
      .withStartupTimeout(60_000)
      .start();
    throwIfAborted(signal);
    const server = new StartedContainerPostgres(
      started.getHost(),
      started.getPort(),
      password,
      new ServerLog(path.join(logDir, "server.json")),
      cleanUp,
    );
    await server.checkOracle(image, logDir);
    return server;
  } catch (error) {
    const logs = await containerLogs(client, id);
    await cleanUp();
    if (signal?.aborted) throw signal.reason;
    if (error instanceof PostgresFailedError) throw error;
    // The Postgres image is known to be here by now, so a registry error during start is
    // testcontainers fetching its Ryuk reaper, which faultline does not need.
    const ryuk =
      process.env.TESTCONTAINERS_RYUK_DISABLED !== "true" &&
      /ryuk|registry|pull/i.test(describe(error))
        ? " (testcontainers starts its Ryuk reaper container first, and its image could not be fetched: set TESTCONTAINERS_RYUK_DISABLED=true; faultline removes its own containers)"
        : "";
    throw new PostgresFailedError(
      `could not start Postgres from image ${image}: ${describe(error)}${ryuk}${logs ? `\n--- container output ---\n${logs}` : ""}`,
      { cause: error },
    );
  }
}

async function containerLogs(client: ContainerRuntimeClient, id: string): Promise<string> {
  try {
    const container = await client.container.fetchByLabel(CONTAINER_LABEL, id, {
      status: ["created", "running", "exited", "dead"],
    });
    if (!container) return "";
    // Without follow, Docker answers with one buffer of frames: an 8-byte header (stream,
    // padding, big-endian length) before each chunk of output.
    const raw = (await container.logs({
      follow: false,
      stdout: true,
      stderr: true,
      tail: 20,
    })) as Buffer;
    const parts: Buffer[] = [];
    for (let at = 0; at + 8 <= raw.length; ) {
      const size = raw.readUInt32BE(at + 4);
      parts.push(raw.subarray(at + 8, at + 8 + size));
      at += 8 + size;
    }
    return Buffer.concat(parts).toString("utf8").trim();
  } catch {
    return "";
  }
}

class StartedContainerPostgres implements StartedPostgres {
  readonly host: string;
  readonly port: number;
  readonly user = SUPERUSER;
  version = "";
  readonly serverLog: ServerLog;
  readonly oracle = "server log";
  private readonly password: string;
  private readonly cleanUp: () => Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor(
    host: string,
    port: number,
    password: string,
    serverLog: ServerLog,
    cleanUp: () => Promise<void>,
  ) {
    this.host = host;
    this.port = port;
    this.password = password;
    this.serverLog = serverLog;
    this.cleanUp = cleanUp;
  }

  urlFor(database: string): string {
    return `postgres://${this.user}:${this.password}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  /**
   * Read the version and prove the oracle sees this server's log: a remote engine cannot
   * share the folder, and an image older than 15 has no jsonlog. Better to fail now than to
   * report "no server errors" later.
   */
  async checkOracle(image: string, logDir: string): Promise<void> {
    const client = new pg.Client({ connectionString: this.urlFor("postgres") });
    client.on("error", () => {});
    await client.connect();
    try {
      this.version =
        (await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]
          ?.v ?? "";
      await this.serverLog.sync(async (marker) => {
        await client.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
      });
    } catch (error) {
      throw new PostgresFailedError(
        `Postgres ${this.version} from image ${image} started, but its log never reached ${logDir} (a bind mount): the container provider needs a Docker engine on this machine and Postgres 15 or later (${describe(error)})`,
        { cause: error },
      );
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Remove the container (not just stop it) and the log folder. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.cleanUp();
    return this.stopping;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
