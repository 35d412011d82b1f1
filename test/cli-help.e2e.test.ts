import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

const COMMANDS = [
  "run",
  "gate",
  "load",
  "init",
  "postgres",
  "proxy",
  "record",
  "import",
  "replay",
  "k6",
  "drift",
  "incident",
  "explore",
];
const ESC = "\u001b";
const ANSI = new RegExp(`${ESC}\\[\\d+m`);

/** The CLI on a pseudo-terminal (util-linux `script`), as a user at a terminal runs it. */
function runOnTerminal(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, path.join(ROOT, "bin", "faultline.mjs"), ...args]
    .map((word) => `'${word.replace(/'/g, "'\\''")}'`)
    .join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "", FORCE_COLOR: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => {
      output += c.toString();
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("faultline --help", () => {
  it("gives every command its own help with an example, and keeps the global usage", async () => {
    const global = await runCli(["--help"]);
    expect(global.code).toBe(0);
    expect(global.stdout).toMatch(/faultline init \[dir\]/);
    for (const command of COMMANDS) {
      expect(global.stdout, command).toMatch(new RegExp(`faultline ${command}\\b`));
      const help = await runCli([command, "--help"]);
      expect(help.code, `${command}: ${help.stderr}`).toBe(0);
      // An example: a command line under "Example:" that calls faultline.
      expect(help.stdout, command).toMatch(/Examples?:\n(?: {2}.*\n)*? {2}.*\bfaultline /);
      expect(help.stdout, command).not.toBe(global.stdout);
      expect((await runCli(["help", command])).stdout).toBe(help.stdout);
    }
    const k6 = await runCli(["k6", "-h"]);
    expect(k6.stdout).toMatch(/--rate, --duration, --ramp, --threshold {2}read as faultline load/);
    const load = await runCli(["load", "--help"]);
    expect(load.stdout).toMatch(/--threshold <expr> {8}fail \(exit 1\)/);
    expect(load.stdout).toMatch(/Example:\n {2}faultline load /);
    expect(k6.stdout).toMatch(/k6 run/);
  });

  it("a command's bad usage still shows that command's help", async () => {
    const k6 = await runCli(["k6"]);
    expect(k6.code).toBe(2);
    expect(k6.stderr).toMatch(/k6: expected one scenario file\n\nUsage: faultline k6 <scenario>/);
  });
});

describe("terminal output", () => {
  const broken = [
    "run",
    "scenarios/credits-balance-missing.scenario.ts",
    "--service",
    "payments:broken",
  ];

  it("colours verdicts on a terminal, never with NO_COLOR, never into a pipe", async () => {
    const terminal = await runOnTerminal(broken);
    expect(terminal.code).toBe(1);
    expect(terminal.output).toContain(`${ESC}[31mFAIL ${ESC}[0m credits-balance-missing`);
    expect(terminal.output).toContain(`${ESC}[31m    ✗ noCascade`);

    const noColor = await runOnTerminal(broken, { NO_COLOR: "1", FORCE_COLOR: "1" });
    expect(noColor.code).toBe(1);
    expect(noColor.output).toMatch(/FAIL {2}credits-balance-missing/);
    expect(noColor.output).not.toMatch(ANSI);

    const piped = await runCli(broken);
    expect(piped.code).toBe(1);
    expect(piped.stdout).toMatch(/^FAIL {2}credits-balance-missing/m);
    expect(piped.stdout).not.toMatch(ANSI);
  });

  it("--quiet prints only verdicts and errors; --verbose adds progress and every invariant", async () => {
    const quiet = await runCli([...broken, "--quiet"]);
    expect(quiet.code).toBe(1);
    expect(quiet.stdout).not.toMatch(/^faultline:/m);
    expect(quiet.stdout).toMatch(/^FAIL {2}credits-balance-missing/m);
    expect(quiet.stdout).toMatch(/✗ noCascade/);
    expect(quiet.stdout).toMatch(/^\d+ passed, 1 failed, 0 errored/m);
    // The replay line carries neither flag.
    expect(quiet.stdout).toMatch(/replay: .* --seed \d+$/m);
    expect(quiet.stdout).not.toMatch(/replay: .*--quiet/);

    const verbose = await runCli([
      "run",
      "scenarios/credits-balance-present.scenario.ts",
      "--verbose",
    ]);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stdout).toMatch(
      /^faultline: 1 scenario file\(s\): scenarios\/credits-balance-present\.scenario\.ts$/m,
    );
    expect(verbose.stdout).toMatch(/^faultline: Postgres .* and the template ready in [\d.]+s$/m);
    expect(verbose.stdout).toMatch(/^PASS {2}credits-balance-present.*\n {4}✓ noCascade: none$/m);

    const both = await runCli([...broken, "--quiet", "--verbose"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give one of --quiet and --verbose/);
  });

  it("gate --quiet drops the header and progress, --verbose adds each side's verdict line", async () => {
    const gate = [
      "gate",
      "scenarios/credits-balance-hotfix.scenario.ts",
      "--baseline",
      "payments:broken",
      "--candidate",
      "payments:fixed",
      "--cell",
      "schema=credits_balance missing",
    ];
    const quiet = await runCli([...gate, "-q"]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).not.toMatch(/^faultline/m);
    expect(quiet.stdout).toMatch(/^OK {3}credits-balance-hotfix: proves the fix/m);
    expect(quiet.stdout).toMatch(/^gate: 1 proves the fix/m);

    const verbose = await runCli([...gate, "--verbose"]);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stdout).toMatch(/^faultline gate: 1 scenario\(s\)/m);
    expect(verbose.stdout).toMatch(/^ {2}baseline: FAIL {2}credits-balance-hotfix/m);
    expect(verbose.stdout).toMatch(
      /^ {2}candidate: PASS {2}credits-balance-hotfix.*\n {6}✓ noCascade/m,
    );
  });

  it("piped into head, a run still ends with its verdict and no EPIPE", async () => {
    const command = `'${process.execPath}' bin/faultline.mjs run scenarios/credits-balance-missing.scenario.ts --service payments:broken | head -1`;
    const child = spawn("bash", ["-o", "pipefail", "-c", command], { cwd: ROOT });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(stderr).not.toMatch(/EPIPE/);
    expect(code).toBe(1);
  });
});

describe("load's progress", () => {
  const load = [
    "load",
    "scenarios/credits-balance-missing.scenario.ts",
    "--rate",
    "20/s",
    "--duration",
    "2s",
  ];

  it("redraws one live line on a terminal; a pipe gets no escape codes, --quiet no progress", async () => {
    const terminal = await runOnTerminal(load);
    expect(terminal.code, terminal.output).toBe(0);
    // The line is redrawn in place (carriage return, erase line) while requests go out.
    expect(terminal.output).toMatch(
      new RegExp(`\r${ESC}\\[2K[\\d.]+s sent \\d+ acked \\d+ in flight \\d+ errors 0 p50 `),
    );
    expect(terminal.output).toContain(`load credits-balance-missing: ${ESC}[32mPASS${ESC}[0m`);

    const piped = await runCli(load);
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toMatch(ANSI);
    expect(piped.stdout).not.toContain("\r");

    const quiet = await runCli([...load, "--quiet"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).not.toMatch(/^faultline:/m);
    expect(quiet.stdout).toMatch(/^load credits-balance-missing: PASS/m);
    expect(quiet.stdout).not.toMatch(/latency {4}p50/);
  });
});
