import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { faultlineVersion } from "../lifecycle/index.ts";
import type { RunSummary } from "../scenario/index.ts";
import type { Reporter } from "./reporter.ts";

/** The JSON report's shape, versioned so scripts can rely on it. */
export function toJsonReport(summary: RunSummary): object {
  return {
    faultline: 1,
    command: "run",
    versions: { faultline: faultlineVersion(), node: process.version },
    seed: summary.seed,
    concurrency: summary.concurrency,
    exitCode: summary.exitCode,
    setupMs: summary.setupMs,
    totalMs: summary.totalMs,
    passed: summary.results.filter((r) => r.verdict === "pass").length,
    failed: summary.results.filter((r) => r.verdict === "fail").length,
    errored: summary.results.filter((r) => r.verdict === "error").length,
    scenarios: summary.results,
  };
}

/** Writes the whole run as JSON to `file` when the run ends. */
export function jsonReporter(file: string): Reporter {
  return {
    async onRunEnd(summary) {
      await mkdir(path.dirname(path.resolve(file)), { recursive: true });
      await writeFile(file, `${JSON.stringify(toJsonReport(summary), null, 2)}\n`);
    },
  };
}
