import path from "node:path";
// An inner file, not report/index.ts: it is needed before any command's heavy imports.
import { shellWord } from "../report/markdown.ts";
import type { ScenarioResult } from "../scenario/index.ts";
import type { FlagTokens } from "./flags.ts";
import { REPORT_FLAGS } from "./run-flags.ts";

/** How the user called faultline, for command lines they can paste back. */
function invocation(): string {
  const script = process.argv[1] ?? "faultline";
  // Installed (npx, npm scripts, node_modules/.bin): npx finds it again from the project.
  if (script.split(path.sep).includes("node_modules")) return "npx faultline";
  const relative = path.relative(process.cwd(), script);
  return `node ${relative.startsWith("..") ? script : relative}`;
}

/**
 * The command line that replays one scenario exactly: `run` on its file with the same flags,
 * the seed it ran with, and `service` when given (a gate's failing side); report files are left
 * out so a replay does not overwrite the CI's.
 */
export function replayCommandLine(
  tokens: FlagTokens,
  { file, seed, cell }: ScenarioResult,
  service?: string,
): string {
  const words = ["faultline", "run", file];
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (
      ["seed", "baseline", "candidate", "concurrency", "cell", "quiet", "verbose"].includes(
        token.name,
      )
    )
      continue;
    if (REPORT_FLAGS.has(token.name) || (service !== undefined && token.name === "service"))
      continue;
    words.push(`--${token.name}`);
    if (token.value !== undefined) words.push(token.value);
  }
  if (service !== undefined) words.push("--service", service);
  for (const [axis, label] of Object.entries(cell ?? {})) words.push("--cell", `${axis}=${label}`);
  words.push("--seed", String(seed));
  return [invocation(), ...words.slice(1).map(shellWord)].join(" ");
}
