import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliRun, ROOT, runCli, startCli } from "./cli.ts";

// The docs cannot drift from the code: every `npx faultline …` line of a ```sh block in
// README.md and docs/*.md must name a real command and only flags that command's --help lists,
// and those that need nothing a reader brings (only shipped files, bundled services, no URL of
// their own service or server) are run through the real CLI and must end with the exit code
// the docs give: a `# exit N` comment on the line, else 0. Never 2 (bad usage) or 3
// (infrastructure): an example that cannot even start is a broken example.

const DOCS = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The bundled services: the only `--service` values that need nothing of the reader's. */
const BUNDLED = new Set(["payments:fixed", "payments:broken"]);
const SERVICE_FLAGS = ["--service", "--baseline", "--candidate"];
/** Commands never run here, and why. */
const NOT_RUN: Record<string, string> = {
  init: "writes into the reader's repository",
  record: "runs until Ctrl-C, in front of the reader's service",
  proxy: "runs until Ctrl-C, in front of the reader's Postgres",
  postgres: "fetches Postgres from the npm registry",
};
/** Flags whose value is a file or folder the command reads. */
const INPUT_FLAGS = new Set([
  "--config",
  "--migrations",
  "--schema",
  "--rules",
  "--faults",
  "--baseline-report",
]);
/** Words after a command that are part of its name, not files. */
const SUBCOMMANDS: Record<string, string[]> = {
  import: ["stripe-events"],
  postgres: ["fetch"],
};
/** `load`'s example sends for a minute; here it sends for 3 s with a 1 s ramp. */
const LOAD_DURATION = "3s";
const LOAD_RAMP = "1s";
const RUN_TIMEOUT_MS = 60_000;

interface Word {
  text: string;
  /** A `$` outside single quotes: the shell would expand it from the reader's environment. */
  expands: boolean;
}

interface Example {
  /** Where it is, `file:line`. */
  where: string;
  /** The command line as written (continuations joined). */
  line: string;
  /** The words after `npx faultline`. */
  args: string[];
  /** A `cd dir &&` before it on the same line. */
  cwd: string;
  expands: boolean;
  /** The exit codes the docs give for it (a `# exit N` comment), if any. */
  documentedExit?: number[];
}

/** Split one shell line into commands (at unquoted `&&`, `||`, `;`, `|`) and its comment. */
function shellSplit(line: string): { commands: Word[][]; comment: string } {
  let current: Word[] = [];
  const commands: Word[][] = [current];
  let word: Word | undefined;
  let quote: "'" | '"' | undefined;
  const push = () => {
    if (word) current.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line.charAt(i);
    if (quote) {
      if (c === quote) quote = undefined;
      else {
        if (c === "$" && quote === '"') word = { text: word?.text ?? "", expands: true };
        if (c === "\\" && quote === '"' && i + 1 < line.length) {
          i++;
          word = { text: (word?.text ?? "") + line.charAt(i), expands: word?.expands ?? false };
          continue;
        }
        word = { text: (word?.text ?? "") + c, expands: word?.expands ?? false };
      }
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      word ??= { text: "", expands: false };
    } else if (c === "\\" && i + 1 < line.length) {
      i++;
      word = { text: (word?.text ?? "") + line.charAt(i), expands: word?.expands ?? false };
    } else if (/\s/.test(c)) push();
    else if (c === "#" && !word) {
      push();
      return { commands: commands.filter((w) => w.length > 0), comment: line.slice(i + 1) };
    } else if (c === ";" || c === "|" || (c === "&" && line.charAt(i + 1) === "&")) {
      push();
      if (line.charAt(i + 1) === c) i++;
      current = [];
      commands.push(current);
    } else {
      word = { text: (word?.text ?? "") + c, expands: (word?.expands ?? false) || c === "$" };
    }
  }
  push();
  return { commands: commands.filter((w) => w.length > 0), comment: "" };
}

/** Every `npx faultline …` command of every ```sh block of the docs. */
function examples(): Example[] {
  const found: Example[] = [];
  for (const file of DOCS) {
    const lines = readFileSync(path.join(ROOT, file), "utf8").split("\n");
    let inSh = false;
    for (let i = 0; i < lines.length; i++) {
      const fence = /^\s*```(\S*)/.exec(lines[i] ?? "");
      if (fence) {
        inSh = !inSh && fence[1] === "sh";
        continue;
      }
      if (!inSh) continue;
      const start = i;
      let line = lines[i] ?? "";
      while (/\\\s*$/.test(line) && i + 1 < lines.length) {
        line = `${line.replace(/\\\s*$/, " ")}${(lines[++i] ?? "").trim()}`;
      }
      if (!line.includes("npx faultline")) continue;
      const { commands, comment } = shellSplit(line);
      const exit = /\bexit\s+(\d+(?:\s*(?:,|or|\/)\s*\d+)*)/.exec(comment);
      let cwd = ".";
      for (const words of commands) {
        const texts = words.map((w) => w.text);
        if (texts[0] === "cd" && texts[1] && texts.length === 2) cwd = path.join(cwd, texts[1]);
        if (texts[0] !== "npx" || texts[1] !== "faultline") continue;
        found.push({
          where: `${file}:${start + 1}`,
          line: line.trim(),
          args: texts.slice(2),
          cwd,
          expands: words.some((w) => w.expands),
          documentedExit: exit?.[1] ? exit[1].split(/\D+/).map(Number) : undefined,
        });
      }
    }
  }
  return found;
}

/** The commands the CLI has, from the global --help's usage lines. */
async function commandNames(): Promise<Set<string>> {
  const help = await runCli(["--help"]);
  expect(help.code, help.stderr).toBe(0);
  const names = new Set<string>();
  for (const m of help.stdout.matchAll(/^(?:Usage:)?\s+faultline ([a-z][a-z0-9]*)\b/gm)) {
    if (m[1]) names.add(m[1]);
  }
  return names;
}

/** The flags a command's --help lists, and which of them take a value there. */
interface Flags {
  all: Set<string>;
  valued: Set<string>;
}

async function helpFlags(command: string): Promise<Flags> {
  const help = await runCli([command, "--help"]);
  expect(help.code, `${command} --help: ${help.stderr}`).toBe(0);
  let text = help.stdout;
  // gate takes every option of run, and says so rather than listing them again.
  if (/every option of faultline run/.test(text)) text += (await runCli(["run", "--help"])).stdout;
  const all = new Set<string>();
  const valued = new Set<string>();
  for (const m of text.matchAll(/(?<![\w-])(--?[a-z][a-z0-9-]*)/g)) {
    const flag = m[1] ?? "";
    if (flag.length > 2 || /^-[a-z]$/.test(flag)) all.add(flag);
  }
  // `--flag <value>`, or `[--flag value]` in a usage line.
  for (const m of text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*) <|\[(--[a-z][a-z0-9-]*) [^-\s]/g)) {
    const flag = m[1] ?? m[2];
    if (flag) valued.add(flag);
  }
  return { all, valued };
}

interface Parsed {
  command: string;
  flags: { name: string; value?: string }[];
  positionals: string[];
}

function parse(args: string[], valued: Set<string>): Parsed {
  const [command = "", ...rest] = args;
  const parsed: Parsed = { command, flags: [], positionals: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    if (arg.startsWith("-") && arg !== "-") {
      const eq = arg.indexOf("=");
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const value = eq > 0 ? arg.slice(eq + 1) : valued.has(name) ? rest[++i] : undefined;
      parsed.flags.push({ name, value });
    } else parsed.positionals.push(arg);
  }
  return parsed;
}

/**
 * False for a path that names a place in this repository (a shipped scenario, fixture or
 * example) which is not there: a misspelt path, rather than a file the reader brings.
 */
function inRepository(example: Example, file: string): boolean {
  const shipped = /^(?:scenarios|fixtures|examples|test|scripts|docs)(?:\/|$)|\.scenario\.ts$/;
  return !shipped.test(path.normalize(file)) || existsSync(path.join(ROOT, example.cwd, file));
}

/** Why an example cannot run here (it needs something the reader brings), or undefined. */
function whyNotRun(example: Example, parsed: Parsed): string | undefined {
  if (NOT_RUN[parsed.command]) return NOT_RUN[parsed.command];
  if (example.expands) return "reads a variable from the reader's environment";
  const words = example.args;
  if (words.some((w) => w.includes("://"))) return "talks to the reader's service or server";
  if (words.some((w) => w.includes("…"))) return "has a placeholder";
  const config = parsed.flags.find((f) => f.name === "--config")?.value;
  for (const { name, value } of parsed.flags) {
    if (name === "--migrate") return "runs the reader's migrate command";
    if (SERVICE_FLAGS.includes(name) && value && !BUNDLED.has(value)) {
      // A command line is shipped when it starts a shipped config's own service.
      if (!config || !existsSync(path.join(ROOT, example.cwd, config))) {
        return `${name} starts the reader's service`;
      }
    }
    if (INPUT_FLAGS.has(name) && value && !["scenario", "none"].includes(value)) {
      if (!existsSync(path.join(ROOT, example.cwd, value)))
        return `${name} ${value} is not shipped`;
    }
  }
  const files = parsed.positionals.filter((p) => !SUBCOMMANDS[parsed.command]?.includes(p));
  for (const file of files) {
    if (!existsSync(path.join(ROOT, example.cwd, file))) return `${file} is not shipped`;
  }
  return undefined;
}

/** The args as run here: `load` for a few seconds instead of its documented minute. */
function asRun(example: Example, parsed: Parsed): string[] {
  if (parsed.command !== "load") return example.args;
  const args = [...example.args];
  for (const [flag, value] of [
    ["--duration", LOAD_DURATION],
    ["--ramp", LOAD_RAMP],
  ] as const) {
    const at = args.indexOf(flag);
    if (at >= 0) args[at + 1] = value;
  }
  return args;
}

/** The exit codes an example may end with. */
function expectedExit(example: Example, parsed: Parsed): number[] {
  const documented = example.documentedExit ?? [0];
  // A load's verdict depends on the machine: its thresholds and whether this machine held the
  // rate (docs/load.md: exit 1 when a threshold fails or the rate could not be held).
  return parsed.command === "load" ? [...new Set([...documented, 1])] : documented;
}

/** A folder that looks like the repository's root, for runs to write their reports into. */
function workspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-docs-examples-"));
  for (const entry of readdirSync(ROOT)) {
    if (entry === ".git") continue;
    symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  return dir;
}

async function runWithTimeout(args: string[], cwd: string): Promise<CliRun> {
  const started = startCli(args, {}, cwd);
  const timer = setTimeout(() => started.child.kill("SIGTERM"), RUN_TIMEOUT_MS);
  try {
    return await started.done;
  } finally {
    clearTimeout(timer);
  }
}

/** A Markdown file's heading anchors, as GitHub makes them. */
function headings(file: string): Set<string> {
  const text = readFileSync(path.join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
  const slugs = new Set<string>();
  for (const m of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = (m[1] ?? "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replace(/ /g, "-");
    slugs.add(slug);
  }
  return slugs;
}

const ALL = examples();
const NAMES = await commandNames();
const FLAGS = new Map<string, Flags>();
for (const name of NAMES) FLAGS.set(name, await helpFlags(name));
const VALUED = new Set([...FLAGS.values()].flatMap((f) => [...f.valued]));

const RUNNABLE = new Map<string, { example: Example; parsed: Parsed }>();
const SKIPPED: string[] = [];
for (const example of ALL) {
  const parsed = parse(example.args, VALUED);
  if (!NAMES.has(parsed.command)) continue; // reported by the parse test below
  const why = whyNotRun(example, parsed);
  const key = `${example.cwd}\0${example.args.join("\0")}`;
  if (why) SKIPPED.push(`${example.where}: ${why}`);
  else if (!RUNNABLE.has(key)) RUNNABLE.set(key, { example, parsed });
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("the docs' faultline examples", () => {
  it("finds examples in the README and the docs pages", () => {
    expect(ALL.length).toBeGreaterThan(10);
    expect(new Set(ALL.map((e) => e.where.split(":")[0])).size).toBeGreaterThan(5);
    expect(RUNNABLE.size).toBeGreaterThanOrEqual(5);
    for (const { example, parsed } of RUNNABLE.values()) {
      for (const code of expectedExit(example, parsed)) expect([0, 1]).toContain(code);
    }
  });

  it("name a real command and only flags its --help lists", () => {
    const problems: string[] = [];
    for (const example of ALL) {
      const parsed = parse(example.args, VALUED);
      const flags = FLAGS.get(parsed.command);
      if (!flags) {
        problems.push(`${example.where}: no command "${parsed.command}" — ${example.line}`);
        continue;
      }
      for (const { name, value } of parsed.flags) {
        if (!flags.all.has(name)) {
          problems.push(`${example.where}: faultline ${parsed.command} --help lists no ${name}`);
        }
        // A misspelt bundled service would otherwise pass for the reader's own command.
        if (SERVICE_FLAGS.includes(name) && value && /^[\w-]+:[\w-]+$/.test(value)) {
          if (!BUNDLED.has(value)) problems.push(`${example.where}: no bundled service ${value}`);
        }
        if (INPUT_FLAGS.has(name) && value && !inRepository(example, value)) {
          problems.push(`${example.where}: ${name} ${value} is not in the repository`);
        }
      }
      for (const file of parsed.positionals) {
        if (!inRepository(example, file)) {
          problems.push(`${example.where}: ${file} is not in the repository`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("link only to files and headings that exist", () => {
    const problems: string[] = [];
    for (const file of DOCS) {
      const text = readFileSync(path.join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] ?? "";
        if (/^[a-z]+:/.test(link)) continue;
        const [target = "", anchor] = link.split("#");
        const resolved = target ? path.join(path.dirname(file), target) : file;
        if (!existsSync(path.join(ROOT, resolved))) {
          problems.push(`${file}: ${link}: no ${resolved}`);
        } else if (anchor && resolved.endsWith(".md") && !headings(resolved).has(anchor)) {
          problems.push(`${file}: ${link}: no heading #${anchor} in ${resolved}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it.each([...RUNNABLE.values()].map((r) => [`${r.example.where}: ${r.example.line}`, r] as const))(
    "%s",
    async (_name, { example, parsed }) => {
      const dir = workspace();
      dirs.push(dir);
      const run = await runWithTimeout(asRun(example, parsed), path.join(dir, example.cwd));
      const expected = expectedExit(example, parsed);
      expect(
        expected,
        `exit ${run.code} (${run.signal ?? "no signal"}), expected ${expected.join(" or ")}\n` +
          `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`,
      ).toContain(run.code);
    },
    RUN_TIMEOUT_MS + 10_000,
  );
});
