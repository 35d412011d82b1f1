import path from "node:path";
import type { Evidence, Repo } from "./repo.ts";

/** The JavaScript package manager a repository uses, and its workspace if it has one. */
export interface PackageManager {
  name: "npm" | "pnpm" | "yarn";
  /** From package.json's `packageManager` ("pnpm@9.15.0"), when it pins one. */
  version?: string;
  evidence: Evidence[];
}

export interface Workspace {
  /** The workspace root, relative to the repository root ("." for the root). */
  root: string;
  manager: PackageManager;
  /** The service package's name, and the workspace packages it depends on (names). */
  name?: string;
  dependencies: string[];
}

function json(repo: Repo, file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(repo.read(file) ?? "") as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const join = (dir: string, file: string) => (dir === "." ? file : `${dir}/${file}`);

/** The package manager of the folder `dir`: `packageManager`, else its lock file; npm by default. */
export function packageManagerAt(repo: Repo, dir: string): PackageManager | undefined {
  const manifest = json(repo, join(dir, "package.json"));
  const pinned = typeof manifest?.packageManager === "string" ? manifest.packageManager : "";
  const m = /^(npm|pnpm|yarn)@(\d[^+\s]*)/.exec(pinned);
  if (m) {
    const at = repo.find(join(dir, "package.json"), /"packageManager"\s*:/);
    return {
      name: m[1] as PackageManager["name"],
      version: m[2] as string,
      evidence: at ? [at] : [],
    };
  }
  for (const [file, name] of [
    ["pnpm-lock.yaml", "pnpm"],
    ["yarn.lock", "yarn"],
    ["package-lock.json", "npm"],
  ] as const) {
    if (repo.has(join(dir, file)))
      return { name, evidence: [{ file: join(dir, file), line: 1, text: "lock file" }] };
  }
  return undefined;
}

/**
 * The workspace `serviceDir` belongs to: the nearest folder at or above it with
 * pnpm-workspace.yaml or package.json `workspaces`, when that is not the service folder alone.
 */
export function detectWorkspace(repo: Repo, serviceDir: string): Workspace | undefined {
  let dir = serviceDir;
  for (;;) {
    const isRoot =
      repo.has(join(dir, "pnpm-workspace.yaml")) ||
      json(repo, join(dir, "package.json"))?.workspaces !== undefined;
    if (isRoot) {
      if (dir === serviceDir) return undefined;
      const manager = packageManagerAt(repo, dir) ?? { name: "npm", evidence: [] };
      const service = json(repo, join(serviceDir, "package.json"));
      const deps = {
        ...(service?.dependencies as Record<string, string> | undefined),
        ...(service?.devDependencies as Record<string, string> | undefined),
      };
      const names = workspacePackageNames(repo, dir);
      const dependencies = Object.entries(deps)
        .filter(([name, spec]) => String(spec).startsWith("workspace:") || names.has(name))
        .map(([name]) => name);
      return {
        root: dir,
        manager,
        ...(typeof service?.name === "string" ? { name: service.name } : {}),
        dependencies,
      };
    }
    if (dir === ".") return undefined;
    dir = path.posix.dirname(dir);
  }
}

/** Names of the packages under a workspace root (every package.json below it, not only globs). */
function workspacePackageNames(repo: Repo, root: string): Set<string> {
  const prefix = root === "." ? "" : `${root}/`;
  const names = new Set<string>();
  for (const file of repo.files) {
    if (!file.startsWith(prefix) || !file.endsWith("/package.json")) continue;
    const name = json(repo, file)?.name;
    if (typeof name === "string") names.add(name);
  }
  return names;
}

/** How to run the manager: npm as it is; pnpm and yarn through npx at the pinned version. */
export function managerCommand(manager: PackageManager): string {
  if (manager.name === "npm") return "npm";
  return `npx --yes ${manager.name}@${manager.version ?? "latest"}`;
}

/**
 * The build of a workspace service, run in the service's folder: from the workspace root, with
 * the repository's own package manager, install, then build the workspace packages the service
 * depends on before the service itself (its own script builds only the app).
 */
export function workspaceBuild(workspace: Workspace, serviceDir: string): string {
  const up = path.posix.relative(serviceDir, workspace.root) || ".";
  const pm = managerCommand(workspace.manager);
  const name = workspace.name;
  const steps: string[] = [`cd ${up}`];
  if (workspace.manager.name === "pnpm") {
    steps.push(`${pm} install --frozen-lockfile`);
    // `name...`: the package and everything it depends on, dependencies first.
    steps.push(
      name ? `${pm} --filter ${JSON.stringify(`${name}...`)} run build` : `${pm} -r run build`,
    );
  } else if (workspace.manager.name === "yarn") {
    const classic = (workspace.manager.version ?? "1").startsWith("1");
    steps.push(`${pm} install ${classic ? "--frozen-lockfile" : "--immutable"}`);
    for (const dep of [...workspace.dependencies, ...(name ? [name] : [])])
      steps.push(`${pm} workspace ${dep} run build`);
  } else {
    steps.push(repoHasLock(workspace) ? "npm ci" : "npm install");
    const order = [...workspace.dependencies, ...(name ? [name] : [])];
    steps.push(
      order.length
        ? `npm run build --if-present ${order.map((w) => `-w ${w}`).join(" ")}`
        : "npm run build --workspaces --if-present",
    );
  }
  return steps.join(" && ");
}

function repoHasLock(workspace: Workspace): boolean {
  return workspace.manager.evidence.some((e) => e.file.endsWith("package-lock.json"));
}

/**
 * A start script as a command faultline can `exec`: `VAR=value cmd` becomes `env VAR=value cmd`
 * (`exec VAR=value` is "not found" in sh).
 */
export function execLine(command: string): string {
  const line = command.trim().replace(/^exec\s+/, "");
  return /^[A-Za-z_][A-Za-z0-9_]*=/.test(line) ? `exec env ${line}` : `exec ${line}`;
}
