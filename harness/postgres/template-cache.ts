import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { DataSnapshot } from "./provider.ts";

const run = promisify(execFile);

/**
 * Migrating the template is the part of a cold start that grows with the project's schema. A
 * data dir saved right after the template was built, keyed by the schema's hash and the
 * Postgres build, lets the next run with the same schema start from it instead. Entries live
 * beside the initdb cache (cluster-cache.ts): `template-<slot>-<key>`, where the slot names the
 * schema's origin plus the build and initdb flags, and the key the schema's content.
 *
 * Pruning: saving a key replaces every other entry of its slot (an edited migration folder keeps
 * one entry, not one per edit), and beyond MAX_ENTRIES the least recently used entries go
 * (a hit touches its entry).
 */
const MAX_ENTRIES = 8;
const PREFIX = "template-";

/** Where one snapshot lives in the cache. */
interface SnapshotEntry {
  cacheDir: string;
  /** `template-<slot>-`: every key of the same slot starts with it. */
  prefix: string;
  name: string;
}

function short(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** The cache entry for a snapshot on one Postgres build (`clusterKey` names build, flags, user). */
export function snapshotEntry(
  cacheDir: string,
  snapshot: DataSnapshot,
  clusterKey: string,
): SnapshotEntry {
  const prefix = `${PREFIX}${short(`${snapshot.slot}\0${clusterKey}`, 12)}-`;
  return { cacheDir, prefix, name: `${prefix}${short(snapshot.key, 16)}` };
}

/**
 * Copy a saved data dir into `dataDir`. `stale` says the slot held only other keys: the schema
 * changed since the cached template was made.
 */
export async function restoreSnapshot(
  entry: SnapshotEntry,
  dataDir: string,
): Promise<{ restored: boolean; stale: boolean }> {
  const source = path.join(entry.cacheDir, entry.name);
  try {
    await access(path.join(source, "PG_VERSION"));
  } catch {
    const names = await readdir(entry.cacheDir).catch(() => [] as string[]);
    const stale = names.some((n) => n.startsWith(entry.prefix) && !n.includes(".tmp"));
    return { restored: false, stale };
  }
  try {
    // cp -a keeps the owner (the unprivileged user Postgres runs as) and the 0700 mode.
    await rm(dataDir, { recursive: true, force: true });
    await run("cp", ["-a", source, dataDir]);
    const now = new Date();
    await utimes(source, now, now).catch(() => {});
    return { restored: true, stale: false };
  } catch {
    // Pruned by another run mid-copy: start without it.
    await rm(dataDir, { recursive: true, force: true });
    return { restored: false, stale: false };
  }
}

/** Save a cleanly stopped data dir under `entry`, then prune. Failures only cost speed. */
export async function saveSnapshot(entry: SnapshotEntry, dataDir: string): Promise<void> {
  const target = path.join(entry.cacheDir, entry.name);
  const staging = `${target}.${process.pid}.tmp`;
  try {
    await mkdir(entry.cacheDir, { recursive: true });
    await run("cp", ["-a", dataDir, staging]);
    // The log is this run's (the oracle reads it from the start); the rest is the cluster.
    await rm(path.join(staging, "log"), { recursive: true, force: true });
    await rm(path.join(staging, "postmaster.opts"), { force: true });
    // rename is atomic: a concurrent run sees either no entry or a whole one.
    await rename(staging, target);
  } catch {
    // Another run saved the same entry first, or the folder is read-only.
  } finally {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
  }
  await prune(entry).catch(() => {});
}

async function prune(entry: SnapshotEntry): Promise<void> {
  const names = (await readdir(entry.cacheDir)).filter(
    (n) => n.startsWith(PREFIX) && !n.includes(".tmp"),
  );
  const doomed = names.filter((n) => n.startsWith(entry.prefix) && n !== entry.name);
  const rest = names.filter((n) => !doomed.includes(n));
  if (rest.length > MAX_ENTRIES) {
    const aged = await Promise.all(
      rest.map(async (n) => ({
        n,
        used: (await stat(path.join(entry.cacheDir, n)).catch(() => undefined))?.mtimeMs ?? 0,
      })),
    );
    aged.sort((a, b) => a.used - b.used);
    for (const { n } of aged.slice(0, rest.length - MAX_ENTRIES))
      if (n !== entry.name) doomed.push(n);
  }
  for (const name of doomed) {
    // Rename first so a run restoring from it fails whole (and falls back) rather than half.
    const trash = path.join(entry.cacheDir, `${name}.${process.pid}.tmp`);
    await rename(path.join(entry.cacheDir, name), trash).catch(() => {});
    await rm(trash, { recursive: true, force: true }).catch(() => {});
  }
}
