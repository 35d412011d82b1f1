/**
 * faultline inside a team's own vitest suite: examples/vitest-suite is run by a real vitest
 * process, as the team would run it (`npx vitest run` in its folder), and must pass; a failing
 * expectation there must read well; and nothing it started may outlive it.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processesTagged, ROOT } from "./cli.ts";

const SUITE = path.join(ROOT, "examples", "vitest-suite");
const VITEST = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");
const TAG = "FAULTLINE_VITEST_E2E";

interface Ran {
  code: number | null;
  output: string;
}

const tmpRoots: string[] = [];
afterAll(() => {
  for (const dir of tmpRoots) rmSync(dir, { recursive: true, force: true });
});

/** A temp root of its own for one vitest run, so what the run leaves behind can be seen. */
function freshTmpRoot(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-vitest-e2e-"));
  // Postgres runs as an unprivileged user and makes its data dir here.
  chmodSync(dir, 0o1777);
  tmpRoots.push(dir);
  return dir;
}

function vitest(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Ran> {
  // This test runs inside vitest: its worker's variables must not leak into the child's run.
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(VITEST|npm_)/i.test(k) && k !== "TEST" && k !== "NODE_ENV") base[k] = v;
  const child = spawn(process.execPath, [VITEST, ...args], {
    cwd,
    env: { ...base, NO_COLOR: "1", FORCE_COLOR: "0", CI: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output })));
}

/**
 * What is still there a few seconds after vitest exited: faultline's reaper outlives a worker
 * that vitest ended just long enough to stop what the worker started, then goes itself.
 */
async function leftAfterAWhile(tag: string, tmp: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const left = { processes: processesTagged(TAG, tag), files: readdirSync(tmp) };
    if ((left.processes.length === 0 && left.files.length === 0) || Date.now() > deadline)
      return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("examples/vitest-suite run by vitest", () => {
  it("passes: the broken service cascades, the fixed one does not, in every cell", async () => {
    const tmp = freshTmpRoot();
    const run = await vitest(["run"], SUITE, { FAULTLINE_TMPDIR: tmp, [TAG]: "passing" });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/Tests\s+4 passed \| 1 skipped \(5\)/);
    // Postgres, the services and their temp dirs are gone with the run.
    expect(await leftAfterAWhile("passing", tmp)).toEqual({ processes: [], files: [] });
  }, 60_000);

  it("a failing expectation shows the SQLSTATE counts, the evidence, the seed and the replay line", async () => {
    const tmp = freshTmpRoot();
    const run = await vitest(["run", "-t", "a failing expectation"], SUITE, {
      FAULTLINE_SHOW_FAILURE: "1",
      FAULTLINE_TMPDIR: tmp,
      [TAG]: "failing",
    });
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(
      "expected credits-balance-missing to have no 25P02 cascade (in_failed_sql_transaction), but it had one",
    );
    expect(run.output).toMatch(
      /SQLSTATEs: 25P02 in_failed_sql_transaction × \d+, 42703 undefined_column × 1/,
    );
    expect(run.output).toMatch(/first evidence: cause: .*ERROR 42703: column "credits_balance"/);
    expect(run.output).toContain("payments:broken, seed 20261127");
    expect(run.output).toMatch(
      /replay: npx faultline run \S*scenarios\/credits-balance-missing\.scenario\.ts --service payments:broken --seed 20261127/,
    );
    expect(run.output).toMatch(/Tests\s+1 failed \| 4 skipped/);
    expect(await leftAfterAWhile("failing", tmp)).toEqual({ processes: [], files: [] });
  }, 60_000);

  it("the example's tests are not also collected by the repository's own projects", async () => {
    const list = await vitest(["list", "--filesOnly"], ROOT);
    expect(list.code, list.output).toBe(0);
    expect(list.output).toContain("test/vitest-integration.e2e.test.ts");
    expect(list.output).not.toContain("examples/vitest-suite");
  }, 60_000);
});
