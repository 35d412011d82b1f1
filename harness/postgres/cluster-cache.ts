import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";

const run = promisify(execFile);

/**
 * initdb costs 1–2 s on these machines, most of a cold run. Its output depends only on the
 * Postgres build, the flags and the OS user, so the first run keeps a pristine copy and later
 * runs copy it (~0.1 s). Set FAULTLINE_CLUSTER_CACHE=off to always run initdb, or to a folder
 * to keep the copy there instead of node_modules/.cache/faultline.
 */
export function clusterCacheDir(): string | undefined {
  const setting = process.env.FAULTLINE_CLUSTER_CACHE;
  if (setting === "off") return undefined;
  return setting || path.join(PACKAGE_ROOT, "node_modules", ".cache", "faultline");
}

/** The cache entry's path for one Postgres build, initdb command line and OS user. */
export function clusterCacheKey(
  version: string,
  initdbArgs: string[],
  uid: number | undefined,
): string {
  const hash = createHash("sha256")
    .update(JSON.stringify({ version, initdbArgs, uid }))
    .digest("hex")
    .slice(0, 16);
  return `cluster-${version}-${hash}`;
}

/** Copy a pristine cluster into `dataDir` when the cache has one; false when it has not. */
export async function restoreCluster(
  cacheDir: string,
  key: string,
  dataDir: string,
): Promise<boolean> {
  const source = path.join(cacheDir, key);
  try {
    await access(path.join(source, "PG_VERSION"));
  } catch {
    return false;
  }
  // cp -a keeps the owner (the unprivileged user Postgres runs as) and the 0700 mode.
  await rm(dataDir, { recursive: true, force: true });
  await run("cp", ["-a", source, dataDir]);
  return true;
}

/** Keep a copy of a freshly initialised, never started cluster. Failures only cost speed. */
export async function saveCluster(cacheDir: string, key: string, dataDir: string): Promise<void> {
  const target = path.join(cacheDir, key);
  const staging = `${target}.${process.pid}.tmp`;
  try {
    await mkdir(cacheDir, { recursive: true });
    await run("cp", ["-a", dataDir, staging]);
    // rename is atomic: a concurrent run sees either no entry or a whole one.
    await rename(staging, target);
  } catch {
    // Another run won the race, or the folder is read-only: keep running without a cache.
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
}
