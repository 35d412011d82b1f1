import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./cli.ts";

const EXAMPLE = path.join(ROOT, "examples", "python-billing");

/** A git repository shaped like a user's, with the hotfix as a real change of its code. */
export interface BillingRepo {
  dir: string;
  /** A: before the hotfix; B: the hotfix and its scenario; C: B reverted; D: later, on main. */
  sha: Record<"A" | "B" | "C" | "D", string>;
  git(...args: string[]): string;
}

/**
 * The python-billing example at the root of a new repository in `dir`, with its own
 * faultline.config.ts and scenarios, scripts/gate-refs.mjs vendored, and faultline and zx
 * installed in node_modules (links into this project, ignored by git):
 *   A  main: the service before the hotfix (only the pre-hotfix handler) and a guard scenario
 *   B  fix (from A): the hotfix (the rollback code), plus the scenario that reproduces the incident
 *   C  revert (from B): the hotfix reverted, the scenario kept
 *   D  main (from A): an unrelated change after the fix branched off
 * The work tree is left on main.
 */
export function createBillingRepo(dir: string): BillingRepo {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: dir, encoding: "utf8" }).trim();
  const commit = (message: string) => {
    git("add", "-A");
    git("-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", message);
    return git("rev-parse", "HEAD");
  };
  mkdirSync(path.join(dir, "faultline"), { recursive: true });
  mkdirSync(path.join(dir, "scripts"));
  for (const file of ["app.py", "stripe_signature.py", "python.ts", "faultline.config.ts", "db"])
    cpSync(path.join(EXAMPLE, file), path.join(dir, file), { recursive: true });
  cpSync(path.join(ROOT, "scripts", "gate-refs.mjs"), path.join(dir, "scripts", "gate-refs.mjs"));
  writeFileSync(path.join(dir, ".gitignore"), "node_modules/\n__pycache__/\n");
  // What `npm install --save-dev faultline zx` leaves: the packages and their bins.
  const modules = path.join(dir, "node_modules");
  mkdirSync(path.join(modules, ".bin"), { recursive: true });
  symlinkSync(ROOT, path.join(modules, "faultline"));
  symlinkSync(path.join(ROOT, "node_modules", "zx"), path.join(modules, "zx"));
  symlinkSync("../faultline/bin/faultline.mjs", path.join(modules, ".bin", "faultline"));
  symlinkSync("../zx/build/cli.js", path.join(modules, ".bin", "zx"));

  const fixed = readFileSync(path.join(EXAMPLE, "billing.py"), "utf8");
  const hotfixAt = fixed.indexOf("# --- fixed: the hotfix");
  if (hotfixAt < 0) throw new Error("billing.py: the hotfix section moved");
  const broken = `${fixed.slice(0, hotfixAt)}# Before the hotfix there is one handler.\nHANDLERS = {"broken": handle_broken, "fixed": handle_broken}\n`;
  const guard = readFileSync(path.join(EXAMPLE, "faultline", "bad-signatures.scenario.ts"), "utf8");
  if (!guard.includes("randomSeed: 20240315,")) throw new Error("bad-signatures: seed moved");

  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  writeFileSync(path.join(dir, "billing.py"), broken);
  writeFileSync(
    path.join(dir, "faultline", "bad-signatures.scenario.ts"),
    guard.replace("randomSeed: 20240315,", "randomSeed: 20240315,\n  mustPassOnBaseline: true,"),
  );
  const A = commit("billing service");
  git("checkout", "-q", "-b", "fix");
  writeFileSync(path.join(dir, "billing.py"), fixed);
  cpSync(
    path.join(EXAMPLE, "faultline", "tax-column-missing.scenario.ts"),
    path.join(dir, "faultline", "tax-column-missing.scenario.ts"),
  );
  const B = commit("hotfix: roll back after a failed write; scenario tax-column-missing");
  git("checkout", "-q", "-b", "revert");
  writeFileSync(path.join(dir, "billing.py"), broken);
  const C = commit("revert the hotfix");
  git("checkout", "-q", "main");
  writeFileSync(path.join(dir, "CHANGELOG.md"), "- nothing to do with billing\n");
  const D = commit("changelog");
  return { dir, sha: { A, B, C, D }, git };
}
