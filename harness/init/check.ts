import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { defaultTmpRoot, killQuietly, makeTempDir, PACKAGE_ROOT } from "../lifecycle/index.ts";

/** What `faultline init --check` found running the starter scenario once, without its drift. */
export interface CleanRun {
  /** The run's exit code: 0 the clean run passed. */
  exitCode: number;
  /** One line: the verdict, and when it is not a pass, why (the service's last words). */
  line: string;
}

interface Report {
  scenarios?: {
    verdict: string;
    error?: { message: string };
    invariants?: { name: string; passed: boolean; seen: string; evidence: string[] }[];
  }[];
}

/**
 * Run the starter scenario once with its drift removed, through the real CLI, as the user would
 * run it. A clean run that fails is a setup that does not work yet (the service does not start,
 * the route is wrong, a variable is missing): the user must fix that before any drift means
 * anything, so it is said in one line, ending with the service's last words.
 */
export async function checkCleanRun(
  config: string,
  scenario: string,
  signal?: AbortSignal,
): Promise<CleanRun> {
  const temp = makeTempDir(defaultTmpRoot(), "faultline-init-check-");
  try {
    const clean = path.join(temp.path, "clean.scenario.ts");
    await writeFile(
      clean,
      `import starter from ${JSON.stringify(scenario)};\nexport default { ...starter, name: \`\${starter.name}-clean\`, drift: [] };\n`,
    );
    const json = path.join(temp.path, "report.json");
    const bin = path.join(PACKAGE_ROOT, "bin", "faultline.mjs");
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [bin, "run", "--config", config, clean, "--json", json],
        {
          cwd: path.dirname(config),
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let err = "";
      child.stderr?.on("data", (c: Buffer) => {
        err += c.toString();
      });
      const stop = () => killQuietly(child.pid, "SIGTERM");
      signal?.addEventListener("abort", stop, { once: true });
      child.on("close", (exit) => {
        signal?.removeEventListener("abort", stop);
        resolve({ code: exit ?? 3, stderr: err });
      });
    });
    const report = (await readFile(json, "utf8")
      .then((t) => JSON.parse(t) as Report)
      .catch(() => undefined)) as Report | undefined;
    return { exitCode: code, line: describe(code, report, stderr) };
  } finally {
    await rm(temp.path, { recursive: true, force: true });
    temp.forget();
  }
}

function describe(code: number, report: Report | undefined, stderr: string): string {
  const result = report?.scenarios?.[0];
  if (code === 0 && result?.verdict === "pass")
    return "clean run: PASS — the starter scenario passes without its drift: the setup works, so what `npx faultline run` finds with drift is the service's";
  if (result?.verdict === "fail") {
    const violated = (result.invariants ?? []).filter((i) => !i.passed);
    const first = violated[0];
    return `clean run: FAIL (exit ${code}) — without any drift ${violated.map((v) => v.name).join(", ")} failed (${first?.seen ?? ""}${first?.evidence[0] ? `: ${oneLine(first.evidence[0])}` : ""}): fix the setup (route, env, ready path) before reading a drift's verdict`;
  }
  const message = result?.error?.message ?? stderr;
  return `clean run: ERROR (exit ${code}) — ${oneLine(firstLine(message))}${lastWords(message)}`;
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.replace(/^faultline:\s*/, "").trim())
      .find((l) => l !== "") ?? "the run printed nothing"
  );
}

/** The service's (or the build's, or the migration's) last line of output, when the error quotes it. */
function lastWords(message: string): string {
  const at = message.search(/--- last \d+ lines of [^\n]*---\n/);
  if (at === -1) return "";
  const quoted = message
    .slice(at)
    .split("\n")
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("---"));
  // A stack trace's frames and Node's banner are not what the service said.
  const said = quoted.filter(
    (l) => !/^at\s|^\^+$|^Node\.js v\d|^node:internal|^throw |^\{$|^\}$|^\w+: '[^']*',?$/.test(l),
  );
  const last = said.at(-1) ?? quoted.at(-1);
  return last ? `; its last words: ${oneLine(last)}` : "";
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 240 ? `${line.slice(0, 240)}…` : line;
}
