import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BillingRepo, createBillingRepo } from "./billing-repo.ts";
import { type CliRun, ROOT } from "./cli.ts";

// scripts/gate-refs.mjs on a repository shaped like a user's (see billing-repo.ts): main at A
// (before the hotfix) then D, fix at B (the hotfix and the scenario that reproduces the
// incident), revert at C (B with the hotfix reverted).
const SCRIPT = path.join(ROOT, "scripts", "gate-refs.mjs");
const ZX = path.join(ROOT, "node_modules", "zx", "build", "cli.js");
// biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, not JavaScript
const START = 'exec "${PYTHON:-python3}" app.py';

let root: string;
let repo: string;
let tmp: string;
let billing: BillingRepo;
let sha: BillingRepo["sha"];
const git = (...args: string[]) => billing.git(...args);

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), "faultline-gate-refs-e2e-"));
  repo = path.join(root, "billing");
  tmp = path.join(root, "tmp");
  mkdirSync(tmp);
  billing = createBillingRepo(repo);
  sha = billing.sha;
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Run the zx script as a user would, from the repository (or `cwd`). */
function startGateRefs(args: string[], cwd = repo) {
  const child = spawn(process.execPath, [ZX, SCRIPT, ...args], {
    cwd,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done, output: () => stdout };
}

const gateRefs = (args: string[], cwd = repo) => startGateRefs(args, cwd).done;

function expectNoCheckoutLeft() {
  expect(git("worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(1);
  expect(readdirSync(tmp).filter((e) => e.startsWith("faultline-gate-refs-"))).toEqual([]);
}

describe("scripts/gate-refs.mjs against a user's repository", () => {
  it("A → B proves the fix: the head's scenarios, both checkouts built, reports where the caller is", async () => {
    const reports = path.join(root, "reports-ab");
    mkdirSync(reports);
    const run = await gateRefs(
      [
        "--head",
        "fix",
        "--build",
        'echo "building $(git rev-parse --short HEAD)"',
        "--start",
        START,
        "--",
        "--junit",
        "gate.xml",
        "--json=gate.json",
        "--summary",
        "summary.md",
      ],
      reports,
    );
    // --repo defaults to the current folder: run from reports/ it is not a repository.
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is not inside a git repository/);

    const ok = await gateRefs([
      "--repo",
      repo,
      "--head",
      "fix",
      "--build",
      'echo "building $(git rev-parse --short HEAD)"',
      "--start",
      START,
      "--",
      "--junit",
      path.join(reports, "gate.xml"),
      `--json=${path.join(reports, "gate.json")}`,
      "--summary",
      path.join(reports, "summary.md"),
    ]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    // No --base: the merge base of fix and main, i.e. A.
    expect(ok.stdout).toContain(
      `baseline merge-base(fix, main) (${sha.A.slice(0, 12)}), candidate fix (${sha.B.slice(0, 12)})`,
    );
    expect(ok.stdout).toContain(`[baseline] building ${sha.A.slice(0, 7)}`);
    expect(ok.stdout).toContain(`[candidate] building ${sha.B.slice(0, 7)}`);
    // The scenario exists only in the head: the gate ran the head's scenarios on both sides.
    expect(ok.stdout).toMatch(/tax-column-missing: proves the fix/);
    expect(ok.stdout).toMatch(/bad-signatures: passes on both/);
    const json = JSON.parse(readFileSync(path.join(reports, "gate.json"), "utf8"));
    expect(json.exitCode).toBe(0);
    expect(json.baseline).toMatch(/^cd \S+\/baseline && exec /);
    expect(readFileSync(path.join(reports, "gate.xml"), "utf8")).toContain("tax-column-missing");
    const summary = readFileSync(path.join(reports, "summary.md"), "utf8");
    expect(summary).toContain("the fix is proven");
    expect(summary).toContain(`candidate: fix \`${sha.B.slice(0, 12)}\``);
    expectNoCheckoutLeft();
  });

  it("report paths are relative to the caller's folder, scenario paths to the head checkout", async () => {
    const run = await gateRefs([
      "--base",
      sha.A,
      "--head",
      sha.B,
      "--start",
      START,
      "--",
      "faultline/tax-column-missing.scenario.ts",
      "--json",
      "out/gate.json",
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const json = JSON.parse(readFileSync(path.join(repo, "out", "gate.json"), "utf8"));
    expect(json.scenarios.map((s: { name: string }) => s.name)).toEqual(["tax-column-missing"]);
    rmSync(path.join(repo, "out"), { recursive: true });
    expectNoCheckoutLeft();
  });

  it("B → C regresses: exit 1", async () => {
    const run = await gateRefs(["--base", "fix", "--head", "revert", "--start", START]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/tax-column-missing: regresses/);
    expectNoCheckoutLeft();
  });

  it("a failed build is exit 3 naming the side and the ref, with the build's last lines", async () => {
    const summary = path.join(root, "build-failed.md");
    const run = await gateRefs([
      "--head",
      "fix",
      "--build",
      'grep -q handle_fixed billing.py || { sleep 0.5; echo "no hotfix in this checkout" >&2; exit 7; }',
      "--start",
      START,
      "--",
      "--summary",
      summary,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(3);
    expect(run.stderr).toContain("[baseline] no hotfix in this checkout");
    expect(run.stderr).toMatch(
      /the build of the baseline \(merge-base\(fix, main\)\) failed with exit code 7[\s\S]*no hotfix in this checkout/,
    );
    expect(run.stdout).toContain("[candidate] built in");
    expect(readFileSync(summary, "utf8")).toContain("infrastructure failed");
    expectNoCheckoutLeft();
  });

  it("a failed build stops the other side's build", async () => {
    const started = Date.now();
    const run = await gateRefs([
      "--head",
      "fix",
      "--build",
      "if grep -q handle_fixed billing.py; then echo waiting; exec sleep 60; else exit 9; fi",
      "--start",
      START,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(3);
    expect(run.stderr).toContain("the build of the baseline");
    expect(Date.now() - started).toBeLessThan(20_000);
    expectNoCheckoutLeft();
  });

  it("bad usage is exit 2 with a message saying what is wrong, and nothing checked out", async () => {
    const cases: [string[], RegExp][] = [
      [["--head", "fix"], /--start is required/],
      [["--start", START], /--head is required/],
      [["--head", "no-such-branch", "--start", START], /--head no-such-branch: no such commit/],
      [["--head", "fix", "--base", "v9", "--start", START], /--base v9: no such commit/],
      [["--head", "fix", "--target", "trunk", "--start", START], /--target trunk: no such commit/],
      [["--head", "fix", "--base", "main", "--target", "main", "--start", START], /not both/],
      [
        ["--head", "fix", "--start", START, "scenario.ts"],
        /put scenarios and gate flags after "--"/,
      ],
      [["--head", "fix", "--start", START, "--bogus"], /Unknown option '--bogus'/],
      [
        ["--head", "fix", "--start", START, "--", "--baseline", "x"],
        /--baseline after "--": gate-refs sets --baseline and --candidate itself/,
      ],
      [["--head", "fix", "--start", START, "--repo", path.join(root, "nowhere")], /no such folder/],
    ];
    for (const [args, message] of cases) {
      const run = await gateRefs(args);
      expect(run.code, `${args.join(" ")}\n${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expectNoCheckoutLeft();
  });

  it("the gate's own exit 2 passes through, and the summary says there was no verdict", async () => {
    const summary = path.join(root, "no-verdict.md");
    const run = await gateRefs([
      "--head",
      "fix",
      "--start",
      START,
      "--",
      "faultline/no-such.scenario.ts",
      "--summary",
      summary,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stderr).toContain("no-such.scenario.ts");
    expect(readFileSync(summary, "utf8")).toMatch(
      /^### faultline gate: ⚠️ exit 2 \(bad usage or a bad scenario\), no verdict[\s\S]*candidate: fix `/,
    );
    expectNoCheckoutLeft();
  });

  it("--dry-run prints the commands and runs none", async () => {
    const run = await gateRefs([
      "--head",
      "fix",
      "--build",
      "make",
      "--start",
      START,
      "--dry-run",
      "--",
      "--junit",
      "gate.xml",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`worktree add --detach <tmp>/baseline ${sha.A}`);
    expect(run.stdout).toContain(`worktree add --detach <tmp>/candidate ${sha.B}`);
    expect(run.stdout).toContain("(cd <tmp>/baseline && make)");
    expect(run.stdout).toContain(
      `node_modules/.bin/faultline gate --junit ${path.join(repo, "gate.xml")} --baseline`,
    );
    expectNoCheckoutLeft();
  });

  it("Ctrl-C during the gate stops it and removes the checkouts: exit 130", async () => {
    const { child, done, output } = startGateRefs(["--head", "fix", "--start", START]);
    const deadline = Date.now() + 30_000;
    while (!output().includes("faultline gate:") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    const run = await done;
    expect(run.code, run.stdout + run.stderr).toBe(130);
    expect(run.stderr).toContain("SIGINT: stopping");
    expectNoCheckoutLeft();
  });
});
