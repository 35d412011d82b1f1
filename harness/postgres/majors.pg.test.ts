import { existsSync } from "node:fs";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exitCodeFor, PostgresFailedError } from "../errors.ts";
import { installedPostgres, majorOf, POSTGRES_MAJORS } from "./postgres-majors.ts";
import { resolvePostgresProvider } from "./providers.ts";

// A major other than the one npm installed, so the first start has to fetch it.
const installedMajor = majorOf(installedPostgres().version);
const otherMajor = installedMajor === 16 ? 17 : 16;
const thirdMajor = Object.keys(POSTGRES_MAJORS)
  .map(Number)
  .find((m) => m !== installedMajor && m !== otherMajor) as number;

let root: string;
let savedCache: string | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-majors-test-"));
  await chmod(root, 0o755);
  savedCache = process.env.FAULTLINE_POSTGRES_CACHE;
});

afterAll(async () => {
  if (savedCache === undefined) delete process.env.FAULTLINE_POSTGRES_CACHE;
  else process.env.FAULTLINE_POSTGRES_CACHE = savedCache;
  await rm(root, { recursive: true, force: true });
});

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ version: string }>("SELECT version()")).rows[0]?.version ?? "";
  } finally {
    await client.end();
  }
}

/** Start, ask the server its version, stop; with the time each part took. */
async function startOnce(spec: string) {
  const provider = resolvePostgresProvider(spec);
  const started = performance.now();
  const server = await provider.start({ tmpRoot: root });
  const startMs = performance.now() - started;
  try {
    return { provider, server, startMs, version: await serverVersion(server.urlFor("postgres")) };
  } finally {
    await server.stop();
  }
}

describe("embedded:<major>", () => {
  it(`fetches Postgres ${otherMajor} once, then starts it from the cache`, async () => {
    const cache = path.join(root, "cache");
    process.env.FAULTLINE_POSTGRES_CACHE = cache;
    const first = await startOnce(`embedded:${otherMajor}`);
    expect(first.provider.name).toBe(`embedded:${otherMajor}`);
    expect(first.version).toMatch(new RegExp(`^PostgreSQL ${otherMajor}\\.`));
    expect(first.server.version).toBe(POSTGRES_MAJORS[otherMajor]);
    expect(await readdir(cache)).toEqual([POSTGRES_MAJORS[otherMajor]]);

    const second = await startOnce(`embedded:${otherMajor}`);
    expect(second.version).toMatch(new RegExp(`^PostgreSQL ${otherMajor}\\.`));
    // The first start paid for the download; the second finds it on disk.
    expect(second.startMs).toBeLessThan(first.startMs);
    console.log(
      `embedded:${otherMajor}: first start (fetch + start) ${first.startMs.toFixed(0)} ms, second (cached) ${second.startMs.toFixed(0)} ms`,
    );
  });

  it(`runs the installed major (${installedMajor}) without fetching`, async () => {
    const cache = path.join(root, "empty-cache");
    process.env.FAULTLINE_POSTGRES_CACHE = cache;
    const run = await startOnce(`embedded:${installedMajor}`);
    expect(run.version).toMatch(new RegExp(`^PostgreSQL ${installedMajor}\\.`));
    expect(existsSync(cache)).toBe(false);
  });

  it("offline with an empty cache, fails as infrastructure (exit 3) saying what to run", async () => {
    process.env.FAULTLINE_POSTGRES_CACHE = path.join(root, "offline-cache");
    // npm reads its settings from the environment: a registry nobody listens on, no retries.
    const saved = { ...process.env };
    process.env.npm_config_registry = "http://127.0.0.1:9/";
    process.env.npm_config_fetch_retries = "0";
    process.env.npm_config_offline = "false";
    try {
      const provider = resolvePostgresProvider(`embedded:${thirdMajor}`);
      const error = await provider.start({ tmpRoot: root }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PostgresFailedError);
      expect(exitCodeFor(error)).toBe(3);
      expect((error as Error).message).toContain(`npx faultline postgres fetch ${thirdMajor}`);
    } finally {
      for (const key of ["npm_config_registry", "npm_config_fetch_retries", "npm_config_offline"])
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
    }
    // Nothing half-fetched is left to be mistaken for a build.
    expect(await readdir(path.join(root, "offline-cache"))).toEqual([]);
  });
});
