#!/usr/bin/env zx
// Gate a change between two git refs of your repository: check both out side by side (git
// worktrees in a temp dir), build each, and run `faultline gate` with the code before the change
// as the baseline and the code after it as the candidate.
//
//   zx scripts/gate-refs.mjs --head <ref> [--base <ref> | --target <branch>] --start "<cmd>"
//        [--build "<cmd>"] [--repo <dir>] [--faultline "<cmd>"] [--keep] [--dry-run]
//        [-- <scenarios and gate flags>]
//
// The scenarios and faultline.config.ts come from the head checkout: a pull request adds the
// scenario that reproduces its incident, and the base never had it. The gate runs in the head
// checkout, so scenario paths and --config after `--` are relative to the repository root, while
// report files (--junit, --json, --summary, --trace-dir) are relative to where you run this.
//
// Exit codes: the gate's own (0 the change is proven, 1 not proven, 2 bad usage, 3
// infrastructure); 2 also for a bad flag or an unknown ref here, 3 when a checkout or a build
// fails, 130/143 when interrupted (after the worktrees are removed).
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, realpathSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { $ } from "zx";

const USAGE = `usage: zx scripts/gate-refs.mjs --head <ref> --start "<command>" [options] [-- <gate args>]

  --head <ref>         the code with the change (e.g. the pull request's head sha); its
                       scenarios and faultline.config.ts are the ones the gate runs
  --base <ref>         the code before the change (default: the merge base of --head and --target)
  --target <ref>       the branch the change goes into, for the default --base
                       (default: origin/main, else main)
  --start "<command>"  starts the service; run with sh -c from the root of each checkout
                       (e.g. "cd app && exec node dist/server.js")
  --build "<command>"  run once in each checkout before the gate, both at once (e.g. "npm ci")
  --repo <dir>         the git repository (default: the current folder)
  --faultline "<cmd>"  the faultline to run (default: <repo>/node_modules/.bin/faultline, else
                       npx faultline)
  --keep               leave the two checkouts in place (their paths are printed)
  --dry-run            print what would run, run nothing
  -- <gate args>       scenario files and faultline gate flags, e.g.
                       -- faultline/incident.scenario.ts --junit gate.xml --summary summary.md

Exit codes: the gate's (0 proven, 1 not proven, 2 bad usage, 3 infrastructure failed); 2 for a
bad flag or an unknown ref; 3 when a checkout or a build fails; 130/143 when interrupted.`;

/** Bad usage: exit 2. */
class UsageError extends Error {}
/** A checkout or a build failed: exit 3. */
class InfrastructureError extends Error {}

// The gate flags whose value is a file this script's caller means relative to their own folder;
// the gate itself runs in the head checkout, which is removed afterwards.
const OUTPUT_FLAGS = new Set(["--junit", "--json", "--summary", "--trace-dir"]);
// Set here from --start; given after `--` they would silently replace the checkouts.
const OWNED_FLAGS = new Set(["--baseline", "--candidate", "--service"]);
const BUILD_TAIL_LINES = 20;
const EXIT_MEANINGS = { 2: "bad usage or a bad scenario", 3: "infrastructure failed" };

/** The arguments after this script's own path, whether run by `zx script` or `node script`. */
function scriptArgs() {
  const self = realpathSync(fileURLToPath(import.meta.url));
  const at = process.argv.findIndex((arg, i) => {
    if (i === 0) return false;
    try {
      return realpathSync(path.resolve(arg)) === self;
    } catch {
      return false;
    }
  });
  return process.argv.slice(at === -1 ? 2 : at + 1);
}

function parse(args) {
  const split = args.indexOf("--");
  const own = split === -1 ? args : args.slice(0, split);
  const gateArgs = split === -1 ? [] : args.slice(split + 1);
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        base: { type: "string" },
        head: { type: "string" },
        target: { type: "string" },
        repo: { type: "string" },
        build: { type: "string" },
        start: { type: "string" },
        faultline: { type: "string" },
        keep: { type: "boolean" },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError(error.message);
  }
  if (values.help) return { help: true };
  if (positionals.length > 0)
    throw new UsageError(
      `unexpected ${JSON.stringify(positionals[0])}: put scenarios and gate flags after "--"`,
    );
  if (!values.head?.trim()) throw new UsageError("--head is required: the ref with the change");
  if (!values.start?.trim())
    throw new UsageError(
      '--start is required: the command that starts the service from a checkout\'s root, e.g. --start "exec node server.js"',
    );
  if (values.base !== undefined && values.target !== undefined)
    throw new UsageError("give --base or --target, not both");
  for (const [flag, value] of Object.entries(values))
    if (typeof value === "string" && value.trim() === "")
      throw new UsageError(`--${flag}: expected a value, got an empty string`);
  for (const arg of gateArgs) {
    const flag = arg.split("=")[0];
    if (OWNED_FLAGS.has(flag))
      throw new UsageError(
        `${flag} after "--": gate-refs sets --baseline and --candidate itself from --start and the two checkouts`,
      );
  }
  return { ...values, dryRun: values["dry-run"] ?? false, gateArgs };
}

/** `'…'` for sh, whatever the text holds. */
function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

async function repoRoot(dir) {
  if (!existsSync(dir)) throw new UsageError(`--repo ${dir}: no such folder`);
  const found = await $({ cwd: dir, quiet: true, nothrow: true })`git rev-parse --show-toplevel`;
  if (found.exitCode !== 0)
    throw new UsageError(`${dir} is not inside a git repository: ${found.stderr.trim()}`);
  return found.stdout.trim();
}

/** The commit a ref names, or a UsageError naming the flag. */
async function commitOf(repo, ref, flag) {
  const found = await $({
    cwd: repo,
    quiet: true,
    nothrow: true,
  })`git rev-parse --verify --quiet --end-of-options ${`${ref}^{commit}`}`;
  if (found.exitCode !== 0)
    throw new UsageError(
      `${flag} ${ref}: no such commit in ${repo} (a shallow clone? check out with full history, e.g. actions/checkout's fetch-depth: 0)`,
    );
  return found.stdout.trim();
}

async function defaultTarget(repo) {
  for (const candidate of ["origin/main", "main"]) {
    const found = await $({
      cwd: repo,
      quiet: true,
      nothrow: true,
    })`git rev-parse --verify --quiet ${`${candidate}^{commit}`}`;
    if (found.exitCode === 0) return candidate;
  }
  throw new UsageError(
    "no --base given and neither origin/main nor main exists: give --base <ref> or --target <branch>",
  );
}

async function mergeBase(repo, head, target) {
  const found = await $({
    cwd: repo,
    quiet: true,
    nothrow: true,
  })`git merge-base ${head} ${target}`;
  if (found.exitCode !== 0)
    throw new UsageError(
      `--head and ${target} have no merge base in ${repo}: give --base <ref> (a shallow clone? fetch full history)`,
    );
  return found.stdout.trim();
}

/** The faultline command of the repository this runs in, as argv. */
function faultlineCommand(repo, override) {
  if (override) return ["sh", "-c", `${override} "$@"`, "faultline"];
  const local = path.join(repo, "node_modules", ".bin", "faultline");
  if (existsSync(local)) return [local];
  return ["npx", "faultline"];
}

/** Gate args with report paths made absolute against the caller's folder. */
function withAbsoluteOutputs(args, cwd) {
  const out = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0 && OUTPUT_FLAGS.has(arg.slice(0, eq)))
      out.push(`${arg.slice(0, eq)}=${path.resolve(cwd, arg.slice(eq + 1))}`);
    else if (OUTPUT_FLAGS.has(arg) && i + 1 < args.length) {
      out.push(arg, path.resolve(cwd, args[i + 1]));
      i++;
    } else out.push(arg);
  }
  return out;
}

function flagValue(args, flag) {
  let value;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag && i + 1 < args.length) value = args[i + 1];
    else if (args[i].startsWith(`${flag}=`)) value = args[i].slice(flag.length + 1);
  }
  return value;
}

const children = new Set();
let interrupted;

/** Start a child in its own process group, so a signal reaches it exactly once, from us. */
function startChild(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  const done = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, done };
}

function signalChildren(signal) {
  for (const child of children) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Lines of a stream, each passed on prefixed, the last few kept for an error message. */
function prefixLines(stream, prefix, out, tail) {
  let partial = "";
  const emit = (line) => {
    out.write(`${prefix}${line}\n`);
    tail.push(line);
    if (tail.length > BUILD_TAIL_LINES) tail.shift();
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) emit(line);
  });
  stream.on("end", () => {
    if (partial) emit(partial);
  });
}

async function build(side, ref, dir, command) {
  const tail = [];
  const prefix = `[${side}] `;
  const { child, done } = startChild("sh", ["-c", command], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FAULTLINE_SIDE: side },
  });
  prefixLines(child.stdout, prefix, process.stdout, tail);
  prefixLines(child.stderr, prefix, process.stderr, tail);
  const started = Date.now();
  const { code, signal } = await done;
  if (interrupted) return;
  if (code !== 0)
    throw new InfrastructureError(
      `the build of the ${side} (${ref}) failed with ${signal ?? `exit code ${code}`}: ${command}\n` +
        `  in ${dir}\n  its last ${tail.length} line(s):\n${tail.map((l) => `    ${l}`).join("\n")}`,
    );
  process.stdout.write(`${prefix}built in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}

async function removeCheckouts(repo, dirs, tmp) {
  for (const dir of dirs) {
    const removed = await $({
      cwd: repo,
      quiet: true,
      nothrow: true,
    })`git worktree remove --force ${dir}`;
    if (removed.exitCode !== 0 && existsSync(dir))
      process.stderr.write(`gate-refs: could not remove ${dir}: ${removed.stderr.trim()}\n`);
  }
  rmSync(tmp, { recursive: true, force: true });
  await $({ cwd: repo, quiet: true, nothrow: true })`git worktree prune`;
}

async function main() {
  const options = parse(scriptArgs());
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cwd = process.cwd();
  const repo = await repoRoot(path.resolve(cwd, options.repo ?? "."));
  const headSha = await commitOf(repo, options.head, "--head");
  let baseRef = options.base;
  let baseSha;
  if (baseRef !== undefined) baseSha = await commitOf(repo, baseRef, "--base");
  else {
    const target = options.target ?? (await defaultTarget(repo));
    await commitOf(repo, target, "--target");
    baseSha = await mergeBase(repo, headSha, target);
    baseRef = `merge-base(${options.head}, ${target})`;
  }
  const short = (sha) => sha.slice(0, 12);
  const sides = [
    { side: "baseline", ref: baseRef, sha: baseSha },
    { side: "candidate", ref: options.head, sha: headSha },
  ];
  process.stdout.write(
    `gate-refs: baseline ${baseRef} (${short(baseSha)}), candidate ${options.head} (${short(headSha)}); scenarios and config from the candidate\n`,
  );
  if (baseSha === headSha)
    process.stderr.write(
      "gate-refs: warning: baseline and candidate are the same commit; nothing can prove a fix\n",
    );

  const tmp = options.dryRun
    ? "<tmp>"
    : realpathSync(mkdtempSync(path.join(os.tmpdir(), "faultline-gate-refs-")));
  for (const s of sides) s.dir = path.join(tmp, s.side);
  const startIn = (dir) => `cd ${shellQuote(dir)} && ${options.start}`;
  const faultline = faultlineCommand(repo, options.faultline);
  const gateArgv = [
    ...faultline,
    "gate",
    ...withAbsoluteOutputs(options.gateArgs, cwd),
    "--baseline",
    startIn(sides[0].dir),
    "--candidate",
    startIn(sides[1].dir),
  ];

  if (options.dryRun) {
    const lines = [];
    for (const s of sides)
      lines.push(`git -C ${shellQuote(repo)} worktree add --detach ${s.dir} ${s.sha}`);
    if (options.build)
      for (const s of sides) lines.push(`(cd ${s.dir} && ${options.build})  # ${s.side}, at once`);
    lines.push(`(cd ${sides[1].dir} && ${gateArgv.map(shellQuote).join(" ")})`);
    for (const s of sides)
      lines.push(`git -C ${shellQuote(repo)} worktree remove --force ${s.dir}`);
    process.stdout.write(
      `gate-refs: dry run, would run:\n${lines.map((l) => `  ${l}`).join("\n")}\n`,
    );
    return 0;
  }

  const added = [];
  const onSignal = (signal) => {
    if (interrupted) {
      signalChildren("SIGKILL");
      return;
    }
    interrupted = signal;
    process.stderr.write(`\ngate-refs: ${signal}: stopping, then removing the checkouts…\n`);
    signalChildren(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    for (const s of sides) {
      if (interrupted) break;
      const made = await $({
        cwd: repo,
        quiet: true,
        nothrow: true,
      })`git worktree add --detach ${s.dir} ${s.sha}`;
      if (made.exitCode !== 0)
        throw new InfrastructureError(
          `git worktree add for the ${s.side} (${s.ref}) failed: ${made.stderr.trim()}`,
        );
      added.push(s.dir);
    }
    if (options.build && !interrupted) {
      const builds = sides.map((s) => build(s.side, s.ref, s.dir, options.build));
      try {
        await Promise.all(builds);
      } catch (error) {
        // One side failed: the other's result cannot matter, and its checkout is about to go.
        signalChildren("SIGTERM");
        await Promise.allSettled(builds);
        throw error;
      }
    }
    if (interrupted) return interrupted === "SIGTERM" ? 143 : 130;

    const [command, ...args] = gateArgv;
    const summary = flagValue(options.gateArgs, "--summary");
    const summaryFile = summary && path.resolve(cwd, summary);
    const summarySize = () =>
      summaryFile && existsSync(summaryFile) ? statSync(summaryFile).size : 0;
    const before = summarySize();
    const { code, signal } = await startChild(command, args, {
      cwd: sides[1].dir,
      stdio: "inherit",
    }).done;
    if (interrupted) return interrupted === "SIGTERM" ? 143 : 130;
    if (code === null) return 128 + (os.constants.signals[signal] ?? 0);
    if (summaryFile) {
      // The gate writes no summary when it stops before judging (bad usage, no Postgres): a
      // reader of the step summary or the pull request comment still learns why.
      if (summarySize() === before)
        appendFileSync(
          summaryFile,
          `### faultline gate: ⚠️ exit ${code} (${EXIT_MEANINGS[code] ?? "unexpected"}), no verdict: see the gate's output\n`,
        );
      appendFileSync(
        summaryFile,
        `\nbaseline: ${baseRef} \`${short(baseSha)}\` · candidate: ${options.head} \`${short(headSha)}\` (built by scripts/gate-refs.mjs)\n\n`,
      );
    }
    return code;
  } catch (error) {
    if (error instanceof InfrastructureError) {
      const summary = flagValue(options.gateArgs, "--summary");
      if (summary)
        appendFileSync(
          path.resolve(cwd, summary),
          `### faultline gate: ⚠️ infrastructure failed\n\n\`\`\`\n${error.message.replaceAll("```", "'''")}\n\`\`\`\n\n`,
        );
    }
    throw error;
  } finally {
    if (options.keep) {
      process.stdout.write(
        `gate-refs: kept the checkouts:\n${added.map((d) => `  ${d}`).join("\n")}\n  remove them with: git -C ${shellQuote(repo)} worktree remove --force <dir>\n`,
      );
    } else await removeCheckouts(repo, added, tmp);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`gate-refs: ${error.message}\n  (--help for the usage)\n`);
    process.exitCode = 2;
  } else if (error instanceof InfrastructureError) {
    process.stderr.write(`gate-refs: ${error.message}\n`);
    process.exitCode = 3;
  } else {
    process.stderr.write(`gate-refs: ${error?.stack ?? error}\n`);
    process.exitCode = 3;
  }
}
