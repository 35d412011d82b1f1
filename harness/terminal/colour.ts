/** Whether to colour what goes to `stream`: only a terminal, never with NO_COLOR set. */
export function colourFor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined> = process.env,
): boolean {
  // no-color.org: present and not empty disables colour, whatever else asks for it.
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return env.FORCE_COLOR !== "0";
  return stream.isTTY === true;
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;

/** A styler that wraps text in ANSI codes, or leaves it as it is when colour is off. */
export function styler(colour: boolean): (style: keyof typeof CODES, text: string) => string {
  return colour ? (style, text) => `\u001b[${CODES[style]}m${text}\u001b[0m` : (_, text) => text;
}
