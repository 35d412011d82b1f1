import { execFileSync } from "node:child_process";

let found: string | undefined;

/**
 * The Python to run the example with: the first of $PYTHON, `python3` on PATH and Debian's
 * /usr/bin/python3 that can import psycopg2 (a pyenv or venv python often cannot, while the
 * system one has python3-psycopg2). Falls back to `python3`, whose start then fails with the
 * service's own message saying what to install.
 */
export function findPython(): string {
  if (found) return found;
  const candidates = [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string =>
    Boolean(c),
  );
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["-c", "import psycopg2"], { stdio: "ignore", timeout: 10_000 });
      found = candidate;
      return found;
    } catch {
      // Not installed, or no psycopg2 for it: try the next one.
    }
  }
  found = process.env.PYTHON || "python3";
  return found;
}
