import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The faultline package's own folder (where fixtures/ and node_modules/ are). Found by walking
 * up from this module rather than counting `..`, because the CLI runs a bundle of the harness
 * that lives in node_modules/.cache, not beside the sources.
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "faultline")
          return dir;
      } catch {
        // Not a readable manifest: keep climbing.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error(
        `cannot find faultline's package.json above ${fileURLToPath(import.meta.url)}`,
      );
    dir = parent;
  }
}

/** faultline's package folder. */
export const PACKAGE_ROOT = findPackageRoot();

/** faultline's version, from its package.json. */
export function faultlineVersion(): string {
  return (
    JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }
  ).version;
}

/**
 * Where a run's temp dirs go. FAULTLINE_TMPDIR wins; else /dev/shm on Linux, since a throwaway
 * cluster on tmpfs starts several times faster than on a VM's disk; else the OS temp dir.
 */
export function defaultTmpRoot(): string {
  if (process.env.FAULTLINE_TMPDIR) return process.env.FAULTLINE_TMPDIR;
  if (process.platform === "linux") {
    try {
      accessSync("/dev/shm", constants.W_OK);
      return "/dev/shm";
    } catch {
      // No writable tmpfs: use the disk.
    }
  }
  return tmpdir();
}
