import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";

/** The file the package's build writes the page to, beside the bundled harness in dist/. */
export const PAGE_BUNDLE_FILE = "report-page.js";

/** How the page's TypeScript becomes the one script the report inlines. */
export function pageBuildOptions(entry: string): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  };
}

/**
 * Where the page's sources are: beside this module when it runs from harness/ (tests, tsx), or
 * under the harness folder bin/faultline.mjs names when it runs from the bundle cache.
 */
function pageEntry(): string | undefined {
  const harnessDir = (globalThis as Record<symbol, unknown>)[Symbol.for("faultline.harnessDir")];
  const candidates = [
    ...(typeof harnessDir === "string" ? [path.join(harnessDir, "report", "page", "main.ts")] : []),
    fileURLToPath(new URL("./page/main.ts", import.meta.url)),
  ];
  return candidates.find((file) => existsSync(file));
}

let pageScriptText: string | undefined;

/**
 * The report page's script: the installed package's prebuilt dist/report-page.js, else the
 * repository's harness/report/page/ bundled now (some tens of milliseconds, once a process).
 */
export function pageScript(): string {
  if (pageScriptText !== undefined) return pageScriptText;
  const prebuilt = fileURLToPath(new URL(`./${PAGE_BUNDLE_FILE}`, import.meta.url));
  if (existsSync(prebuilt)) pageScriptText = readFileSync(prebuilt, "utf8");
  else {
    const entry = pageEntry();
    if (!entry)
      throw new Error(
        `the report page is missing: no ${prebuilt} and no harness/report/page/main.ts (rebuild the package: npm run build)`,
      );
    // Required only here, so the installed package never loads esbuild to write a report.
    const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
    const built = buildSync({ ...pageBuildOptions(entry), write: false });
    pageScriptText = built.outputFiles?.[0]?.text ?? "";
  }
  return pageScriptText;
}
