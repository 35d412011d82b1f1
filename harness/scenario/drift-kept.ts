import { ServiceFailedError } from "../errors.ts";
import {
  describeDrift,
  diffSchemaShapes,
  readSchemaShape,
  type ScenarioDatabase,
  type SchemaShape,
} from "../postgres/index.ts";
import type { Scenario } from "./schema.ts";

/**
 * The schema drift left, to hold the service to it. A service that migrates itself at start
 * (or on a timer) puts a dropped column back; judged anyway, the run would label a verdict
 * "no users.credits_balance" about a database that has it. Only taken when there is drift.
 */
export async function driftSnapshot(
  scenario: Scenario,
  db: ScenarioDatabase,
): Promise<SchemaShape | undefined> {
  if (scenario.drift.length === 0) return undefined;
  return readSchemaShape((sql) => db.query(sql));
}

/**
 * Throws (exit 3, the scenario errored) when the schema is no longer what drift left. `when`
 * says at which step ("after the service started", "at the end of the scenario").
 */
export async function assertDriftKept(
  scenario: Scenario,
  db: ScenarioDatabase,
  snapshot: SchemaShape | undefined,
  when: string,
  serviceOutput: string[],
): Promise<void> {
  if (!snapshot) return;
  const changes = diffSchemaShapes(snapshot, await readSchemaShape((sql) => db.query(sql)));
  if (changes.length === 0) return;
  const drift = scenario.drift.map(describeDrift).join(", ");
  const shown =
    changes.slice(0, 5).join("; ") + (changes.length > 5 ? `; … ${changes.length - 5} more` : "");
  throw new ServiceFailedError(
    `${shown} ${when}, though the drift (${drift}) left it otherwise: the service migrates itself (or changes its schema as it runs), so the scenario would be judged on a database without its drift. Disable that for the test (e.g. the service's own setting to skip migrations at start)`,
    serviceOutput.slice(-10),
  );
}
