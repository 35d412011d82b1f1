import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Message } from "esbuild";
import { PACKAGE_ROOT } from "../lifecycle/index.ts";

/** Where the CLI's loader records the URL of the running harness's public API module. */
export const API_URL_KEY = Symbol.for("faultline.apiUrl");

/**
 * The module a scenario's `import … from "faultline"` must reach: the very API the runner is
 * using (so both share one set of module instances), whether that is the CLI's bundle or,
 * under tsx and vitest, the TypeScript sources, or (the installed package used as a library,
 * which ships no sources) its dist/index.js.
 */
function apiUrl(): string {
  const fromLoader = (globalThis as Record<symbol, unknown>)[API_URL_KEY];
  if (typeof fromLoader === "string") return fromLoader;
  const sources = path.join(PACKAGE_ROOT, "harness", "index.ts");
  return pathToFileURL(existsSync(sources) ? sources : path.join(PACKAGE_ROOT, "dist", "index.js"))
    .href;
}

function formatMessage(m: Message): string {
  const where = m.location ? `${m.location.line}:${m.location.column + 1}: ` : "";
  return `${where}${m.text}`;
}

/** A scenario file failed to compile; `details` are esbuild's messages with line and column. */
export class ScenarioCompileError extends Error {}

/**
 * Compile a scenario or config file (TypeScript, ESM or not, with whatever relative imports it has) into
 * one module and import it. esbuild takes ~10 ms per file, where a TypeScript loader would
 * re-load the whole harness behind the scenario's `import "faultline"`.
 */
export async function importModule(file: string): Promise<{ default?: unknown }> {
  let code: string;
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "silent",
      plugins: [
        {
          name: "faultline-api",
          setup(b) {
            b.onResolve({ filter: /^faultline$/ }, () => ({ path: apiUrl(), external: true }));
          },
        },
      ],
    });
    code = result.outputFiles[0]?.text ?? "";
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    throw new ScenarioCompileError(
      errors?.length ? errors.map(formatMessage).join("; ") : (error as Error).message,
    );
  }
  // A data: URL module may import absolute URLs and built-ins, which is all the output holds.
  return (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as {
    default?: unknown;
  };
}
