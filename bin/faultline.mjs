#!/usr/bin/env node
// faultline's command line. An installed package ships dist/ (built by scripts/build-package.ts
// at `npm pack`) and no harness/ sources: it runs dist/cli.js. In the repository the harness is
// TypeScript; Node 20 cannot run it directly, and a TypeScript loader hook slows every import of
// a run by about a second. So there the first run after a change bundles harness/ with esbuild
// (~0.2 s) into node_modules/.cache/faultline, keyed by the sources' sizes and times, and every
// run imports that bundle. A dist/ left by `npm run build` in the repository is not used: the
// sources beside it are newer by definition.
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const harness = path.join(root, "harness");
// The bundle cache runs from node_modules (possibly another checkout's, through a symlink), so
// the report finds its page's sources here rather than beside its own module.
globalThis[Symbol.for("faultline.harnessDir")] = harness;

function fingerprint() {
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const { size, mtimeMs } = statSync(full);
        hash.update(`${path.relative(harness, full)}\0${size}\0${mtimeMs}\n`);
      }
    }
  };
  walk(harness);
  hash.update(readFileSync(path.join(root, "package.json")));
  hash.update(process.version);
  return hash.digest("hex").slice(0, 16);
}

// The bundle must sit inside the package (node_modules/.cache) so its imports of pg, stripe and
// the rest resolve; where that folder is read-only and holds no bundle yet, tsx runs instead.
async function bundledHarness() {
  const cache = path.join(root, "node_modules", ".cache", "faultline");
  const dir = path.join(cache, `harness-${fingerprint()}`);
  try {
    statSync(path.join(dir, "cli.js"));
    return dir;
  } catch {
    // Not built yet for these sources.
  }
  mkdirSync(cache, { recursive: true });
  accessSync(cache, constants.W_OK);
  const { build } = await import("esbuild");
  const staging = `${dir}.${process.pid}.tmp`;
  await build({
    entryPoints: { cli: path.join(harness, "cli/index.ts"), index: path.join(harness, "index.ts") },
    outdir: staging,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  try {
    renameSync(staging, dir);
  } catch {
    // A concurrent run renamed its identical build first.
    rmSync(staging, { recursive: true, force: true });
  }
  pruneOldBundles(cache, dir);
  return dir;
}

// Each edit of harness/ makes a new bundle; drop those a day old (a running CLI has long
// finished loading its chunks by then).
function pruneOldBundles(cache, keep) {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const entry of readdirSync(cache)) {
    const full = path.join(cache, entry);
    if (!entry.startsWith("harness-") || full === keep) continue;
    try {
      if (statSync(full).mtimeMs < dayAgo) rmSync(full, { recursive: true, force: true });
    } catch {
      // Another run pruned it first.
    }
  }
}

// The installed package's build, or undefined in the repository (where harness/ exists).
function installedHarness() {
  try {
    statSync(harness);
    return undefined;
  } catch {
    // No sources: this is an installed package.
  }
  const dist = path.join(root, "dist");
  try {
    statSync(path.join(dist, "cli.js"));
  } catch {
    console.error(
      `faultline: ${dist}/cli.js is missing: this copy was never built (npm run build)`,
    );
    process.exit(3);
  }
  return dist;
}

// Scenarios import "faultline": point them at the running harness's own API module, not at a
// second copy of it.
async function load(dir) {
  globalThis[Symbol.for("faultline.apiUrl")] = pathToFileURL(path.join(dir, "index.js")).href;
  return (await import(pathToFileURL(path.join(dir, "cli.js")).href)).main;
}

let main;
const installed = installedHarness();
if (installed) main = await load(installed);
else {
  try {
    main = await load(await bundledHarness());
  } catch (error) {
    // No esbuild, or no writable cache: run the sources through tsx instead (slower start).
    if (process.env.FAULTLINE_DEBUG) console.error(error);
    const { register } = await import("tsx/esm/api");
    register();
    ({ main } = await import("../harness/cli/index.ts"));
  }
}
const code = await main(process.argv.slice(2));
// Exit explicitly: a stray handle must not keep the CLI alive after the verdict.
process.exit(code);
