import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";
import { defaultTmpRoot, makeTempDir, onExit, PACKAGE_ROOT } from "../lifecycle/index.ts";
import type { ServiceEnvContext, ServiceSpec } from "./process.ts";

/** The service block of a faultline.config file, resolved (paths absolute). */
export interface ConfiguredService {
  command: string;
  cwd: string;
  env(context: ServiceEnvContext): Record<string, string>;
  ready: { path: string; status?: number };
  build: string | undefined;
  restart: "perScenario" | "perRun";
}

/** The reference payments service that ships with faultline. */
const PAYMENTS_MAIN = path.join(PACKAGE_ROOT, "fixtures", "services", "payments", "main.ts");

/** The bundled services, by the name `--service` takes. */
export const bundledServices: Record<string, { entry: string; env: Record<string, string> }> = {
  "payments:fixed": { entry: PAYMENTS_MAIN, env: { PAYMENTS_VARIANT: "fixed" } },
  "payments:broken": { entry: PAYMENTS_MAIN, env: { PAYMENTS_VARIANT: "broken" } },
};

/** A service ready to start, and what to clean up once the run is over. */
export interface ResolvedService {
  spec: ServiceSpec;
  dispose(): Promise<void>;
}

/**
 * The service `--service` means: a bundled name, or else a shell command line, which replaces
 * the config's `service.command` and keeps the rest of its block. With neither, the config's
 * service; with no config either, the bundled payments:fixed. A bundled TypeScript service is
 * compiled once per run into a single file with esbuild, because starting it through a
 * TypeScript loader costs ~1 s per scenario and a plain bundle ~0.25 s.
 */
export async function resolveService(
  nameOrCommand: string | undefined,
  configured?: ConfiguredService,
): Promise<ResolvedService> {
  const value = nameOrCommand?.trim() || (configured ? configured.command : "payments:fixed");
  const bundled = bundledServices[value];
  if (!bundled) {
    const spec: ServiceSpec = configured
      ? {
          label: value,
          command: value,
          cwd: configured.cwd,
          envFor: configured.env,
          ready: configured.ready,
          build: configured.build,
          restart: configured.restart,
        }
      : { label: value, command: value };
    return { spec, dispose: async () => {} };
  }

  const { path: dir, forget: forgetDir } = makeTempDir(defaultTmpRoot(), "faultline-service-");
  const unregister = onExit(() => rmSync(dir, { recursive: true, force: true }));
  const dispose = async () => {
    await rm(dir, { recursive: true, force: true });
    unregister();
    forgetDir();
  };
  const outfile = path.join(dir, "service.mjs");
  try {
    await build({
      entryPoints: [bundled.entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "silent",
      // Bundled CommonJS dependencies (pg) still call require() for Node built-ins.
      banner: {
        js: "import { createRequire as __faultlineRequire } from 'node:module'; const require = __faultlineRequire(import.meta.url);",
      },
    });
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    spec: {
      label: value,
      command: `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(outfile)}`,
      env: bundled.env,
      cwd: PACKAGE_ROOT,
      // A config that names a bundled service still says how often it is started.
      ...(configured?.restart === "perRun" ? { restart: "perRun" as const } : {}),
    },
    dispose,
  };
}
