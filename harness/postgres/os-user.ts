import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { PostgresFailedError } from "../errors.ts";

const run = promisify(execFile);

/** The OS identity Postgres runs as: undefined ids mean "as the current user". */
export interface RunAs {
  name: string;
  uid?: number;
  gid?: number;
}

// Postgres refuses to run as root, so as root we borrow (or make) an unprivileged account.
const CANDIDATES = ["postgres", "faultline"];

async function lookup(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Who Postgres should run as. A normal user runs it as themselves; root uses the `postgres`
 * account when the machine has one, else creates a locked system account named `faultline`.
 */
export async function resolveRunAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return { name: "current user" };
  for (const name of CANDIDATES) {
    const found = await lookup(name);
    if (found) return found;
  }
  try {
    await run("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      "faultline",
    ]);
  } catch (error) {
    throw new PostgresFailedError(
      "running as root: Postgres needs an unprivileged OS user; neither 'postgres' nor 'faultline' exists and `useradd faultline` failed",
      { cause: error },
    );
  }
  const created = await lookup("faultline");
  if (!created)
    throw new PostgresFailedError("created OS user 'faultline' but `id faultline` cannot find it");
  return created;
}
