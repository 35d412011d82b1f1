import { type ParseArgsConfig, parseArgs } from "node:util";
import { BadUsageError } from "../errors.ts";

/**
 * One command-line flag: what node:util parseArgs needs to read it, and how the command's help
 * lists it. A flag without `help` is still parsed; its command describes it in prose (or, as
 * with load's --config, points to run's help).
 */
export interface Flag {
  readonly type: "string" | "boolean";
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in the help's left column, e.g. "<file>". */
  readonly value?: string;
  /** The left column when it is not this flag alone, e.g. several flags described together. */
  readonly label?: string;
  /** The right column, one entry a printed line. */
  readonly help?: readonly string[];
}

export type FlagTable = Readonly<Record<string, Flag>>;

type FlagValue<F extends Flag> = F["type"] extends "boolean"
  ? F["multiple"] extends true
    ? boolean[]
    : boolean
  : F["multiple"] extends true
    ? string[]
    : string;

/** What parseArgs reads for a table: each flag's value, absent when not given. */
export type FlagValues<T extends FlagTable> = { -readonly [K in keyof T]?: FlagValue<T[K]> };

/** The flags as given, in order: a replay command line is rebuilt from them. */
export type FlagTokens = NonNullable<
  ReturnType<
    typeof parseArgs<{
      options: NonNullable<ParseArgsConfig["options"]>;
      allowPositionals: boolean;
      tokens: true;
    }>
  >["tokens"]
>;

export const HELP_FLAG = { type: "boolean", short: "h" } as const satisfies Flag;

/**
 * A malformed command line: main prints the message followed by the global usage text. The
 * commands cannot add it themselves: it is built from their sections, so importing it would be
 * a cycle.
 */
export class UsageError extends BadUsageError {}

/**
 * The command line against a flag table, strictly: an unknown flag or a missing value is bad
 * usage, followed by `help` when given (the command's own help) or else the global usage.
 */
export function parseFlags<T extends FlagTable>(
  args: string[],
  flags: T,
  { positionals = false, help }: { positionals?: boolean; help?: string } = {},
): { values: FlagValues<T>; positionals: string[]; tokens: FlagTokens } {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple ? { multiple } : {}) },
    ]),
  );
  try {
    const parsed = parseArgs({
      args,
      options,
      allowPositionals: positionals,
      strict: true,
      tokens: true,
    });
    return {
      values: parsed.values as FlagValues<T>,
      positionals: parsed.positionals,
      tokens: parsed.tokens,
    };
  } catch (error) {
    const message = (error as Error).message;
    throw help === undefined ? new UsageError(message) : new BadUsageError(`${message}\n\n${help}`);
  }
}

/**
 * The help's option list: each described flag's left column padded to `width`, two spaces, its
 * first line; further lines under the first.
 */
export function formatFlags(flags: FlagTable, width: number): string {
  const indent = " ".repeat(2 + width + 2);
  let text = "";
  for (const [name, flag] of Object.entries(flags)) {
    if (!flag.help) continue;
    const label =
      flag.label ??
      `${flag.short ? `-${flag.short}, ` : ""}--${name}${flag.value ? ` ${flag.value}` : ""}`;
    const [first, ...rest] = flag.help;
    text += `  ${label.padEnd(width)}  ${first}\n`;
    for (const line of rest) text += `${indent}${line}\n`;
  }
  return text;
}

/** The same flags, parsed alike but left out of the help's list (another command lists them). */
export function undocumented<T extends FlagTable>(flags: T): T {
  return Object.fromEntries(
    Object.entries(flags).map(([name, { help: _help, label: _label, ...flag }]) => [name, flag]),
  ) as T;
}
