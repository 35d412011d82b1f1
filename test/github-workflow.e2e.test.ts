import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type BillingRepo, createBillingRepo } from "./billing-repo.ts";
import { type CliRun, ROOT } from "./cli.ts";

// The example workflow, checked without GitHub: its structure, GitHub's own workflow schema
// (@actions/workflow-parser, what GitHub's language service validates with), and the gate
// step's `run:` script itself, run with bash as the runner runs it, on a repository shaped like a
// user's, with the variables and expressions the step reads set as a pull_request event sets them.
const WORKFLOW_FILE = path.join(ROOT, "examples", "github-actions", "faultline-gate.yml");
const WORKFLOW_TEXT = readFileSync(WORKFLOW_FILE, "utf8");

interface Step {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Job {
  "runs-on": string;
  env: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const workflow = parse(WORKFLOW_TEXT) as Workflow;
const job = Object.values(workflow.jobs)[0] as Job;
const step = (match: (s: Step) => boolean | undefined): Step => {
  const found = job.steps.find(match);
  if (!found) throw new Error("step not found");
  return found;
};
const gateStep = step((s) => s.id === "gate");
const uploadStep = step((s) => s.uses?.startsWith("actions/upload-artifact@"));
const commentStep = step((s) => s.uses?.startsWith("actions/github-script@"));

describe("examples/github-actions/faultline-gate.yml: structure", () => {
  it("is a valid workflow by GitHub's own schema", async () => {
    // The parser imports its schema JSON without an import attribute, which Node refuses:
    // bundle it (esbuild inlines the JSON) and load the bundle.
    const dir = mkdtempSync(path.join(tmpdir(), "faultline-workflow-parser-"));
    try {
      await build({
        entryPoints: ["@actions/workflow-parser"],
        absWorkingDir: ROOT,
        bundle: true,
        format: "esm",
        platform: "node",
        outfile: path.join(dir, "parser.mjs"),
        logLevel: "warning",
        banner: {
          js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
        },
      });
      const parser = (await import(
        /* @vite-ignore */ pathToFileURL(path.join(dir, "parser.mjs")).href
      )) as typeof import("@actions/workflow-parser");
      const check = async (content: string) => {
        const parsed = parser.parseWorkflow(
          { name: "faultline-gate.yml", content },
          new parser.NoOperationTraceWriter(),
        );
        const errors = parsed.context.errors.getErrors().map((e) => e.message);
        if (errors.length === 0 && parsed.value) {
          const converted = await parser.convertWorkflowTemplate(parsed.context, parsed.value);
          errors.push(...(converted.errors ?? []).map((e) => e.Message));
        }
        return errors;
      };
      expect(await check(WORKFLOW_TEXT)).toEqual([]);
      // The check can fail: a misspelt key and a broken expression are reported.
      const broken = WORKFLOW_TEXT.replace("timeout-minutes:", "timeout-minute:").replace(
        "if: always()",
        "if: always(",
      );
      expect((await check(broken)).join("\n")).toMatch(/timeout-minute/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs on pull requests, may comment, checks out the head with history, caches npm", () => {
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(workflow.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const checkout = step((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkout.with).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression
      ref: "${{ github.event.pull_request.head.sha }}",
      "fetch-depth": 0,
    });
    const node = step((s) => s.uses?.startsWith("actions/setup-node@"));
    expect(node.with?.cache).toBe("npm");
    expect(job.steps.findIndex((s) => s.run === "npm ci")).toBeLessThan(
      job.steps.indexOf(gateStep),
    );
    expect(job.defaults?.run?.shell).toBe("bash");
  });

  it("pins every action to a major version", () => {
    const uses = job.steps.flatMap((s) => (s.uses ? [s.uses] : []));
    expect(uses.length).toBeGreaterThanOrEqual(4);
    for (const u of uses) expect(u).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
  });

  it("uploads the reports and comments even when the gate failed", () => {
    expect(uploadStep.if).toBe("always()");
    expect(uploadStep.with?.path).toBe(`${job.env.FAULTLINE_REPORTS}/`);
    expect(commentStep.if).toMatch(/^always\(\) && /);
    expect(commentStep.env?.SUMMARY_FILE).toBe(`${job.env.FAULTLINE_REPORTS}/summary.md`);
    // Only the gate step decides the job's result.
    for (const s of job.steps) expect(s).not.toHaveProperty("continue-on-error");
  });

  it("the comment script compiles and keeps one comment per pull request", async () => {
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    const script = commentStep.with?.script as string;
    const run = new AsyncFunction("require", "github", "context", "process", script);
    const require = createRequire(import.meta.url);
    // A stand-in for the REST client github-script passes in (no GitHub here): it records what
    // the script asks for, so the create-then-edit logic is exercised.
    const comments: { id: number; body: string; user: { type: string } }[] = [
      { id: 1, body: "LGTM", user: { type: "User" } },
    ];
    const github = {
      paginate: async (list: () => Promise<unknown>) => list(),
      rest: {
        issues: {
          listComments: async () => comments,
          createComment: async ({ body }: { body: string }) => {
            comments.push({ id: comments.length + 1, body, user: { type: "Bot" } });
          },
          updateComment: async ({ comment_id, body }: { comment_id: number; body: string }) => {
            const found = comments.find((c) => c.id === comment_id);
            if (found) found.body = body;
          },
        },
      },
    };
    const context = {
      serverUrl: "https://github.com",
      runId: 7,
      repo: { owner: "acme", repo: "billing" },
      payload: { pull_request: { number: 42 } },
    };
    const dir = mkdtempSync(path.join(tmpdir(), "faultline-comment-"));
    try {
      const summary = path.join(dir, "summary.md");
      const env = { SUMMARY_FILE: summary, GATE_EXIT_CODE: "1" };
      await run(require, github, context, { env });
      expect(comments[1]?.body).toMatch(
        /^<!-- faultline-gate -->\n### faultline gate: did not run/,
      );
      writeFileSync(summary, "### faultline gate: ✅ the fix is proven\n");
      await run(require, github, context, { env });
      expect(comments).toHaveLength(2);
      expect(comments[1]?.body).toContain("the fix is proven");
      expect(comments[1]?.body).toContain("https://github.com/acme/billing/actions/runs/7");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// GitHub replaces `${{ … }}` before the shell sees the script; only plain property paths occur
// in the values this test evaluates, and anything else fails the test rather than pass unread.
function evaluate(text: string, context: Record<string, unknown>): string {
  return text.replace(/\$\{\{\s*([\w.-]+)\s*\}\}/g, (_, expression: string) => {
    let value: unknown = context;
    for (const key of expression.split("."))
      value = (value as Record<string, unknown> | undefined)?.[key];
    if (value === undefined) throw new Error(`no value for the expression ${expression}`);
    return String(value);
  });
}

describe("examples/github-actions/faultline-gate.yml: the gate step's script, run", () => {
  let root: string;
  let billing: BillingRepo;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), "faultline-workflow-e2e-"));
    billing = createBillingRepo(path.join(root, "billing"));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  /** The step as the runner runs it: the job's and step's env, bash -eo pipefail, in the checkout. */
  async function runGateStep(base: string, head: string, label: string) {
    // actions/checkout with ref: head.sha and fetch-depth: 0.
    billing.git("checkout", "-q", "--detach", head);
    const files = path.join(root, label);
    mkdirSync(files);
    const githubContext = {
      github: {
        repository: "acme/billing",
        event: { pull_request: { number: 42, base: { sha: base }, head: { sha: head } } },
      },
    };
    const env: Record<string, string> = {
      ...process.env,
      CI: "true",
      GITHUB_ACTIONS: "true",
      GITHUB_WORKSPACE: billing.dir,
      GITHUB_OUTPUT: path.join(files, "output"),
      GITHUB_STEP_SUMMARY: path.join(files, "step-summary.md"),
    };
    for (const [name, value] of Object.entries({ ...job.env, ...gateStep.env }))
      env[name] = evaluate(String(value), githubContext);
    // The two values a user sets for their service; everything else is the example's.
    expect(job.env).toHaveProperty("FAULTLINE_BUILD");
    expect(job.env).toHaveProperty("FAULTLINE_START");
    env.FAULTLINE_BUILD = "python3 -m compileall -q .";
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, not JavaScript
    env.FAULTLINE_START = 'exec "${PYTHON:-python3}" app.py';
    writeFileSync(env.GITHUB_OUTPUT as string, "");
    writeFileSync(env.GITHUB_STEP_SUMMARY as string, "");
    const script = path.join(files, "step.sh");
    writeFileSync(script, gateStep.run as string);
    const run = await new Promise<CliRun>((resolve) => {
      const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
        cwd: billing.dir,
        env,
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
      child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    const reports = path.join(billing.dir, job.env.FAULTLINE_REPORTS as string);
    return {
      run,
      reports,
      output: readFileSync(env.GITHUB_OUTPUT as string, "utf8"),
      stepSummary: readFileSync(env.GITHUB_STEP_SUMMARY as string, "utf8"),
    };
  }

  function expectNoCheckoutLeft() {
    expect(billing.git("worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(1);
  }

  it("a pull request that fixes the incident passes: exit 0, reports, step summary", async () => {
    // base.sha is main's tip (D), which moved on after the branch: the baseline is the merge base, A.
    const { run, reports, output, stepSummary } = await runGateStep(
      billing.sha.D,
      billing.sha.B,
      "fixes",
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`baseline merge-base(${billing.sha.B}, ${billing.sha.D})`);
    expect(run.stdout).toContain(`(${billing.sha.A.slice(0, 12)})`);
    expect(run.stdout).toMatch(/tax-column-missing: proves the fix/);
    expect(output).toBe("exit-code=0\n");
    expect(stepSummary).toContain("### faultline gate: ✅ the fix is proven");
    expect(stepSummary).toMatch(/\| tax-column-missing \| – \| ✅ proves the fix \|/);
    expect(readFileSync(path.join(reports, "summary.md"), "utf8")).toBe(stepSummary);
    for (const file of ["junit.xml", "gate.json", "summary.md"])
      expect(existsSync(path.join(reports, file)), file).toBe(true);
    expect(JSON.parse(readFileSync(path.join(reports, "gate.json"), "utf8")).exitCode).toBe(0);
    expectNoCheckoutLeft();
    rmSync(reports, { recursive: true });
  });

  it("a pull request that reverts the fix fails the step: exit 1, the summary says so", async () => {
    const { run, reports, output, stepSummary } = await runGateStep(
      billing.sha.B,
      billing.sha.C,
      "reverts",
    );
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/tax-column-missing: regresses/);
    expect(output).toBe("exit-code=1\n");
    expect(stepSummary).toContain("❌ the change is not proven");
    expect(readFileSync(path.join(reports, "junit.xml"), "utf8")).toMatch(/<failure/);
    expectNoCheckoutLeft();
    rmSync(reports, { recursive: true });
  });

  it("a step that cannot run the gate still leaves a summary for the comment", async () => {
    // A shallow clone's base sha is unknown: exit 2, and the summary names the exit code.
    const { run, reports, output, stepSummary } = await runGateStep(
      "0123456789abcdef0123456789abcdef01234567",
      billing.sha.B,
      "shallow",
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--target 0123456789ab\w*: no such commit/);
    expect(output).toBe("exit-code=2\n");
    expect(stepSummary).toContain("faultline gate: exit 2, no summary");
    expect(readFileSync(path.join(reports, "summary.md"), "utf8")).toBe(stepSummary);
    rmSync(reports, { recursive: true });
  });
});
