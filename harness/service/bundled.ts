import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceSpec } from "./process.ts";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The reference payments service that ships with faultline, in its two variants. */
const PAYMENTS_MAIN = path.join(projectRoot, "fixtures", "services", "payments", "main.ts");
const TSX_LOADER = "tsx";

function payments(variant: "fixed" | "broken"): ServiceSpec {
  return {
    label: `payments:${variant}`,
    command: `exec ${JSON.stringify(process.execPath)} --import ${TSX_LOADER} ${JSON.stringify(PAYMENTS_MAIN)}`,
    env: { PAYMENTS_VARIANT: variant },
    cwd: projectRoot,
  };
}

/** Services referred to by name on the command line. */
export const bundledServices: Record<string, () => ServiceSpec> = {
  "payments:fixed": () => payments("fixed"),
  "payments:broken": () => payments("broken"),
};

/** The service `--service` means: a bundled name, or else a shell command line. */
export function resolveService(nameOrCommand: string | undefined): ServiceSpec {
  const value = nameOrCommand?.trim() || "payments:fixed";
  const bundled = bundledServices[value];
  if (bundled) return bundled();
  return { label: value, command: value };
}
