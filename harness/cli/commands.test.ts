import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BadUsageError } from "../errors.ts";
import { PACKAGE_ROOT as ROOT } from "../lifecycle/index.ts";
import { formatFlags, parseFlags, UsageError } from "./flags.ts";
import { COMMANDS } from "./index.ts";
import { USAGE } from "./usage.ts";

describe("the commands", () => {
  it("are the commands the global usage names, each with its own help: its example, then its docs page", () => {
    expect([...COMMANDS.keys()].sort()).toEqual(
      [
        "drift",
        "explore",
        "gate",
        "import",
        "incident",
        "init",
        "k6",
        "load",
        "postgres",
        "proxy",
        "record",
        "replay",
        "run",
      ].sort(),
    );
    for (const [name, command] of COMMANDS) {
      expect(command.name).toBe(name);
      expect(USAGE, name).toMatch(new RegExp(`(?:^Usage:|\n      ) faultline ${name} `));
      expect(command.summary, name).toMatch(/^[^\n]+$/);
      expect(command.help.startsWith(`Usage: faultline ${name} `), name).toBe(true);
      const docs =
        /\nMore: (docs\/[a-z-]+\.md) \(in the faultline repository, and in node_modules\/faultline\/\)\n$/.exec(
          command.help,
        );
      expect(docs, name).not.toBeNull();
      expect(existsSync(path.join(ROOT, docs?.[1] as string)), `${name}: ${docs?.[1]}`).toBe(true);
      expect(command.help.slice(0, docs?.index).endsWith(`:\n${command.example}`), name).toBe(true);
      expect(command.flags.help, name).toEqual(expect.objectContaining({ short: "h" }));
    }
  });

  it("list in their help every flag that has help text", () => {
    for (const [name, command] of COMMANDS)
      for (const [flag, { help, label }] of Object.entries(command.flags))
        if (help) expect(command.help, `${name} --${flag}`).toContain(`${label ?? `--${flag}`}`);
  });
});

describe("a flag table", () => {
  const flags = {
    out: { type: "string", value: "<file>", help: ["where it goes", "second line"] },
    "a-rather-long-flag": { type: "boolean", help: ["past the column"] },
    quiet: { type: "boolean", short: "q", help: ["less"] },
    seen: { type: "string" },
  } as const;

  it("prints its described flags in columns, continuation lines under the first", () => {
    expect(formatFlags(flags, 14)).toBe(
      "  --out <file>    where it goes\n" +
        "                  second line\n" +
        "  --a-rather-long-flag  past the column\n" +
        "  -q, --quiet     less\n",
    );
  });

  it("parses what it prints, and an unknown flag is bad usage", () => {
    const { values, positionals } = parseFlags(["-q", "--out", "x", "--seen=y", "file"], flags, {
      positionals: true,
    });
    expect(values).toEqual({ quiet: true, out: "x", seen: "y" });
    expect(positionals).toEqual(["file"]);
    expect(() => parseFlags(["--nope"], flags)).toThrow(UsageError);
    const withHelp = (() => {
      try {
        parseFlags(["--nope"], flags, { help: "the help" });
      } catch (error) {
        return error;
      }
    })();
    expect(withHelp).toBeInstanceOf(BadUsageError);
    expect(withHelp).not.toBeInstanceOf(UsageError);
    expect((withHelp as Error).message).toMatch(/--nope.*\n\nthe help$/s);
  });
});
