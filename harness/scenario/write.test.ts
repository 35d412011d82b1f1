import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeScenarioPath, writeScenarioFile } from "./write.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "faultline-write-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writing a scenario file", () => {
  it("keeps SQL's comment end from closing the header, and never overwrites", async () => {
    const file = path.join(dir, "found", "a.scenario.ts");
    await writeScenarioFile(file, ["SELECT 1 /* hint */ FROM users"], { name: "a" });
    const text = await readFile(file, "utf8");
    expect(text.startsWith("/**\n * SELECT 1 /* hint * / FROM users\n */\n")).toBe(true);
    expect(text).toContain('export default defineScenario({\n  "name": "a"\n});');
    await expect(writeScenarioFile(file, [], { name: "b" })).rejects.toThrow(/EEXIST/);
    expect(freeScenarioPath(file)).toBe(path.join(dir, "found", "a-2.scenario.ts"));
    await writeFile(path.join(dir, "found", "a-2.scenario.ts"), "");
    expect(freeScenarioPath(file)).toBe(path.join(dir, "found", "a-3.scenario.ts"));
    expect(freeScenarioPath(path.join(dir, "new.ts"))).toBe(path.join(dir, "new.ts"));
  });
});
