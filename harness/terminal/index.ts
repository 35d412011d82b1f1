/** The terminal: whether and how to colour, and how much to say. Shared by every console writer. */
export { colourFor, styler } from "./colour.ts";

/** How the console shows results: colour (a terminal) and detail (--verbose). */
export interface ConsoleOptions {
  colour?: boolean;
  /** Only the verdict lines and errors: no run header. */
  quiet?: boolean;
  /** Also every invariant that held, with what it saw. */
  verbose?: boolean;
}
