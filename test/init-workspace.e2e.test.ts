import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "./cli.ts";

// A pnpm workspace whose server migrates itself at start and will not start without every
// variable of its .env.sample (fixtures/projects/pnpm-stripe-sync, written for faultline).
// `init --check` must give a config whose clean run passes with no hand edit. Its build runs
// `npx pnpm@9.15.0 install`, which needs the npm registry.
const PROJECT = path.join(ROOT, "fixtures", "projects", "pnpm-stripe-sync");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-init-ws-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function copy(name: string): Promise<string> {
  const to = path.join(dir, name);
  await cp(PROJECT, to, {
    recursive: true,
    filter: (src) =>
      !src.split(path.sep).includes("node_modules") && !src.includes(`${path.sep}dist`),
  });
  return to;
}

describe("init on a pnpm workspace with a self-migrating server", () => {
  it("writes a config whose clean run passes (init --check), then the drift fails it", async () => {
    const project = await copy("ok");
    const check = await runCli(["init", "--check"], {}, project);
    expect(check.stdout).toContain("clean run: PASS");
    expect(check.code).toBe(0);
    const config = await readFile(path.join(project, "faultline.config.ts"), "utf8");
    expect(config).toContain('command: "exec env NODE_ENV=production node dist/server.js"');
    expect(config).toContain('database: { migrate: "service"');
    expect(config).toContain("npx --yes pnpm@9.15.0 install --frozen-lockfile");
    expect(config).toContain('STRIPE_SECRET_KEY: "sk_test_faultline_dummy", // dummy');
    expect(config).toContain('webhooks: { stripe: { path: "/webhooks" } }');
    const scenario = await readFile(path.join(project, "faultline/incident.scenario.ts"), "utf8");
    expect(scenario).toContain('dropColumn("stripe.checkout_sessions.amount_total")');

    const run = await runCli(["run"], {}, project);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'ERROR 42703: column "amount_total" of relation "checkout_sessions" does not exist',
    );
  });

  it("says in one line why a clean run fails: the service's last words", async () => {
    const project = await copy("no-key");
    const sample = path.join(project, "apps/server/.env.sample");
    await writeFile(
      sample,
      (await readFile(sample, "utf8")).replace(/^STRIPE_SECRET_KEY=.*\n/m, ""),
    );
    const check = await runCli(["init", "--check"], {}, project);
    expect(check.code).toBe(3);
    const line = check.stdout.split("\n").find((l) => l.startsWith("clean run:")) ?? "";
    expect(line).toMatch(
      /^clean run: ERROR \(exit 3\) — database\.migrate "service": building the template, the service exited with code 1 before it became healthy/,
    );
    expect(line).toContain(
      "its last words: Error: STRIPE_SECRET_KEY is required (see .env.sample)",
    );
  });
});
