import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesTagged, startCli } from "./cli.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "faultline-interrupt-"));
  await chmod(root, 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function interruptAt(
  when: "early" | "postgres" | "service" | "delivering",
  signal: NodeJS.Signals,
) {
  const tmp = await mkdtemp(path.join(root, `${when}-`));
  await chmod(tmp, 0o755);
  const tag = `${when}-${process.pid}-${Date.now()}`;
  const { child, done, output } = startCli(["run", "scenarios", "--service", "payments:broken"], {
    FAULTLINE_TMPDIR: tmp,
    FAULTLINE_TEST_TAG: tag,
  });
  // Wait for the moment named, seen from outside as a user would see it.
  const deadline = Date.now() + 30_000;
  const ready = () => {
    const tagged = processesTagged("FAULTLINE_TEST_TAG", tag).length;
    if (when === "early") return true;
    if (when === "postgres") return tagged >= 3;
    if (when === "service") return /scenario\(s\).* against/.test(output());
    return output().includes("FAIL  credits-balance-missing");
  };
  while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill(signal);
  const run = await done;
  return { run, tag, tmp };
}

describe("Ctrl-C and SIGTERM", () => {
  for (const [when, signal] of [
    ["early", "SIGINT"],
    ["postgres", "SIGINT"],
    ["service", "SIGINT"],
    ["delivering", "SIGTERM"],
  ] as const) {
    it(`${signal} while ${when} leaves no process and no temp dir behind`, async () => {
      const { run, tag, tmp } = await interruptAt(when, signal);
      const expected = signal === "SIGINT" ? 130 : 143;
      // Before faultline's handler is installed the default action kills Node, with nothing started yet.
      if (when === "early" && run.signal === signal) expect(run.code).toBeNull();
      else expect(run.code, run.stderr).toBe(expected);
      expect(processesTagged("FAULTLINE_TEST_TAG", tag)).toEqual([]);
      expect(await readdir(tmp)).toEqual([]);
    });
  }
});
