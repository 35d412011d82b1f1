/**
 * `faultline/vitest`: importing it adds faultline's matchers to vitest's `expect` and their
 * types to vitest's `Assertion`, so `expect(await runScenario(…)).toHaveNoCascade()` reads and
 * type-checks like any other assertion. vitest is an optional peer: only this entry needs it.
 */
// The side-effect import stays in the emitted .d.ts (the named one does not, being a value), and
// a user's tsc applies the augmentation below only where the declaration file imports vitest.
import "vitest";
import { expect } from "vitest";
import { type FaultlineMatchers, faultlineMatchers } from "./matchers.ts";

expect.extend(faultlineMatchers);

export {
  type RunScenarioOptions,
  runScenario,
  type ScenarioRun,
  type ServiceOption,
  stopEnvironments,
} from "../suite/index.ts";
export {
  type FaultlineMatchers,
  faultlineMatchers,
  toHaveNoCascade,
  toPassInvariant,
} from "./matchers.ts";

declare module "vitest" {
  // biome-ignore lint/suspicious/noExplicitAny: must repeat vitest's own declaration exactly.
  interface Assertion<T = any> extends FaultlineMatchers<T> {}
}
