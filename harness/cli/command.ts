import type { FlagTable } from "./flags.ts";

/** One `faultline <name>` command: main dispatches to it by name. */
export interface Command {
  readonly name: string;
  /** What it does, in one line (for readers and tests; the help texts use their own words). */
  readonly summary: string;
  /** The flags it parses; those with help text are the option list of its help. */
  readonly flags: FlagTable;
  /** The example command lines its help ends with. */
  readonly example: string;
  /** Its whole `--help` (also `faultline help <name>`). */
  readonly help: string;
  /**
   * What SIGINT/SIGTERM means to it. "stop": it serves until interrupted, so that is its normal
   * end (exit 0). "void": it gives a verdict, and a run interrupted even while it wound down
   * gives none (exit 130/143). Unset: its own exit code stands.
   */
  readonly interrupt?: "stop" | "void";
  /** Runs it; resolves to the process exit code. */
  run(args: string[], signal: AbortSignal): Promise<number>;
}

/**
 * A command's help with the docs page that explains it in full, last: the page ships in the
 * package (node_modules/faultline/docs) as well as in the repository.
 */
export function withDocs(page: string, help: string): string {
  return `${help.replace(/\n*$/, "\n")}\nMore: ${page} (in the faultline repository, and in node_modules/faultline/)\n`;
}
