import { existsSync, readFileSync } from "node:fs";
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
