import { describe, expect, it } from "vitest";
import { resolveService } from "./bundled.ts";

describe("resolveService", () => {
  it("builds a bundled service into one file and removes it on dispose", async () => {
    const resolved = await resolveService("payments:broken");
    try {
      expect(resolved.spec.label).toBe("payments:broken");
      expect(resolved.spec.env).toEqual({ PAYMENTS_VARIANT: "broken" });
      expect(resolved.spec.command).toMatch(/service\.mjs"$/);
    } finally {
      await resolved.dispose();
    }
    const { existsSync } = await import("node:fs");
    const file = JSON.parse(resolved.spec.command.split(" ").at(-1) as string) as string;
    expect(existsSync(file)).toBe(false);
  });

  it("defaults to payments:fixed and treats anything else as a command line", async () => {
    const fixed = await resolveService(undefined);
    await fixed.dispose();
    expect(fixed.spec.label).toBe("payments:fixed");
    const own = await resolveService("PORT_HINT=1 ./my-service --flag");
    expect(own.spec).toEqual({
      label: "PORT_HINT=1 ./my-service --flag",
      command: "PORT_HINT=1 ./my-service --flag",
    });
  });

  it("keeps a config's restart for a bundled service the config names", async () => {
    const configured = {
      command: "payments:fixed",
      cwd: "/",
      env: () => ({}),
      ready: { path: "/healthz" },
      build: undefined,
      restart: "perRun" as const,
    };
    const perRun = await resolveService(undefined, configured);
    await perRun.dispose();
    expect(perRun.spec.restart).toBe("perRun");
    const perScenario = await resolveService(undefined, { ...configured, restart: "perScenario" });
    await perScenario.dispose();
    expect(perScenario.spec.restart).toBeUndefined();
  });
});
