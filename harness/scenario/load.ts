import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { BadScenarioError, ScenarioNotFoundError } from "../errors.ts";
import { seededRandom } from "../random/index.ts";
import {
  fixtureNames,
  loadFixture,
  loadRecordedFixtures,
  type RecordedFixture,
  templateVariables,
  webhookProviders,
} from "../webhooks/index.ts";
import { importModule } from "./compile.ts";
import { invariants } from "./invariants/index.ts";
import { formatIssues, type LoadedScenario, type Scenario, scenarioSchema } from "./schema.ts";

export type { LoadedScenario } from "./schema.ts";

const SCENARIO_SUFFIX = ".scenario.ts";

/** A scenario file as messages show it: relative to the current folder when inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(full)));
    else if (entry.name.endsWith(SCENARIO_SUFFIX)) files.push(full);
  }
  return files;
}

const GLOB_CHARS = /[*?[\]{}]/;

/**
 * Expand files, folders and glob patterns into scenario files; no argument means `scenarios/`
 * in `cwd`. A target that matches nothing is an error: a run must never pass on nothing.
 */
export async function findScenarioFiles(args: string[], cwd = process.cwd()): Promise<string[]> {
  const targets = args.length ? args : ["scenarios"];
  const files: string[] = [];
  for (const target of targets) {
    if (GLOB_CHARS.test(target)) {
      const { glob } = await import("tinyglobby");
      const found = (
        await glob(target, { cwd, absolute: true, ignore: ["**/node_modules/**"] })
      ).sort();
      const scenarios = found.filter((f) => f.endsWith(SCENARIO_SUFFIX));
      if (scenarios.length === 0)
        throw new ScenarioNotFoundError(
          `${target}: the pattern matches no *${SCENARIO_SUFFIX} file${found.length ? ` (it matches ${found.length} other file(s))` : ""}`,
        );
      files.push(...scenarios);
      continue;
    }
    const full = path.resolve(cwd, target);
    const info = await stat(full).catch(() => undefined);
    if (!info)
      throw new ScenarioNotFoundError(
        `${target}: no such file or folder${args.length ? "" : ` (looked for ${full}; pass scenario files or folders)`}`,
      );
    if (info.isDirectory()) {
      const found = await walk(full);
      if (found.length === 0)
        throw new ScenarioNotFoundError(`${target}: folder holds no *${SCENARIO_SUFFIX} files`);
      files.push(...found);
    } else {
      files.push(full);
    }
  }
  return [...new Set(files)];
}

/** Import a scenario file and validate everything about it that can be checked before a run. */
export async function loadScenario(file: string): Promise<LoadedScenario> {
  const shown = displayPath(file);
  let module: { default?: unknown };
  try {
    module = await importModule(file);
  } catch (error) {
    throw new BadScenarioError(shown, `cannot be loaded: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (module.default === undefined) {
    throw new BadScenarioError(
      shown,
      "has no default export (expected `export default defineScenario({...})`)",
    );
  }
  return { file, scenario: await validateScenario(module.default, shown) };
}

/**
 * Validate a scenario value (a file's default export, or a value handed to `runScenario`):
 * everything that can be checked before a run. `shown` names it in errors.
 */
export async function validateScenario(value: unknown, shown: string): Promise<Scenario> {
  const parsed = scenarioSchema.safeParse(value);
  if (!parsed.success) throw new BadScenarioError(shown, formatIssues(parsed.error.issues));
  const scenario = parsed.data;
  await checkWebhooks(shown, scenario);
  const specs = scenario.invariants.map((spec, i) => ({ spec, where: `invariants[${i}]` }));
  for (const [axis, values] of Object.entries(scenario.matrix ?? {}))
    for (const [v, value] of (values as unknown[]).entries())
      for (const [i, spec] of (
        (value as { invariants?: typeof scenario.invariants }).invariants ?? []
      ).entries())
        specs.push({ spec, where: `matrix.${axis}[${v}].invariants[${i}]` });
  for (const { spec, where } of specs) {
    if (!invariants.has(spec.invariant))
      throw new BadScenarioError(
        shown,
        `field "${where}.invariant": unknown invariant ${spec.invariant}`,
      );
  }
  return scenario;
}

/** A recorded fixture pair by its path without extension, relative to `baseDir`. */
export async function findRecorded(baseDir: string, ref: string): Promise<RecordedFixture> {
  const full = path.resolve(baseDir, ref.replace(/\.(body|json)$/, ""));
  const fixtures = await loadRecordedFixtures(path.dirname(full));
  const found = fixtures.find((f) => f.name === path.basename(full));
  if (!found)
    throw new Error(
      `no recorded fixture ${full}.body / .json (that folder has: ${fixtures.map((f) => f.name).join(", ") || "none"})`,
    );
  return found;
}

// Fixtures and their variables are checked now, so a typo fails before Postgres starts.
async function checkWebhooks(shown: string, scenario: Scenario): Promise<void> {
  const steps = scenario.webhooks.flatMap((step, index) =>
    step.batch
      ? step.batch.map((inner, i) => ({ step: inner, where: `webhooks[${index}].batch[${i}]` }))
      : [{ step, where: `webhooks[${index}]` }],
  );
  for (const { step, where } of steps) {
    if (step.recorded !== undefined) {
      await findRecorded(path.dirname(path.resolve(shown)), step.recorded).catch((error: Error) => {
        throw new BadScenarioError(shown, `field "${where}.recorded": ${error.message}`);
      });
      continue;
    }
    if (step.fixture === undefined) continue;
    const providerName = step.provider ?? "stripe";
    const provider = webhookProviders[providerName];
    if (!provider) {
      throw new BadScenarioError(
        shown,
        `field "${where}.provider": unknown provider ${JSON.stringify(providerName)} (known: ${Object.keys(webhookProviders).join(", ")})`,
      );
    }
    let template: unknown;
    try {
      template = await loadFixture(providerName, step.fixture);
    } catch (error) {
      const known = await fixtureNames(providerName);
      const why = known.includes(step.fixture)
        ? (error as Error).message
        : `${JSON.stringify(step.fixture)} is not a recorded ${providerName} webhook (known: ${known.join(", ")})`;
      throw new BadScenarioError(shown, `field "${where}.fixture": ${why}`, { cause: error });
    }
    const variables = new Set(templateVariables(template));
    for (const key of Object.keys(step.with ?? {})) {
      if (!variables.has(key)) {
        throw new BadScenarioError(
          shown,
          `field "${where}.with.${key}": fixture ${providerName}/${step.fixture} has no variable ${key} (it has: ${[...variables].join(", ")})${ownIdHint(step.fixture, key, variables)}`,
        );
      }
    }
    // Every variable needs a value: from `with`, or generated by the provider.
    const generated = provider.defaults(step.fixture, seededRandom(0), 0);
    const missing = [...variables].filter((v) => !(v in generated) && !(v in (step.with ?? {})));
    if (missing.length) {
      throw new BadScenarioError(
        shown,
        `field "${where}.with": fixture ${providerName}/${step.fixture} needs a value for ${missing.map((m) => `{{${m}}}`).join(", ")} (the provider generates no default for it)`,
      );
    }
  }
}

// `with: { subscription }` on customer.subscription.updated means the event's own object.
function ownIdHint(fixture: string, key: string, variables: Set<string>): string {
  const objectType = fixture.split(".").slice(0, -1).at(-1);
  return key === objectType && variables.has("object_id")
    ? `; the ${key}'s own id is object_id`
    : "";
}
