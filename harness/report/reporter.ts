import type { RunStartInfo, RunSummary, ScenarioResult } from "../scenario/index.ts";

export type { RunStartInfo };

/** A reporter: an object of optional async hooks, like vitest's. */
export interface Reporter {
  onRunStart?(info: RunStartInfo): void | Promise<void>;
  onScenarioResult?(result: ScenarioResult): void | Promise<void>;
  onRunEnd?(summary: RunSummary): void | Promise<void>;
}
