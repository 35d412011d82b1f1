import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** Where a guess came from: a file relative to the repository root, its line (1-based), the text. */
export interface Evidence {
  file: string;
  line: number;
  text: string;
}

/** A value `faultline init` guessed, and why. */
export interface Guess<T> {
  value: T;
  evidence: Evidence[];
}

// Dependencies, build output and caches hold no code of the user's service, and can be huge.
const SKIPPED_DIRS = new Set([
  "node_modules",
  ".git",
  "dist",
  "build",
  ".next",
  ".nuxt",
  ".svelte-kit",
  ".turbo",
  ".vercel",
  "coverage",
  "vendor",
  "venv",
  ".venv",
  "__pycache__",
  "tmp",
  "log",
  "target",
]);
const MAX_DEPTH = 8;
// A source file larger than this is generated or vendored, not a route handler.
const MAX_FILE_BYTES = 512 * 1024;

/**
 * A read-only view of the user's repository: its file list (walked once, skipping dependency
 * and build folders) and file contents on demand, cached.
 */
export class Repo {
  readonly root: string;
  /** Every file's path relative to the root, with "/" separators, sorted. */
  readonly files: string[];
  private readonly texts = new Map<string, string | undefined>();

  constructor(root: string) {
    this.root = root;
    this.files = [];
    this.walk("", 0);
    this.files.sort();
  }

  private walk(rel: string, depth: number): void {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(path.join(this.root, rel), { withFileTypes: true });
    } catch (error) {
      // The root itself must be readable (the caller checked); a sub-folder that is not is skipped.
      if (rel === "") throw error;
      return;
    }
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name) && depth < MAX_DEPTH) this.walk(child, depth + 1);
      } else if (entry.isFile()) this.files.push(child);
    }
  }

  /** The file's text, or undefined when it is missing, unreadable or too large. */
  read(rel: string): string | undefined {
    if (this.texts.has(rel)) return this.texts.get(rel);
    let text: string | undefined;
    try {
      const full = path.join(this.root, rel);
      if (statSync(full).size <= MAX_FILE_BYTES) text = readFileSync(full, "utf8");
    } catch {
      text = undefined;
    }
    this.texts.set(rel, text);
    return text;
  }

  has(rel: string): boolean {
    return this.files.includes(rel);
  }

  /** Files whose relative path matches `pattern`. */
  matching(pattern: RegExp): string[] {
    return this.files.filter((f) => pattern.test(f));
  }

  /** Folders (relative) that directly contain at least one file matching `name`. */
  dirsWith(name: RegExp): string[] {
    const dirs = new Set<string>();
    for (const f of this.files) {
      const base = f.slice(f.lastIndexOf("/") + 1);
      if (name.test(base)) dirs.add(f.includes("/") ? f.slice(0, f.lastIndexOf("/")) : ".");
    }
    return [...dirs].sort((a, b) => depthOf(a) - depthOf(b) || a.localeCompare(b));
  }

  /** Evidence for the first match of `pattern` in `file`, or undefined. */
  find(file: string, pattern: RegExp): (Evidence & { match: RegExpExecArray }) | undefined {
    const text = this.read(file);
    if (text === undefined) return undefined;
    const match = new RegExp(pattern.source, pattern.flags.replace("g", "")).exec(text);
    if (!match) return undefined;
    return { ...evidenceAt(file, text, match.index), match };
  }
}

function depthOf(dir: string): number {
  return dir === "." ? 0 : dir.split("/").length;
}

/** The line (1-based) holding character `index` of `text`, as evidence. */
export function evidenceAt(file: string, text: string, index: number): Evidence {
  const before = text.slice(0, index);
  const line = before.split("\n").length;
  const start = before.lastIndexOf("\n") + 1;
  const end = text.indexOf("\n", index);
  return { file, line, text: text.slice(start, end === -1 ? undefined : end).trim() };
}

/** "a/b" → "./a/b"; "." → "." (config paths are written relative to the config file). */
export function dotSlash(rel: string): string {
  return rel === "." || rel.startsWith("./") || rel.startsWith("../") ? rel : `./${rel}`;
}

/** The folder part of a relative path ("." for a top-level file). */
export function dirOf(rel: string): string {
  return rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : ".";
}

/** Source files that may hold a route handler or database code. */
export const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|py|rb|go)$/;

/** "a/./b/../c" → "a/c"; "" or only dots → ".". */
export function normalise(rel: string): string {
  const parts: string[] = [];
  for (const part of rel.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length) parts.pop();
    else parts.push(part);
  }
  return parts.join("/") || ".";
}
