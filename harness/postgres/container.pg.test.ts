import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { getContainerRuntimeClient } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor, PostgresFailedError } from "../errors.ts";
import {
  CONTAINER_LABEL,
  DEFAULT_MIGRATIONS_DIR,
  resolvePostgresProvider,
  startEnvironment,
} from "./index.ts";

// No registry is reachable here, and Ryuk's image cannot be pulled; faultline removes its
// containers itself. Set before testcontainers starts anything.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "localhost";

const engine = await getContainerRuntimeClient().then(
  (client) => ({ client, missing: undefined }),
  (error: Error) => ({ client: undefined, missing: error.message }),
);
if (engine.missing && process.env.CI)
  throw new Error(
    `CI must run the container provider's tests, but no Docker engine answered: ${engine.missing}`,
  );

const here = path.dirname(fileURLToPath(import.meta.url));
let root: string;

/** Containers any faultline start left on the engine. */
async function faultlineContainers(): Promise<string[]> {
  const all = (await engine.client?.container.list()) ?? [];
  return all.filter((c) => c.Labels?.[CONTAINER_LABEL] !== undefined).map((c) => c.Id);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-container-test-"));
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
});

afterAll(async () => {
  delete process.env.FAULTLINE_TMPDIR;
  await rm(root, { recursive: true, force: true });
});

describe.runIf(engine.client)("container: Postgres through testcontainers", () => {
  it("runs a run environment, sees a server error in its log, and leaves nothing behind", async () => {
    const before = await faultlineContainers();
    const started = performance.now();
    const env = await startEnvironment({
      provider: resolvePostgresProvider("container"),
      migrationsDir: DEFAULT_MIGRATIONS_DIR,
    });
    const setupMs = performance.now() - started;
    expect(env.postgres).toMatch(/^container Postgres 16\.\d+ on localhost:\d+$/);
    expect(env.server.oracle).toBe("server log");
    expect(await faultlineContainers()).toHaveLength(before.length + 1);

    const db = await env.databases.create("container oracle", [
      { dropColumn: "users.credits_balance" },
    ]);
    const client = new pg.Client({ connectionString: db.url, application_name: "container-test" });
    await client.connect();
    await client.query("BEGIN");
    await expect(client.query("SELECT credits_balance FROM users")).rejects.toThrow(
      /does not exist/,
    );
    await expect(client.query("SELECT 1")).rejects.toThrow(/current transaction is aborted/);
    await client.end();
    const log = env.server.serverLog;
    await log?.sync(async (marker) => {
      await db.query(`DO $$BEGIN RAISE LOG '%', ${pg.escapeLiteral(marker)}; END$$`);
    });
    const errors = (log?.errors({ database: db.name }) ?? []).filter(
      (e) => e.applicationName === "container-test",
    );
    expect(errors.map((e) => e.sqlstate)).toEqual(["42703", "25P02"]);
    expect(errors[0]?.statement).toBe("SELECT credits_balance FROM users");
    await env.databases.drop(db.name);

    const stopping = performance.now();
    await env.stop();
    const stopMs = performance.now() - stopping;
    expect(await faultlineContainers()).toEqual(before);
    expect((await readdir(root)).filter((e) => e.startsWith("faultline-pgc-"))).toEqual([]);
    console.log(
      `container: environment ready in ${setupMs.toFixed(0)} ms (container, migrations, oracle check); stop ${stopMs.toFixed(0)} ms`,
    );
  });

  it("removes the container when the process exits without stopping it", async () => {
    const before = await faultlineContainers();
    // A separate process that starts a container and exits at once, as a crash would.
    const script = `
      import { containerPostgres } from ${JSON.stringify(path.join(here, "index.ts"))};
      const server = await containerPostgres().start();
      console.log("started " + server.port);
      process.exit(0);`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: path.resolve(here, "..", ".."),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      output += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(output, output).toMatch(/started \d+/);
    expect(code).toBe(0);
    expect(await faultlineContainers()).toEqual(before);
  });

  it("removes, at the next start, a container whose process was killed (SIGKILL)", async () => {
    const before = await faultlineContainers();
    const script = `
      import { containerPostgres } from ${JSON.stringify(path.join(here, "index.ts"))};
      const server = await containerPostgres().start();
      console.log("started " + server.port);
      setInterval(() => {}, 1000);`;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      {
        cwd: path.resolve(here, "..", ".."),
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => {
        if (c.toString().includes("started")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`child exited with ${code} before starting`)));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("exit", resolve));
    // No hook ran: the container outlived its process.
    expect(await faultlineContainers()).toHaveLength(before.length + 1);
    const server = await resolvePostgresProvider("container").start();
    expect(await faultlineContainers()).toHaveLength(before.length + 1);
    await server.stop();
    expect(await faultlineContainers()).toEqual(before);
  });

  it("names the build script when the image is missing (exit 3)", async () => {
    const error = await resolvePostgresProvider("container:faultline/no-such-image:0")
      .start()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(PostgresFailedError);
    expect(exitCodeFor(error)).toBe(3);
    expect((error as Error).message).toMatch(/faultline\/no-such-image:0 is not on this machine/);
    expect((error as Error).message).toContain("scripts/build-postgres-image.ts");
  });
});

// Only where no engine runs: testcontainers falls back to /var/run/docker.sock whatever
// DOCKER_HOST says, so a missing engine cannot be faked beside a running one.
describe.runIf(engine.missing)("container: without an engine", () => {
  it(`is what this machine has (${engine.missing}); a start fails as infrastructure (exit 3) saying to start one`, async () => {
    const error = await resolvePostgresProvider("container")
      .start()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(PostgresFailedError);
    expect(exitCodeFor(error)).toBe(3);
    expect((error as Error).message).toMatch(/needs a Docker engine.*start one/);
  });
});
