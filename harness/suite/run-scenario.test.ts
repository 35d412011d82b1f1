import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BadScenarioError,
  BadUsageError,
  FaultlineError,
  ScenarioNotFoundError,
} from "../errors.ts";
import { defineScenario, noCascade, webhook } from "../scenario/index.ts";
import { runScenario, stopEnvironments } from "./index.ts";

// Everything here is refused before Postgres starts: no server is needed.
const dir = mkdtempSync(path.join(tmpdir(), "faultline-run-scenario-"));
afterAll(async () => {
  await stopEnvironments();
  rmSync(dir, { recursive: true, force: true });
});

const valid = defineScenario({
  name: "valid",
  webhooks: [webhook("checkout.session.completed")],
  invariants: [noCascade()],
});

async function rejection(promise: Promise<unknown>): Promise<FaultlineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FaultlineError);
  return error as FaultlineError;
}

describe("runScenario refuses bad input with faultline's own errors", () => {
  it("a scenario file that does not exist", async () => {
    const error = await rejection(runScenario(path.join(dir, "missing.scenario.ts")));
    expect(error).toBeInstanceOf(ScenarioNotFoundError);
    expect(error.message).toMatch(/missing\.scenario\.ts: no such file or folder/);
  });

  it("a scenario file with a mistake, naming the file and the field", async () => {
    const file = path.join(dir, "typo.scenario.ts");
    writeFileSync(
      file,
      `export default { name: "typo", randomSeeed: 1, webhooks: [{ fixture: "checkout.session.completed" }], invariants: [{ invariant: "noCascade" }] };\n`,
    );
    const error = await rejection(runScenario(file, { config: false }));
    expect(error).toBeInstanceOf(BadScenarioError);
    expect(error.code).toBe("FL_BAD_SCENARIO");
    expect(error.message).toContain("typo.scenario.ts: ");
    expect(error.message).toContain("randomSeeed");
  });

  it("a scenario value with a mistake, named by its name", async () => {
    const error = await rejection(
      runScenario(
        {
          ...valid,
          webhooks: [webhook("checkout.session.completed", { customr: "cus_1" })],
        },
        { config: false },
      ),
    );
    expect(error).toBeInstanceOf(BadScenarioError);
    expect(error.message).toMatch(
      /^scenario "valid": field "webhooks\[0\]\.with\.customr": fixture stripe\/checkout\.session\.completed has no variable customr/,
    );
  });

  it("a folder of several scenarios, where one is wanted", async () => {
    for (const name of ["a", "b"])
      writeFileSync(
        path.join(dir, `${name}.scenario.ts`),
        `export default ${JSON.stringify({ ...valid, name })};\n`,
      );
    const error = await rejection(runScenario(dir, { config: false }));
    expect(error).toBeInstanceOf(BadUsageError);
    expect(error.message).toMatch(/holds \d+ scenario files; give one file/);
  });

  it("options out of range, naming the option", async () => {
    const cases: [Parameters<typeof runScenario>[1], RegExp][] = [
      [{ seed: -1 }, /options\.seed: expected a whole number from 0 to 4294967295, got -1/],
      [{ readyTimeoutMs: 0 }, /options\.readyTimeoutMs: expected milliseconds/],
      [{ concurrency: 100 }, /options\.concurrency: expected how many cells run at once/],
      [{ service: " " }, /options\.service: expected a bundled service name or a command line/],
      [{ service: { command: "" } }, /options\.service: expected .*\{ command, env\?/],
      [{ config: "" }, /options\.config: expected a faultline\.config file/],
      [{ postgres: "" }, /options\.postgres: expected a provider/],
    ];
    for (const [options, message] of cases) {
      const error = await rejection(runScenario(valid, options));
      expect(error).toBeInstanceOf(BadUsageError);
      expect(error.message).toMatch(message);
    }
  });

  it("an unknown Postgres provider, with the accepted forms", async () => {
    const error = await rejection(runScenario(valid, { config: false, postgres: "docker" }));
    expect(error).toBeInstanceOf(BadUsageError);
    expect(error.message).toMatch(
      /^runScenario: options\.postgres: unknown Postgres provider "docker" in "docker"; accepted:/,
    );
  });

  it("a config file that does not exist", async () => {
    const error = await rejection(runScenario(valid, { config: path.join(dir, "nope.config.ts") }));
    expect(error.code).toBe("FL_BAD_CONFIG");
    expect(error.message).toContain("no such file");
  });

  it("not a scenario at all", async () => {
    const error = await rejection(runScenario(42 as never));
    expect(error.message).toBe(
      "runScenario: expected a scenario file or a defineScenario({...}) value, got number",
    );
  });
});
