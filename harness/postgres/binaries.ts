import { execFile } from "node:child_process";
import { cp, mkdir, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PostgresFailedError } from "../errors.ts";
import type { RunAs } from "./os-user.ts";
import { installedPostgres, postgresMajorDir } from "./postgres-majors.ts";

const run = promisify(execFile);

/** Paths of the Postgres programs faultline drives. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  version: string;
}

async function canExecute(binary: string, runAs: RunAs): Promise<boolean> {
  try {
    await run(binary, ["--version"], { uid: runAs.uid, gid: runAs.gid });
    return true;
  } catch {
    return false;
  }
}

/**
 * Find the Postgres binaries (the installed package's, or `major`'s from the cache, fetched on
 * first use) and make sure `runAs` may execute them. When they live somewhere the
 * unprivileged user cannot reach (a checkout or a cache under /root, say), they are copied
 * once into a world-readable cache in the temp dir and reused by later runs.
 */
export async function resolveBinaries(runAs: RunAs, major?: number): Promise<PostgresBinaries> {
  const found = major === undefined ? installedPostgres() : await postgresMajorDir(major);
  let nativeDir = found.nativeDir;
  const { version } = found;
  if (!(await canExecute(path.join(nativeDir, "bin", "postgres"), runAs))) {
    const cached = path.join(tmpdir(), `faultline-postgres-${version}`);
    const exists = await stat(path.join(cached, "bin", "postgres")).then(
      () => true,
      () => false,
    );
    if (!exists) {
      const staging = `${cached}.${process.pid}`;
      await mkdir(staging, { recursive: true, mode: 0o755 });
      await cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
      await run("chmod", ["-R", "a+rX", staging]);
      await rename(staging, cached).catch(async () =>
        rm(staging, { recursive: true, force: true }),
      );
    }
    nativeDir = cached;
    if (!(await canExecute(path.join(nativeDir, "bin", "postgres"), runAs))) {
      throw new PostgresFailedError(
        `OS user ${runAs.name} cannot execute ${path.join(nativeDir, "bin", "postgres")}`,
      );
    }
  }
  return {
    initdb: path.join(nativeDir, "bin", "initdb"),
    postgres: path.join(nativeDir, "bin", "postgres"),
    version,
  };
}
