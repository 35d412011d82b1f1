/**
 * Builds what `npm pack` ships: dist/cli.js, dist/index.js and dist/vitest.js (ESM, code split, so
 * the entries share chunks and with them module state; dependencies left as imports so they
 * resolve from the installing project's node_modules), dist/report-page.js (the HTML report's
 * browser script) and dist/types/*.d.ts.
 * Run by `npm run build` and by `prepack`, so a tarball never carries a stale build.
 *
 * The .d.ts files come from `tsc --emitDeclarationOnly`. TypeScript 5.9's
 * rewriteRelativeImportExtensions rewrites `./x.ts` in emitted JavaScript only, not in
 * declarations, so the `.ts` specifiers are rewritten to `.js` here: a consumer's tsc then
 * resolves them to the sibling .d.ts files under any moduleResolution.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { PAGE_BUNDLE_FILE, pageBuildOptions } from "../harness/report/page-script.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");

/** `from "./a.ts"`, `import("../b.ts")`: relative specifiers ending in .ts, in declarations. */
const RELATIVE_TS = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;

function rewriteDeclarations(dir: string): number {
  let files = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files += rewriteDeclarations(full);
    else if (entry.name.endsWith(".d.ts")) {
      const text = readFileSync(full, "utf8");
      const rewritten = text.replace(RELATIVE_TS, "$1$2.js$3");
      if (rewritten !== text) writeFileSync(full, rewritten);
      files++;
    }
  }
  return files;
}

rmSync(dist, { recursive: true, force: true });
const started = Date.now();
await build({
  entryPoints: {
    cli: path.join(root, "harness", "cli", "index.ts"),
    index: path.join(root, "harness", "index.ts"),
    // Its own entry, so only `faultline/vitest` imports vitest (an optional peer dependency).
    vitest: path.join(root, "harness", "vitest", "index.ts"),
  },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
// The HTML report's browser script, prebuilt: an installed copy has no page sources to bundle.
await build({
  ...pageBuildOptions(path.join(root, "harness", "report", "page", "main.ts")),
  outfile: path.join(dist, PAGE_BUNDLE_FILE),
});
execFileSync(
  process.execPath,
  [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
  { cwd: root, stdio: "inherit" },
);
const declarations = rewriteDeclarations(path.join(dist, "types"));
console.log(
  `build-package: dist/cli.js, dist/index.js, dist/vitest.js, dist/${PAGE_BUNDLE_FILE} and ${declarations} declaration files in ${Date.now() - started} ms`,
);
