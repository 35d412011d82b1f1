import type { RunSummary, ScenarioResult } from "../scenario/index.ts";

/** What a reporter is told when a run starts. */
export interface RunStartInfo {
  scenarios: number;
  service: string;
  postgres: string;
  seed: number | undefined;
}

/** A reporter: an object of optional async hooks, like vitest's. */
export interface Reporter {
  onRunStart?(info: RunStartInfo): void | Promise<void>;
  onScenarioResult?(result: ScenarioResult): void | Promise<void>;
  onRunEnd?(summary: RunSummary): void | Promise<void>;
}
