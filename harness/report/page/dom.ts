/** Small DOM and number helpers the page's parts share. */

/** An element with attributes and children, text given as strings. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** A number as a person reads it (`12,345.6`); anything else as its text. */
export function fmt(n: number | string, digits = 1): string {
  return typeof n === "number"
    ? n.toLocaleString("en", { maximumFractionDigits: digits })
    : String(n);
}

/** A duration in milliseconds, to a precision that suits its size. */
export function fmtMs(ms: number): string {
  return `${fmt(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`;
}

export function statusColour(status: number): string {
  return status === 0 ? "#6e7781" : status < 300 ? "#2da44e" : status < 500 ? "#bf8700" : "#cf222e";
}

export function statusLabel(status: number | string): string {
  return `HTTP ${String(status) === "0" ? "no response" : status}`;
}

/** Colours for the SQLSTATE series, in order. */
export const SQLSTATE_PALETTE = [
  "#cf222e",
  "#8250df",
  "#bc4c00",
  "#0969da",
  "#1b7c83",
  "#953800",
  "#6639ba",
];

export const RESULT_COLOUR = { ok: "#2da44e", error: "#cf222e", lost: "#6e7781" } as const;
