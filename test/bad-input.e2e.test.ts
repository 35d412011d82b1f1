import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesTagged, ROOT, runCli } from "./cli.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-bad-input-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Scenario files outside the project can't import "faultline"; defineScenario is only typing,
// so a plain object is the same scenario.
async function scenarioFile(name: string, body: object): Promise<string> {
  const file = path.join(dir, `${name}.scenario.ts`);
  await writeFile(file, `export default ${JSON.stringify(body, null, 2)};\n`);
  return file;
}

const good = {
  name: "tiny",
  webhooks: [{ fixture: "checkout.session.completed", with: { email: "a@example.com" } }],
  invariants: [{ invariant: "noCascade" }],
};

describe("bad input", () => {
  it("a mistyped scenario field exits 2 naming the file and the field", async () => {
    const file = await scenarioFile("typo", {
      ...good,
      webhooks: undefined,
      webhoks: good.webhooks,
    });
    const run = await runCli(["run", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("typo.scenario.ts");
    expect(run.stderr).toContain('field "webhoks": unknown field');
  });

  it("a template variable the fixture does not have exits 2 naming it", async () => {
    const file = await scenarioFile("variable", {
      ...good,
      webhooks: [{ fixture: "checkout.session.completed", with: { emial: "a@example.com" } }],
    });
    const run = await runCli(["run", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('field "webhooks[0].with.emial"');
  });

  it("seed rows the drifted schema cannot take exit 2 naming the row", async () => {
    const file = await scenarioFile("seed", {
      ...good,
      drift: [{ dropColumn: "users.credits_balance" }],
      seed: { users: [{ email: "a@example.com", credits_balance: 5 }] },
    });
    const run = await runCli(["run", file]);
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).toContain('field "seed.users[0]"');
  });

  it("unknown flags, commands and paths exit 2", async () => {
    expect((await runCli(["run", "--servce", "x"])).code).toBe(2);
    expect((await runCli(["runn"])).code).toBe(2);
    const missing = await runCli(["run", "scenarios/nope.scenario.ts"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("scenarios/nope.scenario.ts: no such file or folder");
    expect((await runCli(["run", "--seed", "x1"])).stderr).toContain("--seed");
  });

  it("a service that exits exits 3 with the last 20 lines of its output", async () => {
    const file = await scenarioFile("exits", good);
    const script = "for i in $(seq 1 30); do echo line $i; done; echo 'cannot connect' >&2; exit 7";
    const run = await runCli(["run", file, "--service", script]);
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toContain("exited with code 7");
    expect(run.stdout + run.stderr).toContain("cannot connect");
    expect(run.stdout + run.stderr).toContain("line 30");
    expect(run.stdout + run.stderr).not.toContain("line 10\n");
  });

  it("a service whose port was taken as it started is started again on another port", async () => {
    const file = await scenarioFile("port-taken", good);
    const mark = path.join(dir, "port-taken.first");
    const tsx = path.join(ROOT, "node_modules", "tsx", "dist", "esm", "index.mjs");
    const payments = path.join(ROOT, "fixtures", "services", "payments", "main.ts");
    // The first start binds its port twice, so Node's own EADDRINUSE kills it, as when another
    // process took the port first; the second is the payments service on whatever port it gets.
    const taker = `const n=require("node:net");n.createServer().listen(+process.env.PORT,"127.0.0.1",()=>n.createServer().listen(+process.env.PORT,"127.0.0.1"))`;
    const script = `if [ -e '${mark}' ]; then echo "$PORT" >> '${mark}'; PAYMENTS_VARIANT=fixed exec node --import '${tsx}' '${payments}'; else echo "$PORT" > '${mark}'; exec node -e '${taker}'; fi`;
    const json = path.join(dir, "port-taken.json");
    const run = await runCli(["run", file, "--service", script, "--json", json]);
    expect(run.stdout + run.stderr).not.toContain("became healthy");
    expect(run.code).toBe(0);
    expect(JSON.parse(await readFile(json, "utf8")).scenarios[0].verdict).toBe("pass");
    const ports = (await readFile(mark, "utf8")).trim().split("\n");
    expect(ports).toHaveLength(2);
    expect(ports[0]).not.toBe(ports[1]);
  });

  it("a service that never becomes healthy exits 3 and is stopped", async () => {
    const file = await scenarioFile("hangs", good);
    const tag = `hangs-${process.pid}-${Date.now()}`;
    const run = await runCli(
      ["run", file, "--service", "echo starting; sleep 30", "--ready-timeout", "700"],
      { FAULTLINE_TEST_TAG: tag },
    );
    expect(run.code).toBe(3);
    expect(run.stdout + run.stderr).toContain("did not answer 200 on GET");
    expect(run.stdout + run.stderr).toContain("starting");
    expect(processesTagged("FAULTLINE_TEST_TAG", tag)).toEqual([]);
  });
});
