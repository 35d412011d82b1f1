import { dirOf, type Evidence, evidenceAt, type Guess, type Repo } from "./repo.ts";
import {
  detectWorkspace,
  execLine,
  managerCommand,
  packageManagerAt,
  workspaceBuild,
} from "./workspace.ts";

/** How to start the service under test, as the config's `service` block says it. */
export interface ServiceGuess {
  command: string;
  /** The service's folder relative to the repository root ("." for the root). */
  cwd: string;
  build?: string;
  readyPath: string;
  readyTimeout: number;
}

const MANIFESTS = [
  "package.json",
  "manage.py",
  "Gemfile",
  "go.mod",
  "pyproject.toml",
  "requirements.txt",
];

/** The folder of the service: the nearest one above the webhook handler with a manifest. */
function serviceDir(repo: Repo, handler: string | undefined): string {
  let dir = handler ? dirOf(handler) : ".";
  for (;;) {
    const prefix = dir === "." ? "" : `${dir}/`;
    if (MANIFESTS.some((m) => repo.has(`${prefix}${m}`))) return dir;
    if (dir === ".") return ".";
    dir = dirOf(dir);
  }
}

function lineOf(repo: Repo, file: string, pattern: RegExp): Evidence {
  return repo.find(file, pattern) ?? { file, line: 1, text: "" };
}

function fromPackageJson(
  repo: Repo,
  file: string,
): Guess<Omit<ServiceGuess, "cwd" | "readyPath">> | undefined {
  let manifest: { scripts?: Record<string, string>; main?: string };
  try {
    manifest = JSON.parse(repo.read(file) ?? "");
  } catch {
    return undefined;
  }
  const scripts = manifest.scripts ?? {};
  const dir = dirOf(file);
  const workspace = detectWorkspace(repo, dir);
  const manager = workspace?.manager ?? packageManagerAt(repo, dir);
  const run = manager ? managerCommand(manager) : "npm";
  // In a workspace the app imports packages its own script does not build: build from the root.
  const build =
    workspace && (scripts.build || workspace.dependencies.length)
      ? workspaceBuild(workspace, dir)
      : scripts.build
        ? `${run} run build`
        : undefined;
  const managerEvidence = [...(workspace?.manager.evidence ?? manager?.evidence ?? [])];
  const start = scripts.start?.trim();
  const at = lineOf(repo, file, /"start"\s*:/);
  const withBuild = <T extends object>(v: T) => (build ? { ...v, build } : v);
  if (start && /\bnext\s+start\b/.test(start))
    return {
      value: withBuild({
        command: 'exec ./node_modules/.bin/next start -p "$PORT"',
        readyTimeout: 60_000,
      }),
      evidence: [at, ...managerEvidence],
    };
  // One plain command is run as is (exec, so signals reach the service, not a shell); a
  // `VAR=value` prefix goes through env, as `exec VAR=value` is "not found" in sh.
  if (start && !/&&|\|\||;|\bnpm\b|\bpnpm\b|\byarn\b|\bconcurrently\b/.test(start))
    return {
      value: withBuild({ command: execLine(start), readyTimeout: 30_000 }),
      evidence: [at, ...managerEvidence],
    };
  if (start)
    return {
      value: withBuild({ command: `exec ${run} start`, readyTimeout: 30_000 }),
      evidence: [at, ...managerEvidence],
    };
  const base = dirOf(file) === "." ? "" : `${dirOf(file)}/`;
  const entry = [manifest.main, "server.js", "index.js", "app.js", "server.mjs", "index.mjs"].find(
    (f) => f && repo.has(`${base}${f}`),
  );
  if (entry)
    return {
      value: withBuild({ command: `exec node ${entry}`, readyTimeout: 30_000 }),
      evidence: [{ file: `${base}${entry}`, line: 1, text: "entry point" }],
    };
  return undefined;
}

function fromOthers(
  repo: Repo,
  prefix: string,
): Guess<Omit<ServiceGuess, "cwd" | "readyPath">> | undefined {
  const procfile = repo.find(`${prefix}Procfile`, /^web:\s*(.+)$/m);
  if (procfile) {
    const cmd = (procfile.match[1] ?? "").trim();
    return {
      value: { command: execLine(cmd), readyTimeout: 30_000 },
      evidence: [procfile],
    };
  }
  if (repo.has(`${prefix}manage.py`))
    return {
      value: {
        command: 'exec python3 manage.py runserver "127.0.0.1:$PORT" --noreload',
        readyTimeout: 30_000,
      },
      evidence: [{ file: `${prefix}manage.py`, line: 1, text: "Django project" }],
    };
  if (repo.has(`${prefix}bin/rails`))
    return {
      value: { command: 'exec bin/rails server -b 127.0.0.1 -p "$PORT"', readyTimeout: 60_000 },
      evidence: [{ file: `${prefix}bin/rails`, line: 1, text: "Rails application" }],
    };
  if (repo.has(`${prefix}config.ru`))
    return {
      value: {
        command: 'exec bundle exec rackup -o 127.0.0.1 -p "$PORT"',
        readyTimeout: 30_000,
      },
      evidence: [{ file: `${prefix}config.ru`, line: 1, text: "Rack application" }],
    };
  for (const name of ["server.rb", "app.rb"]) {
    const found = repo.find(`${prefix}${name}`, /require\s+["']sinatra/);
    if (found)
      return {
        value: { command: `exec ruby ${name} -o 127.0.0.1 -p "$PORT"`, readyTimeout: 30_000 },
        evidence: [found],
      };
  }
  for (const name of ["main.py", "app.py", "server.py"]) {
    const file = `${prefix}${name}`;
    const text = repo.read(file);
    if (text === undefined) continue;
    const mod = name.replace(/\.py$/, "");
    const fastapi = /(\w+)\s*=\s*FastAPI\(/.exec(text);
    if (fastapi)
      return {
        value: {
          command: `exec uvicorn ${mod}:${fastapi[1]} --host 127.0.0.1 --port "$PORT"`,
          readyTimeout: 30_000,
        },
        evidence: [evidenceAt(file, text, fastapi.index)],
      };
    const flask = /(\w+)\s*=\s*Flask\(/.exec(text);
    if (flask)
      return {
        value: {
          command: `exec python3 -m flask --app ${mod}:${flask[1]} run --host 127.0.0.1 --port "$PORT"`,
          readyTimeout: 30_000,
        },
        evidence: [evidenceAt(file, text, flask.index)],
      };
    return {
      value: { command: `exec python3 ${name}`, readyTimeout: 30_000 },
      evidence: [{ file, line: 1, text: "entry point" }],
    };
  }
  if (repo.has(`${prefix}go.mod`))
    return {
      value: { command: "exec go run .", readyTimeout: 60_000 },
      evidence: [{ file: `${prefix}go.mod`, line: 1, text: "Go module" }],
    };
  return undefined;
}

/** A health route, if the service has one; "/" otherwise (any answer below 500 is ready). */
function readyPath(repo: Repo, dir: string): Guess<string> {
  const prefix = dir === "." ? "" : `${dir}/`;
  for (const file of repo.files) {
    if (!file.startsWith(prefix)) continue;
    const route = /(?:^|\/)app\/(api\/)?(health|healthz|healthcheck)\/route\.[cm]?[jt]sx?$/.exec(
      file,
    );
    if (route)
      return { value: `/${route[1] ?? ""}${route[2]}`, evidence: [{ file, line: 1, text: "" }] };
  }
  for (const file of repo.files) {
    if (!file.startsWith(prefix) || !/\.(?:[cm]?[jt]s|py|rb|go)$/.test(file)) continue;
    const found = repo.find(file, /["'`](\/(?:api\/)?(?:healthz|health|healthcheck))["'`]/);
    if (found) return { value: found.match[1] ?? "/", evidence: [found] };
  }
  return { value: "/", evidence: [] };
}

/** How to start the service: its manifest's start script, a Procfile, or the framework's server. */
export function detectService(
  repo: Repo,
  handler: string | undefined,
): Guess<ServiceGuess> | undefined {
  const dir = serviceDir(repo, handler);
  const prefix = dir === "." ? "" : `${dir}/`;
  const found =
    (repo.has(`${prefix}package.json`)
      ? fromPackageJson(repo, `${prefix}package.json`)
      : undefined) ?? fromOthers(repo, prefix);
  if (!found) return undefined;
  const ready = readyPath(repo, dir);
  return {
    value: { ...found.value, cwd: dir, readyPath: ready.value },
    evidence: [...found.evidence, ...ready.evidence],
  };
}
