import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Files copied byte for byte from other projects (the JUnit schemas, a real drizzle-kit migration
 * folder), kept outside the repository: `../shared/data` beside its root, in CI and for every
 * developer (see its README.md for each file's origin and licence). `FAULTLINE_SHARED_DATA`
 * points elsewhere; a relative value is taken from the repository's root, as the default is.
 */
export const SHARED_DATA = path.resolve(
  ROOT,
  process.env.FAULTLINE_SHARED_DATA || "../shared/data",
);

/** A path inside the shared data, e.g. `sharedData("junit-schemas", "windyroad-JUnit.xsd")`. */
export function sharedData(...segments: string[]): string {
  return path.join(SHARED_DATA, ...segments);
}

/** Why the shared data cannot serve these entries (folders or files in it), or undefined. */
export function sharedDataMissing(entries: readonly string[]): string | undefined {
  const source = process.env.FAULTLINE_SHARED_DATA
    ? `FAULTLINE_SHARED_DATA=${process.env.FAULTLINE_SHARED_DATA}`
    : "../shared/data beside the repository";
  if (!existsSync(SHARED_DATA))
    return `the shared test data is not at ${SHARED_DATA} (${source}; set FAULTLINE_SHARED_DATA to where it is)`;
  const absent = entries.filter((entry) => !existsSync(sharedData(entry)));
  if (absent.length > 0)
    return `the shared test data at ${SHARED_DATA} has no ${absent.join(", ")} (${source})`;
  return undefined;
}

/**
 * A describe block whose tests read these entries of the shared data. When they are missing it
 * fails under CI (one test naming what is missing) and is skipped otherwise, the reason in its
 * name and on stderr (vitest's default reporter names no skipped test), so a run without the
 * data says what it did not test.
 */
export function describeSharedData(
  name: string,
  entries: readonly string[],
  tests: () => void,
): void {
  const missing = sharedDataMissing(entries);
  if (!missing) describe(name, tests);
  else if (process.env.CI)
    describe(name, () => {
      it("finds its shared test data", () => {
        throw new Error(`CI must run these tests, but ${missing}`);
      });
    });
  else {
    console.warn(`skipped "${name}": ${missing}`);
    describe.skip(`${name} (skipped: ${missing})`, tests);
  }
}
