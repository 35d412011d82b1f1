/** The service under test as a process: build, start, readiness, output, stop. */

export { runBuild } from "./build.ts";
export {
  bundledServices,
  type ConfiguredService,
  type ResolvedService,
  resolveService,
} from "./bundled.ts";
export {
  type ServiceEnv,
  type ServiceEnvContext,
  type ServiceSpec,
  StartedService,
  type StartServiceOptions,
  startService,
} from "./process.ts";
