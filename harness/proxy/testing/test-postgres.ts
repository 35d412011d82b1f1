/** A Postgres for the proxy's `*.pg.test.ts` files. */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type RunEnvironment, startEnvironment } from "../../postgres/index.ts";

/** A started Postgres (trust auth) for a test file, with its temp root. */
export interface TestPostgres {
  env: RunEnvironment;
  stop(): Promise<void>;
}

/**
 * Start the embedded Postgres under a fresh temp root (mode 0755: the server may run as another
 * OS user), as `harness/postgres/embedded.pg.test.ts` does.
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const root = await mkdtemp(path.join(tmpdir(), "faultline-proxy-test-"));
  await chmod(root, 0o755);
  process.env.FAULTLINE_TMPDIR = root;
  let env: RunEnvironment;
  try {
    env = await startEnvironment();
  } catch (error) {
    delete process.env.FAULTLINE_TMPDIR;
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    env,
    async stop() {
      await env.stop();
      delete process.env.FAULTLINE_TMPDIR;
      await rm(root, { recursive: true, force: true });
    },
  };
}
